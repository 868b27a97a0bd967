// mp::Barrier against mp::models::Barrier: wait() is two operations (arrive, leave) spanning
// the call, so the check requires every wait of a pass to overlap the last arrival, and the
// indexes of a pass to differ. Under fork, thread and spawn with schedule noise.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/errors.h"
#include "mp/models/barrier.h"
#include "mp/synchronize.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using m::BarrierOp;
using B = m::BarrierOpKind;

struct BarrierSut {
  mp::Barrier barrier;
  std::optional<double> timeout;  // of every wait (seconds); none: wait for good

  static std::optional<BarrierOp> second_phase(const BarrierOp& op) {
    if (op.kind == B::kArrive) return BarrierOp{B::kLeave};
    return std::nullopt;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(barrier, timeout);
  }

  m::Reply<> run(ProcessId, const BarrierOp& op) {
    switch (op.kind) {
      case B::kArrive:
      case B::kLeave:
        try {
          return m::ok<std::int64_t>(static_cast<std::int64_t>(barrier.wait(timeout)));
        } catch (const mp::BrokenBarrierError&) {
          return {m::Status::kBroken};
        }
      case B::kAbort:
        barrier.abort();
        return {};
      case B::kReset:
        barrier.reset();
        return {};
      case B::kNWaiting:
        return m::ok<std::int64_t>(static_cast<std::int64_t>(barrier.n_waiting()));
      case B::kBroken:
        return {barrier.broken() ? m::Status::kOk : m::Status::kFalse};
    }
    return {m::Status::kValueError};
  }
};

RC_GTEST_PROP(BarrierProps, SequentialModelAgreesWithBarrier, ()) {
  // One process: a barrier of one party passes at once; of two, a wait would block (the
  // model says so and the command is skipped) — queries, abort and reset still run.
  const int parties = *rc::gen::inRange(1, 3);
  rc_check_sequential(
      m::Barrier(parties), [=] { return BarrierSut{mp::Barrier(parties), std::nullopt}; },
      rc::gen::map(rc::gen::element(B::kArrive, B::kAbort, B::kReset, B::kNWaiting, B::kBroken),
                   [](B kind) { return BarrierOp{kind}; }));
}

// Every branch waits the same number of times (or some would wait for good), with queries
// in between; the barrier has one party per branch.
rc::Gen<Program<BarrierOp>> gen_barrier_program() {
  return rc::gen::mapcat(
      rc::gen::pair(rc::gen::inRange(2, 5), rc::gen::inRange(1, 4)), [](std::pair<int, int> shape) {
        const auto [branches, passes] = shape;
        auto query = rc::gen::map(rc::gen::element(B::kNWaiting, B::kBroken),
                                  [](B kind) { return BarrierOp{kind}; });
        auto few_queries = rc::gen::mapcat(rc::gen::inRange(0, 2), [query](int n) {
          return rc::gen::container<std::vector<BarrierOp>>(n, query);
        });
        auto branch = rc::gen::map(
            rc::gen::container<std::vector<std::vector<BarrierOp>>>(passes, few_queries),
            [](const std::vector<std::vector<BarrierOp>>& gaps) {
              std::vector<BarrierOp> ops;
              for (const auto& gap : gaps) {
                ops.insert(ops.end(), gap.begin(), gap.end());
                ops.push_back({B::kArrive});
              }
              return ops;
            });
        return rc::gen::build<Program<BarrierOp>>(
            rc::gen::set(&Program<BarrierOp>::branches,
                         rc::gen::container<std::vector<std::vector<BarrierOp>>>(branches, branch)),
            rc::gen::set(&Program<BarrierOp>::suffix, few_queries));
      });
}

RC_GTEST_PROP(BarrierProps, BarrierIsLinearizable, ()) {
  const auto program = *gen_barrier_program();
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kThread, StartMode::kSpawn, StartMode::kForkserver});
  const int parties = static_cast<int>(program.branches.size());
  rc_check_program(
      "BarrierProps.BarrierIsLinearizable", m::Barrier(parties),
      [=] { return BarrierSut{mp::Barrier(parties), std::nullopt}; }, program, options);
}

// A party killed at a random point: the others cannot pass without it, and learn it from
// their wait's timeout, which breaks the barrier (BrokenBarrierError for everyone) — never a
// hang; passes completed before the kill stay completed.
RC_GTEST_PROP(BarrierProps, SurvivesAKilledParty, ()) {
  const auto program = *gen_barrier_program();
  const auto options =
      *gen_run_options({StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver},
                       {"barrier.wait.after_arrive", "proptest.op.before", "proptest.op.gap", ""},
                       /*kill_percent=*/100);
  const int parties = static_cast<int>(program.branches.size());
  rc_check_program(
      "BarrierProps.SurvivesAKilledParty", m::Barrier(parties, /*timed_waits=*/true),
      [=] {
        return BarrierSut{mp::Barrier(parties), 0.05};
      },
      program, options);
}

}  // namespace
}  // namespace ipcheck::proptest
