// lock_across_get (buggy): a producer counts each item under `stats_lock`, then puts it on an
// mp::Queue; 2 consumers take items and add them to a sum, holding `stats_lock` across the
// take (Python's `with lock: item = q.get()`).
//
// The consumers start first and find the queue empty: one waits in get() holding the lock,
// the other waits for the lock, and the producer waits for the lock to count its first item.
// Nobody moves again. The program notices with a join timeout and stops the processes.
// Compare ../fixed: the take comes first, the lock covers only the sum.
//
// Usage: lock_across_get_buggy [fork|spawn|thread]   (exit 1 when it hung, as expected)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "mp/process.h"
#include "mp/queues.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kConsumers = 2;
constexpr long kPerConsumer = 500;
constexpr long kItems = kConsumers * kPerConsumer;
constexpr double kWatchdogSeconds = 3.0;

struct Shared {
  mp::Queue<long> items;
  mp::Lock stats_lock;
  mp::RawValue<long> produced{0};  // guarded by stats_lock
  mp::RawValue<long> sum{0};       // guarded by stats_lock

  template <class Archive>
  void serialize(Archive& archive) {
    archive(items, stats_lock, produced, sum);
  }
};

void produce(Shared shared) {
  for (long i = 1; i <= kItems; ++i) {
    {
      mp::LockGuard guard(shared.stats_lock);
      shared.produced.set(shared.produced.get() + 1);
    }
    shared.items.put(i);
  }
}

void consume(Shared shared) {
  for (long n = 0; n < kPerConsumer; ++n) {
    mp::LockGuard guard(shared.stats_lock);
    long item = shared.items.get();  // BUG: waits for the producer, which needs stats_lock
    shared.sum.set(shared.sum.get() + item);
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  Shared shared;
  std::vector<mp::Process> processes;
  for (int c = 0; c < kConsumers; ++c) processes.push_back(ctx.Process(consume, shared));
  for (auto& p : processes) p.start();
  // The consumers are waiting on the empty queue by the time the producer starts.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  processes.push_back(ctx.Process(produce, shared));
  processes.back().start();

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(kWatchdogSeconds);
  int blocked = 0;
  for (auto& p : processes) {
    std::chrono::duration<double> left = deadline - std::chrono::steady_clock::now();
    blocked += p.join(std::max(left.count(), 0.0)) ? 0 : 1;
  }
  if (blocked == 0) {
    std::printf("lock_across_get (%s): sum %ld of %ld items: not stuck this time\n", method,
                shared.sum.get(), kItems);
    return 0;
  }
  std::printf(
      "lock_across_get (%s): %d of %d processes still blocked after %.0f s, %ld of %ld items "
      "produced: HANG (a consumer waits in get() holding the lock the producer needs)\n",
      method, blocked, kConsumers + 1, kWatchdogSeconds, shared.produced.get(), kItems);
  std::fflush(stdout);
  if (ctx.method() != mp::StartMethod::kThread) {
    for (auto& p : processes) {
      if (p.is_alive()) p.kill();
      p.join();
    }
  }
  std::_Exit(1);  // thread-mode processes cannot be stopped from outside
}
