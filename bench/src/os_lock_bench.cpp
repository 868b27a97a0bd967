// The raw baseline for locks: a process-shared pthread mutex in a MAP_SHARED page.
#include <benchmark/benchmark.h>
#include <pthread.h>

#include "forked.h"

namespace {

// The number of lock+unlock pairs each process does per benchmark iteration when contended.
constexpr uint64_t kContendedBatch = 10000;

struct SharedMutex {
  SharedMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&mutex, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~SharedMutex() { pthread_mutex_destroy(&mutex); }
  pthread_mutex_t mutex;
};

void lock_unlock(SharedMutex& m, uint64_t& counter, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    pthread_mutex_lock(&m.mutex);
    ++counter;
    pthread_mutex_unlock(&m.mutex);
  }
}

void BM_PthreadMutex_Uncontended(benchmark::State& state) {
  bench::SharedPage<SharedMutex> m;
  for (auto _ : state) {
    pthread_mutex_lock(&m->mutex);
    pthread_mutex_unlock(&m->mutex);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PthreadMutex_Uncontended);

// Two processes each take and release the mutex kContendedBatch times at the same time,
// incrementing a shared counter under it; items/s is the total over both processes, timed
// from the first operation to the last. The counter has a page of its own, as in
// BM_MpLock_Contended2Proc (an mp::Lock lives in its own segment): next to the mutex it would
// travel between the processes' caches with the mutex's line for free, and the two would
// not measure the same work.
void BM_PthreadMutex_Contended2Proc(benchmark::State& state) {
  bench::SharedPage<SharedMutex> m;
  bench::SharedPage<uint64_t> counter(0);
  auto work = [&](uint64_t n) { lock_unlock(*m, *counter, n); };
  bench::Partner partner(work);
  for (auto _ : state) state.SetIterationTime(partner.run(kContendedBatch, work));
  if (*counter != 2 * kContendedBatch * state.iterations()) state.SkipWithError("lost updates");
  state.SetItemsProcessed(2 * kContendedBatch * state.iterations());
}
BENCHMARK(BM_PthreadMutex_Contended2Proc)->UseManualTime();

}  // namespace
