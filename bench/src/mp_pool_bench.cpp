// mp::Pool: map throughput of trivial tasks (chunksize 1 and the default) and start-up of a
// spawn pool to its first result. Compare: bench/python/pool.py (the same shapes).
#include <benchmark/benchmark.h>

#include <memory>
#include <numeric>
#include <vector>

#include "mp/pool.h"

namespace {

constexpr int kTasks = 100'000;

int identity(int x) { return x; }

std::vector<int> inputs() {
  std::vector<int> v(kTasks);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// Pool(2) under fork, as Python's figure; the pool is made once, as Python's is.
void map_tasks(benchmark::State& state, std::optional<std::size_t> chunksize) {
  mp::PoolOptions options;
  options.processes = 2;
  options.context = mp::get_context(mp::kFork);
  mp::Pool pool(options);
  const std::vector<int> items = inputs();
  (void)pool.map(identity, items, chunksize);  // warm-up
  for (auto _ : state) {
    std::vector<int> out = pool.map(identity, items, chunksize);
    if (out.size() != items.size() || out.back() != kTasks - 1) {
      state.SkipWithError("wrong result");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kTasks);
}

void BM_MpPool_Map100kChunksize1(benchmark::State& state) { map_tasks(state, 1); }
BENCHMARK(BM_MpPool_Map100kChunksize1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_MpPool_Map100kDefaultChunksize(benchmark::State& state) { map_tasks(state, std::nullopt); }
BENCHMARK(BM_MpPool_Map100kDefaultChunksize)->UseRealTime()->Unit(benchmark::kMillisecond);

// From Pool(2) under spawn to the first apply result; tearing the pool down is not timed.
// The workers are fresh images of this binary (bench_main.cpp calls mp::init first).
void BM_MpPool_StartSpawn2(benchmark::State& state) {
  mp::PoolOptions options;
  options.processes = 2;
  options.context = mp::get_context(mp::kSpawn);
  for (auto _ : state) {
    auto pool = std::make_unique<mp::Pool>(options);
    if (pool->apply(identity, 1) != 1) {
      state.SkipWithError("wrong result");
      break;
    }
    state.PauseTiming();
    pool.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MpPool_StartSpawn2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
