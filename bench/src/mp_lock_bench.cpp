// mp::Lock, uncontended and contended by 2 processes.
// Compare: BM_PthreadMutex_Uncontended and BM_PthreadMutex_Contended2Proc (os_lock_bench.cpp).
#include <benchmark/benchmark.h>

#include "forked.h"
#include "mp/synchronize.h"

namespace {

// The number of lock+unlock pairs each process does per benchmark iteration when contended.
constexpr uint64_t kContendedBatch = 10000;

void BM_MpLock_Uncontended(benchmark::State& state) {
  mp::Lock lock;
  for (auto _ : state) {
    lock.lock();
    lock.unlock();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MpLock_Uncontended);

// Two processes each take and release the lock kContendedBatch times at the same time,
// incrementing a shared counter (in a page of its own, as in the pthread baseline) under it;
// items/s is the total over both processes, timed from the first operation to the last.
void BM_MpLock_Contended2Proc(benchmark::State& state) {
  mp::Lock lock;
  bench::SharedPage<uint64_t> counter(0);
  auto lock_unlock = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      lock.lock();
      ++*counter;
      lock.unlock();
    }
  };
  bench::Partner partner(lock_unlock);
  for (auto _ : state) state.SetIterationTime(partner.run(kContendedBatch, lock_unlock));
  if (*counter != 2 * kContendedBatch * state.iterations()) state.SkipWithError("lost updates");
  state.SetItemsProcessed(2 * kContendedBatch * state.iterations());
}
BENCHMARK(BM_MpLock_Contended2Proc)->UseManualTime();

}  // namespace
