// mp::Semaphore, mp::BoundedSemaphore and mp::Event against their models: sequentially in one
// process, concurrently under fork, thread and spawn with schedule noise, and under fork and
// spawn with a process killed at a random hook point.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <stdexcept>

#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/models/event.h"
#include "mp/models/semaphore.h"
#include "mp/synchronize.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using m::EventOp;
using m::SemaphoreOp;
using S = m::SemaphoreOpKind;
using E = m::EventOpKind;

const std::vector<StartMode> kAllModes = {StartMode::kFork, StartMode::kThread, StartMode::kSpawn,
                                          StartMode::kForkserver};

template <class Sem>
struct SemaphoreSut {
  Sem sem;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(sem);
  }

  m::Reply<> run(ProcessId, const SemaphoreOp& op) {
    switch (op.kind) {
      case S::kAcquire:
        return {sem.acquire() ? m::Status::kOk : m::Status::kFalse};
      case S::kTryAcquire:
        return {sem.acquire(false) ? m::Status::kOk : m::Status::kFalse};
      case S::kRelease:
        try {
          sem.release(static_cast<int>(op.n));
          return {};
        } catch (const std::invalid_argument&) {
          return {m::Status::kValueError};
        }
      case S::kGetValue:
        return m::ok<std::int64_t>(sem.get_value());
    }
    return {m::Status::kValueError};
  }
};

rc::Gen<SemaphoreOp> gen_semaphore_op() {
  return rc::gen::apply(
      [](S kind, int n) {
        return SemaphoreOp{kind, n};
      },
      rc::gen::element(S::kAcquire, S::kTryAcquire, S::kRelease, S::kGetValue),
      rc::gen::inRange(1, 3));
}

// Blocks that give back what they take, so that no acquire waits for good.
rc::Gen<std::vector<SemaphoreOp>> gen_semaphore_block(bool bounded) {
  std::vector<std::vector<SemaphoreOp>> blocks = {{{S::kAcquire}, {S::kRelease, 1}},
                                                  {{S::kGetValue}}};
  // Bounded: a lone release is a ValueError at the bound (and then an acquire after it
  // would take a unit nobody gives back); unbounded: give first, take back after.
  blocks.push_back(bounded ? std::vector<SemaphoreOp>{{S::kRelease, 1}}
                           : std::vector<SemaphoreOp>{{S::kRelease, 1}, {S::kAcquire}});
  return rc::gen::elementOf(blocks);
}

RC_GTEST_PROP(SemaphoreProps, SequentialModelAgreesWithSemaphore, ()) {
  const int initial = *rc::gen::inRange(0, 3);
  rc_check_sequential(
      m::Semaphore(initial), [=] { return SemaphoreSut<mp::Semaphore>{mp::Semaphore(initial)}; },
      gen_semaphore_op());
}

RC_GTEST_PROP(SemaphoreProps, SequentialModelAgreesWithBoundedSemaphore, ()) {
  const int initial = *rc::gen::inRange(0, 3);
  rc_check_sequential(
      m::BoundedSemaphore(initial),
      [=] { return SemaphoreSut<mp::BoundedSemaphore>{mp::BoundedSemaphore(initial)}; },
      gen_semaphore_op());
}

RC_GTEST_PROP(SemaphoreProps, SemaphoreIsLinearizable, ()) {
  const int initial = *rc::gen::inRange(1, 3);
  const auto program = *gen_program(gen_semaphore_block(false));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "SemaphoreProps.SemaphoreIsLinearizable", m::Semaphore(initial),
      [=] { return SemaphoreSut<mp::Semaphore>{mp::Semaphore(initial)}; }, program, options);
}

RC_GTEST_PROP(SemaphoreProps, BoundedSemaphoreIsLinearizable, ()) {
  const int initial = *rc::gen::inRange(1, 3);
  const auto program = *gen_program(gen_semaphore_block(true));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "SemaphoreProps.BoundedSemaphoreIsLinearizable", m::BoundedSemaphore(initial),
      [=] { return SemaphoreSut<mp::BoundedSemaphore>{mp::BoundedSemaphore(initial)}; }, program,
      options);
}

// A semaphore is not robust (nor is Python's): a unit taken by a process that dies is gone.
// So in the kill test each process gives a unit before it takes one, and no acquire can
// wait for a unit only the dead could have given back.
rc::Gen<std::vector<SemaphoreOp>> gen_semaphore_block_for_kills() {
  return rc::gen::elementOf(std::vector<std::vector<SemaphoreOp>>{
      {{S::kRelease, 1}, {S::kAcquire}}, {{S::kRelease, 1}, {S::kTryAcquire}}, {{S::kGetValue}}});
}

