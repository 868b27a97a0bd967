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
  uint64_t counter = 0;
};

void lock_unlock(SharedMutex& m, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    pthread_mutex_lock(&m.mutex);
    ++m.counter;
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

// Two processes each take and release the mutex kContendedBatch times, incrementing a shared
// counter under it; items/s is the total over both processes.
void BM_PthreadMutex_Contended2Proc(benchmark::State& state) {
  bench::SharedPage<SharedMutex> m;
  bench::Partner partner([&m](uint64_t n) { lock_unlock(*m, n); });
  for (auto _ : state) {
    partner.start(kContendedBatch);
    lock_unlock(*m, kContendedBatch);
    partner.wait();
  }
  if (m->counter != 2 * kContendedBatch * state.iterations()) state.SkipWithError("lost updates");
  state.SetItemsProcessed(2 * kContendedBatch * state.iterations());
}
BENCHMARK(BM_PthreadMutex_Contended2Proc)->UseRealTime();

}  // namespace
