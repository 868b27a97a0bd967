// Managers: proxy calls from a child process to a SyncManager's server, and the start of a
// server under spawn. Compare: bench/python/manager.py (Python's Manager() side by side).
//
//   BM_MpManager_DictSetGet               a forked child alternates d.set(k, i) and d.get(k)
//                                         over 8 keys of a manager dict (items: calls)
//   BM_MpManager_ValueIncrementUnderLock  a forked child does lock.acquire(); v.set(v.get()
//                                         + 1); lock.release() with a manager Lock and Value
//                                         (items: increments, 4 round trips each)
//   BM_MpManager_StartSpawn               SyncManager::start() under spawn until its first
//                                         call (making a dict) has returned; shutdown is not
//                                         timed
//
// The child is bench::Partner's, forked once per benchmark: the parent's half of each batch
// does nothing, so the figure is the child's time for its batch. The child's proxies make
// their own connection on their first call (a forked child does), in an untimed warm-up.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "forked.h"
#include "mp/lock.h"
#include "mp/managers.h"
#include "mp/process.h"

namespace {

constexpr int kKeys = 8;
constexpr uint64_t kCalls = 2000;      // set + get calls per batch
constexpr uint64_t kIncrements = 500;  // locked increments per batch

void nothing(uint64_t) {}

void BM_MpManager_DictSetGet(benchmark::State& state) {
  mp::SyncManager manager = mp::Manager();
  auto d = manager.dict<std::string, long>();
  const std::string keys[kKeys] = {"a", "b", "c", "d", "e", "f", "g", "h"};
  bench::SharedPage<std::atomic<long>> wrong(0);
  auto work = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; i += 2) {
      const std::string& key = keys[(i / 2) % kKeys];
      d.set(key, static_cast<long>(i));
      if (d.get(key, -1) != static_cast<long>(i)) wrong->fetch_add(1);
    }
  };
  bench::Partner partner(work);
  partner.run(2 * kKeys, nothing);  // the child's connection
  for (auto _ : state) state.SetIterationTime(partner.run(kCalls, nothing));
  if (wrong->load() != 0) state.SkipWithError("a get did not see the set before it");
  state.SetItemsProcessed(kCalls * state.iterations());
}
BENCHMARK(BM_MpManager_DictSetGet)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_MpManager_ValueIncrementUnderLock(benchmark::State& state) {
  mp::SyncManager manager = mp::Manager();
  auto value = manager.Value<long>(0);
  auto lock = manager.Lock();
  auto work = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      mp::LockGuard guard(lock);
      value.set(value.get() + 1);
    }
  };
  bench::Partner partner(work);
  partner.run(1, nothing);  // the child's connection
  for (auto _ : state) state.SetIterationTime(partner.run(kIncrements, nothing));
  if (static_cast<uint64_t>(value.get()) != 1 + kIncrements * state.iterations()) {
    state.SkipWithError("lost updates");
  }
  state.SetItemsProcessed(kIncrements * state.iterations());
}
BENCHMARK(BM_MpManager_ValueIncrementUnderLock)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_MpManager_StartSpawn(benchmark::State& state) {
  mp::ManagerOptions options;
  options.context = mp::get_context(mp::kSpawn);
  for (auto _ : state) {
    auto manager = std::make_unique<mp::SyncManager>(std::nullopt, std::nullopt, options);
    manager->start();
    auto d = manager->dict<int, int>();
    benchmark::DoNotOptimize(d.id());
    state.PauseTiming();
    d = {};
    manager.reset();  // shutdown: waits for the server process
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MpManager_StartSpawn)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
