// mp::Process start + join of a target that returns at once, under fork, spawn and
// forkserver.
// Compare: BM_Fork_Wait and BM_PosixSpawn_Wait (os_process_bench.cpp).
#include <benchmark/benchmark.h>

#include "mp/process.h"

namespace {

void return_at_once() {}

template <class Context>
void start_join(benchmark::State& state, Context context) {
  for (auto _ : state) {
    mp::Process process = context.Process(return_at_once);
    process.start();
    process.join();
    if (process.exitcode() != 0) {
      state.SkipWithError("the child did not exit with 0");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_MpProcess_StartJoinFork(benchmark::State& state) {
  start_join(state, mp::get_context(mp::kFork));
}
BENCHMARK(BM_MpProcess_StartJoinFork)->UseRealTime();

// The child is a fresh image of this binary: bench_main.cpp calls mp::init first.
void BM_MpProcess_StartJoinSpawn(benchmark::State& state) {
  start_join(state, mp::get_context(mp::kSpawn));
}
BENCHMARK(BM_MpProcess_StartJoinSpawn)->UseRealTime();

// The server is started before the timing, as Python's warm-up start does for its own.
void BM_MpProcess_StartJoinForkserver(benchmark::State& state) {
  mp::ensure_forkserver_running();
  start_join(state, mp::get_context(mp::kForkserver));
}
BENCHMARK(BM_MpProcess_StartJoinForkserver)->UseRealTime();

}  // namespace
