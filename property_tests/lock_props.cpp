// mp::Lock and mp::RLock against mp::models::Lock / RLock: sequentially in one process, and
// concurrently under fork, thread and spawn, with schedule noise at the runtime's hook
// points and, under fork and spawn, holders killed at chosen points (the next blocking
// acquire must report OwnerDied, never hang).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <stdexcept>

#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/errors.h"
#include "mp/models/lock.h"
#include "mp/synchronize.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using m::LockOp;
using K = m::LockOpKind;

// The same system under test for both locks. `held` is what each process knows it holds
// (per process: a forked or spawned process has its own copy, a thread its own slot).
template <class L>
struct LockSut {
  L lock;
  std::array<int, 8> held{};

  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock);
  }

  m::Reply<> run(ProcessId p, const LockOp& op) {
    try {
      switch (op.kind) {
        case K::kAcquire:
          (void)lock.acquire();
          ++held[p];
          return {};
        case K::kTryAcquire:
          if (!lock.acquire(false)) return {m::Status::kFalse};
          ++held[p];
          return {};
        case K::kRelease:
          lock.release();
          --held[p];
          return {};
        case K::kReleaseIfHeld:
          if (held[p] == 0) return {m::Status::kFalse};
          lock.release();
          --held[p];
          return {};
        case K::kLocked:
          return {lock.locked() ? m::Status::kOk : m::Status::kFalse};
        case K::kMarkConsistent:
          lock.mark_consistent();
          return {};
      }
    } catch (const mp::OwnerDied&) {
      ++held[p];  // the caller holds it now
      return {m::Status::kOwnerDied};
    } catch (const std::logic_error&) {
      return {m::Status::kValueError};
    }
    return {m::Status::kValueError};
  }
};

rc::Gen<LockOp> gen_lock_op() {
  return rc::gen::map(rc::gen::element(K::kAcquire, K::kTryAcquire, K::kRelease, K::kReleaseIfHeld,
                                       K::kLocked, K::kMarkConsistent),
                      [](K kind) { return LockOp{kind}; });
}

// Blocks that leave the lock as they found it, so that no process waits for good.
template <bool kRecursive>
rc::Gen<std::vector<LockOp>> gen_lock_block() {
  std::vector<std::vector<LockOp>> blocks = {{{K::kAcquire}, {K::kRelease}},
                                             {{K::kAcquire}, {K::kMarkConsistent}, {K::kRelease}},
                                             {{K::kTryAcquire}, {K::kReleaseIfHeld}},
                                             {{K::kLocked}}};
  if (kRecursive) blocks.push_back({{K::kAcquire}, {K::kAcquire}, {K::kRelease}, {K::kRelease}});
  return rc::gen::elementOf(blocks);
}

const std::vector<std::string> kKillPoints = {"lock.acquire.after_cas", "rlock.acquire.after_cas",
                                              "proptest.op.gap", "proptest.op.after", ""};

RC_GTEST_PROP(LockProps, SequentialModelAgreesWithLock, ()) {
  rc_check_sequential(
      m::Lock{}, [] { return LockSut<mp::Lock>{}; }, gen_lock_op());
}

RC_GTEST_PROP(LockProps, SequentialModelAgreesWithRLock, ()) {
  rc_check_sequential(
      m::RLock{}, [] { return LockSut<mp::RLock>{}; }, gen_lock_op());
}

RC_GTEST_PROP(LockProps, LockIsLinearizable, ()) {
  const auto program = *gen_program(gen_lock_block<false>());
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kThread, StartMode::kSpawn, StartMode::kForkserver},
      kKillPoints, /*kill_percent=*/10);
  rc_check_program(
      "LockProps.LockIsLinearizable", m::Lock{}, [] { return LockSut<mp::Lock>{}; }, program,
      options);
}

RC_GTEST_PROP(LockProps, RLockIsLinearizable, ()) {
  const auto program = *gen_program(gen_lock_block<true>());
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kThread, StartMode::kSpawn, StartMode::kForkserver},
      kKillPoints, /*kill_percent=*/10);
  rc_check_program(
      "LockProps.RLockIsLinearizable", m::RLock{}, [] { return LockSut<mp::RLock>{}; }, program,
      options);
}

// Every case kills one process at a hook point: a lock it held is taken over with OwnerDied
// by the next blocking acquire (the model says exactly when), nobody hangs, nothing leaks.
RC_GTEST_PROP(LockProps, LockSurvivesAKilledProcess, ()) {
  const auto program = *gen_program(gen_lock_block<false>());
  const auto options =
      *gen_run_options({StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kKillPoints,
                       /*kill_percent=*/100);
  rc_check_program(
      "LockProps.LockSurvivesAKilledProcess", m::Lock{}, [] { return LockSut<mp::Lock>{}; },
      program, options);
}

RC_GTEST_PROP(LockProps, RLockSurvivesAKilledProcess, ()) {
  const auto program = *gen_program(gen_lock_block<true>());
  const auto options =
      *gen_run_options({StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kKillPoints,
                       /*kill_percent=*/100);
  rc_check_program(
      "LockProps.RLockSurvivesAKilledProcess", m::RLock{}, [] { return LockSut<mp::RLock>{}; },
      program, options);
}

// A holder killed while it holds the lock: the suffix's acquire must take it over with
// OwnerDied (within the watchdog), and the history must say so.
TEST(LockProps, AKilledHolderGivesOwnerDiedNotAHang) {
  Program<LockOp> program;
  program.branches = {{{K::kAcquire}, {K::kRelease}}, {{K::kLocked}}};
  program.suffix = {
      {K::kAcquire}, {K::kMarkConsistent}, {K::kRelease}, {K::kAcquire}, {K::kRelease}};
  for (StartMode mode : {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}) {
    RunOptions options;
    options.mode = mode;
    options.fault.process = 1;
    std::strcpy(options.fault.point, "proptest.op.gap");
    options.fault.hit = 2;  // after acquire, before release
    RunOutcome<m::Lock> outcome =
        run_program<m::Lock>([] { return LockSut<mp::Lock>{}; }, program, options);
    ASSERT_EQ(outcome.failure, "") << to_string(mode);
    bool owner_died = false;
    for (const auto& entry : outcome.history) {
      owner_died |=
          entry.process == 0 && entry.result && entry.result->status == m::Status::kOwnerDied;
    }
    EXPECT_TRUE(owner_died) << to_string(mode);
    CaseReport report = check_program(
        "LockProps.AKilledHolder", m::Lock{}, [] { return LockSut<mp::Lock>{}; }, program, options);
    EXPECT_TRUE(report.passed) << report.text;
  }
}

}  // namespace
}  // namespace ipcheck::proptest
