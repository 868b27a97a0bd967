// mp::Condition (on an mp::Lock) against mp::models::Condition: sequentially in one process,
// and concurrently under fork, thread and spawn with schedule noise; under fork and spawn
// also with a process killed at a random hook point (its lock taken over with OwnerDied, a
// killed waiter's wake-up possibly left to a later one: the model allows that spurious
// wake-up only in the tests with kills).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <stdexcept>

#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/condition.h"
#include "mp/errors.h"
#include "mp/models/condition.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using m::ConditionOp;
using C = m::ConditionOpKind;

// How long a generated wait() waits for a notify before it times out (seconds): every
// program ends even when nobody notifies.
constexpr double kWaitTimeout = 0.005;

struct ConditionSut {
  mp::Condition cond{mp::Lock()};

  // wait() releases the lock and takes it again: recorded as wait<begin> and wait<end>.
  static std::optional<ConditionOp> second_phase(const ConditionOp& op) {
    if (op.kind == C::kWaitBegin) return ConditionOp{C::kWaitEnd};
    return std::nullopt;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(cond);
  }

  m::Reply<> run(ProcessId, const ConditionOp& op) {
    try {
      switch (op.kind) {
        case C::kAcquire:
          (void)cond.acquire();
          return {};
        case C::kRelease:
          cond.release();
          return {};
        case C::kWaitBegin:
        case C::kWaitEnd:
          return {cond.wait(kWaitTimeout) ? m::Status::kOk : m::Status::kFalse};
        case C::kNotify:
          cond.notify(static_cast<int>(op.n));
          return {};
        case C::kNotifyAll:
          cond.notify_all();
          return {};
        case C::kMarkConsistent:
          cond.mark_consistent();
          return {};
      }
    } catch (const mp::OwnerDied&) {
      return {m::Status::kOwnerDied};  // the caller holds the lock now
    } catch (const std::logic_error&) {
      return {m::Status::kValueError};
    }
    return {m::Status::kValueError};
  }
};

rc::Gen<ConditionOp> gen_condition_op() {
  return rc::gen::apply(
      [](C kind, int n) {
        return ConditionOp{kind, n};
      },
      rc::gen::element(C::kAcquire, C::kRelease, C::kWaitBegin, C::kNotify, C::kNotifyAll,
                       C::kMarkConsistent),
      rc::gen::inRange(0, 3));
}

// Blocks that take the lock, act while holding it, and give it back: no process waits for
// good (every wait has a timeout), and a notify always finds the lock held.
rc::Gen<std::vector<ConditionOp>> gen_condition_block() {
  auto holding = [](std::vector<ConditionOp> inner) {
    inner.insert(inner.begin(), ConditionOp{C::kAcquire});
    inner.push_back({C::kRelease});
    return inner;
  };
  return rc::gen::elementOf(std::vector<std::vector<ConditionOp>>{
      holding({{C::kWaitBegin}}),
      holding({{C::kNotify, 1}}),
      holding({{C::kNotify, 2}}),
      holding({{C::kNotifyAll}}),
      holding({{C::kWaitBegin}, {C::kNotify, 1}}),
      holding({{C::kMarkConsistent}, {C::kNotifyAll}}),
  });
}

const std::vector<std::string> kKillPoints = {"condition.wait.after_release",
                                              "condition.wait.before_sleep",
                                              "condition.wait.after_token",
                                              "condition.notify.after_tokens",
                                              "lock.acquire.after_cas",
                                              "proptest.op.gap",
                                              ""};

RC_GTEST_PROP(ConditionProps, SequentialModelAgreesWithCondition, ()) {
  rc_check_sequential(
      m::Condition(/*allow_spurious_wakeups=*/false), [] { return ConditionSut{}; },
      gen_condition_op());
}

// On an RLock (Python's default): the blocks never re-enter, so the same model applies.
RC_GTEST_PROP(ConditionProps, SequentialModelAgreesWithConditionOnAnRLock, ()) {
  rc_check_sequential(
      m::Condition(/*allow_spurious_wakeups=*/false),
      [] { return ConditionSut{mp::Condition(mp::RLock())}; },
      rc::gen::suchThat(gen_condition_op(), [](const ConditionOp& op) {
        return op.kind != C::kRelease;  // by a non-holder: ValueError for an RLock, not a Lock
      }));
}

RC_GTEST_PROP(ConditionProps, ConditionOnAnRLockIsLinearizable, ()) {
  const auto program = *gen_program(gen_condition_block());
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kThread, StartMode::kSpawn, StartMode::kForkserver},
      kKillPoints, /*kill_percent=*/30);
  rc_check_program(
      "ConditionProps.ConditionOnAnRLockIsLinearizable",
      m::Condition(/*allow_spurious_wakeups=*/options.fault.active()),
      [] { return ConditionSut{mp::Condition(mp::RLock())}; }, program, options);
}

RC_GTEST_PROP(ConditionProps, ConditionIsLinearizable, ()) {
  const auto program = *gen_program(gen_condition_block());
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kThread, StartMode::kSpawn, StartMode::kForkserver});
  rc_check_program(
      "ConditionProps.ConditionIsLinearizable", m::Condition(/*allow_spurious_wakeups=*/false),
      [] { return ConditionSut{}; }, program, options);
}

// Every case kills one process at a hook point: survivors take the lock over with OwnerDied
// (never a hang), what completed stays done, and nothing is left behind.
RC_GTEST_PROP(ConditionProps, SurvivesAKilledProcess, ()) {
  const auto program = *gen_program(gen_condition_block());
  const auto options =
      *gen_run_options({StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kKillPoints,
                       /*kill_percent=*/100);
  rc_check_program(
      "ConditionProps.SurvivesAKilledProcess", m::Condition(/*allow_spurious_wakeups=*/true),
      [] { return ConditionSut{}; }, program, options);
}

}  // namespace
}  // namespace ipcheck::proptest
