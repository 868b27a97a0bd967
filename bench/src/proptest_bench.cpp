// The property-test harness's speed (issue 7): the linearizability checker on a small history
// and on a long per-key one, and how many supervised parallel cases run per second under fork
// and spawn. Its own binary, proptest_bench: it links ipcheck::proptest, whose runtime has its
// MP_HOOK points live, which must not share a program with the plain ipcheck::mp.
#include <benchmark/benchmark.h>

#include <random>

#include "ipcheck/proptest/runner.h"
#include "mp/models/dict.h"
#include "mp/models/lock.h"
#include "mp/process.h"
#include "mp/synchronize.h"

namespace {

namespace m = mp::models;
namespace pt = ipcheck::proptest;
using K = m::LockOpKind;

struct LockSut {
  mp::Lock lock;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock);
  }
  m::Reply<> run(pt::ProcessId, const m::LockOp& op) {
    switch (op.kind) {
      case K::kAcquire:
        (void)lock.acquire();
        return {};
      case K::kRelease:
        lock.release();
        return {};
      default:
        return {lock.locked() ? m::Status::kOk : m::Status::kFalse};
    }
  }
};

// Two processes of five operations each: acquire, release, acquire, release, locked.
pt::Program<m::LockOp> two_by_five() {
  const std::vector<m::LockOp> branch = {
      {K::kAcquire}, {K::kRelease}, {K::kAcquire}, {K::kRelease}, {K::kLocked}};
  pt::Program<m::LockOp> program;
  program.branches = {branch, branch};
  return program;
}

// The checker on a real history of 2 processes x 5 operations (recorded once, under fork with
// schedule noise, so that operations overlap).
void BM_Proptest_Check2x5(benchmark::State& state) {
  pt::RunOptions options;
  options.schedule.seed = 0x2b5;
  const auto outcome = pt::run_program<m::Lock>([] { return LockSut{}; }, two_by_five(), options);
  if (!outcome.failure.empty() || outcome.history.size() != 10) {
    state.SkipWithError(("recording failed: " + outcome.failure).c_str());
    return;
  }
  for (auto _ : state) {
    auto result = pt::check_linearizable(m::Lock{}, outcome.history);
    if (result.verdict != pt::Verdict::kLinearizable) state.SkipWithError("not linearizable");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_Proptest_Check2x5)->UseRealTime()->Unit(benchmark::kMicrosecond);

// 10,000 operations of 4 processes on a dict of 100 keys, each overlapping its neighbours;
// linearizable by construction (results computed in invocation order). Checked per key.
void BM_Proptest_CheckDict10kOps100Keys(benchmark::State& state) {
  using Dict = m::Dict<std::int64_t, std::int64_t>;
  std::mt19937_64 random(7);
  Dict model;
  pt::History<Dict> history;
  for (int i = 0; i < 10'000; ++i) {
    m::DictOp<std::int64_t, std::int64_t> op;
    op.kind = static_cast<m::DictOpKind>(random() % 6);
    if (op.kind == m::DictOpKind::kLen) op.kind = m::DictOpKind::kAdd;  // len spans every key
    op.key = static_cast<std::int64_t>(random() % 100);
    op.value = static_cast<std::int64_t>(random() % 10);
    m::Reply<std::int64_t> result;
    for (const auto& candidate : model.possible_results(0, op)) {
      Dict copy = model;
      if (copy.step(i % 4, op, candidate)) {
        result = candidate;
        model = copy;
        break;
      }
    }
    pt::Operation<Dict::Op, Dict::Result> entry;
    entry.process = i % 4;
    entry.op = op;
    entry.result = result;
    entry.invoked_ns = 10 * i;
    entry.completed_ns = 10 * i + 35;
    history.push_back(entry);
  }
  for (auto _ : state) {
    auto result = pt::check_linearizable(Dict{}, history);
    if (result.verdict != pt::Verdict::kLinearizable) state.SkipWithError("not linearizable");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_Proptest_CheckDict10kOps100Keys)->UseRealTime()->Unit(benchmark::kMillisecond);

// Whole parallel cases, each supervised: start the case process, the branches (2, of 4
// operations), record, check. items_per_second = cases per second.
void parallel_cases(benchmark::State& state, pt::StartMode mode) {
  pt::Program<m::LockOp> program;
  const std::vector<m::LockOp> branch = {
      {K::kAcquire}, {K::kRelease}, {K::kAcquire}, {K::kRelease}};
  program.branches = {branch, branch};
  pt::RunOptions options;
  options.mode = mode;
  options.schedule.seed = 0xca5e;
  for (auto _ : state) {
    auto report = pt::check_program(
        "bench", m::Lock{}, [] { return LockSut{}; }, program, options);
    if (!report.passed) state.SkipWithError(report.text.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_Proptest_ParallelCasesFork(benchmark::State& state) {
  parallel_cases(state, pt::StartMode::kFork);
}
void BM_Proptest_ParallelCasesSpawn(benchmark::State& state) {
  parallel_cases(state, pt::StartMode::kSpawn);
}
BENCHMARK(BM_Proptest_ParallelCasesFork)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Proptest_ParallelCasesSpawn)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);  // a spawned branch runs here and never returns
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