const std::vector<std::string> kSemaphoreKillPoints = {"semaphore.acquire.before_sleep",
                                                       "semaphore.release.after_add",
                                                       "proptest.op.gap", "proptest.op.after", ""};

// Every case kills one process: nobody hangs, and every unit given or taken by an operation
// that completed is accounted for (the suffix's get_value sees it).
RC_GTEST_PROP(SemaphoreProps, SurvivesAKilledProcess, ()) {
  const int initial = *rc::gen::inRange(0, 2);
  const auto program = *gen_program(gen_semaphore_block_for_kills());
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kSemaphoreKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "SemaphoreProps.SurvivesAKilledProcess", m::Semaphore(initial),
      [=] { return SemaphoreSut<mp::Semaphore>{mp::Semaphore(initial)}; }, program, options);
}

// A BoundedSemaphore under kills: no blocking acquire (a unit the dead took is gone, and
// a blocked acquire could wait for it for good), but try_acquire and release in any order,
// so that releases past the bound (ValueError) and units left taken by the dead are both
// checked against the model.
RC_GTEST_PROP(SemaphoreProps, BoundedSemaphoreSurvivesAKilledProcess, ()) {
  const int initial = *rc::gen::inRange(1, 3);
  const auto program = *gen_program(rc::gen::elementOf(std::vector<std::vector<SemaphoreOp>>{
      {{S::kTryAcquire}, {S::kRelease, 1}}, {{S::kRelease, 1}}, {{S::kGetValue}}}));
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kSemaphoreKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "SemaphoreProps.BoundedSemaphoreSurvivesAKilledProcess", m::BoundedSemaphore(initial),
      [=] { return SemaphoreSut<mp::BoundedSemaphore>{mp::BoundedSemaphore(initial)}; }, program,
      options);
}

struct EventSut {
  mp::Event event;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(event);
  }

  m::Reply<> run(ProcessId, const EventOp& op) {
    switch (op.kind) {
      case E::kSet:
        event.set();
        return {};
      case E::kClear:
        event.clear();
        return {};
      case E::kIsSet:
        return {event.is_set() ? m::Status::kOk : m::Status::kFalse};
      case E::kWait:
        return {event.wait() ? m::Status::kOk : m::Status::kFalse};
      case E::kTimedWait:
        return {event.wait(0.002) ? m::Status::kOk : m::Status::kFalse};
    }
    return {m::Status::kValueError};
  }
};

rc::Gen<EventOp> gen_event_op() {
  return rc::gen::map(rc::gen::element(E::kSet, E::kClear, E::kIsSet, E::kWait, E::kTimedWait),
                      [](E kind) { return EventOp{kind}; });
}

RC_GTEST_PROP(EventProps, SequentialModelAgreesWithEvent, ()) {
  rc_check_sequential(
      m::Event{}, [] { return EventSut{}; }, gen_event_op());
}

RC_GTEST_PROP(EventProps, EventIsLinearizable, ()) {
  // No untimed wait: nothing guarantees a set() after it.
  const auto ops =
      rc::gen::suchThat(gen_event_op(), [](const EventOp& op) { return op.kind != E::kWait; });
  const auto program = *gen_program(single(ops));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "EventProps.EventIsLinearizable", m::Event{}, [] { return EventSut{}; }, program, options);
}

// A waiter released by a set() from another process: the untimed wait must return.
RC_GTEST_PROP(EventProps, WaitReturnsOnceAnotherProcessSets, ()) {
  Program<EventOp> program;
  program.branches = {{{E::kWait}, {E::kIsSet}}, {{E::kSet}}};
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "EventProps.WaitReturnsOnceAnotherProcessSets", m::Event{}, [] { return EventSut{}; },
      program, options);
}

RC_GTEST_PROP(EventProps, SurvivesAKilledProcess, ()) {
  const auto ops =
      rc::gen::suchThat(gen_event_op(), [](const EventOp& op) { return op.kind != E::kWait; });
  const auto program = *gen_program(single(ops));
  const auto options =
      *gen_run_options({StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver},
                       {"event.set.after_store", "proptest.op.before", "proptest.op.after", ""},
                       /*kill_percent=*/100);
  rc_check_program(
      "EventProps.SurvivesAKilledProcess", m::Event{}, [] { return EventSut{}; }, program, options);
}

}  // namespace
}  // namespace ipcheck::proptest
