// lock_across_get (fixed): a producer counts each item under `stats_lock`, then puts it on an
// mp::Queue; 2 consumers take items and add them to a sum under `stats_lock`.
//
// A consumer takes the item first, with no lock held, and locks only to add it: while it
// waits in get(), the producer can take the lock, count the next item and put it. Compare
// ../buggy, which holds the lock across the get.
//
// Usage: lock_across_get_fixed [fork|spawn|thread]   (exit 0: right answer)
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
    long item = shared.items.get();  // no lock held while waiting
    mp::LockGuard guard(shared.stats_lock);
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
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // as in ../buggy
  processes.push_back(ctx.Process(produce, shared));
  processes.back().start();

  // A hang would be a bug of this program: give up after 30 s rather than wait forever.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int stuck = 0;
  for (auto& p : processes) {
    std::chrono::duration<double> left = deadline - std::chrono::steady_clock::now();
    stuck += p.join(std::max(left.count(), 0.0)) ? 0 : 1;
  }
  if (stuck > 0) {
    std::printf("lock_across_get (%s): %d processes still blocked after 30 s: HANG\n", method,
                stuck);
    std::fflush(stdout);
    std::_Exit(1);
  }
  const long expected = kItems * (kItems + 1) / 2;
  bool right = shared.produced.get() == kItems && shared.sum.get() == expected;
  std::printf("lock_across_get (%s): %ld items produced, sum %ld, expected %ld: %s\n", method,
              shared.produced.get(), shared.sum.get(), expected, right ? "right" : "WRONG");
  return right ? 0 : 1;
}
