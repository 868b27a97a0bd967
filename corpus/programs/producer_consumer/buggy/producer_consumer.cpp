// producer_consumer (buggy): 3 producers put 1,000 items each into a shared bounded ring;
// 3 consumers take items while the shared counter of items taken is below 3,000.
//
// The consumer checks the counter, then takes: two steps, as in Python's famous
//     while cnt.value < ma.value:
//         item = q.get()
//         with cnt.get_lock(): cnt.value += 1
// Near the end, several consumers see "1 item left" at once; one takes it and the others
// block forever in get() on an empty ring. The program notices with a watchdog: it reports
// the consumers still blocked a few seconds after the last item was taken, and stops them.
//
// Usage: producer_consumer_buggy [fork|spawn|thread]   (exit 1 when consumers hung, as expected)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mp/process.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kProducers = 3;
constexpr int kConsumers = 3;
constexpr long kPerProducer = 1000;
constexpr long kItems = kProducers * kPerProducer;
constexpr int kCapacity = 16;
constexpr double kWatchdogSeconds = 3.0;

// The ring; guarded by Shared::lock.
struct Ring {
  long items[kCapacity];
  int head;  // index of the oldest item
  int size;
};

struct Shared {
  mp::Lock lock;
  mp::Condition changed{lock};  // the ring gained or lost an item
  mp::RawValue<Ring> ring{Ring{}};
  mp::RawArray<int> times_taken{kItems};  // per item, for the parent's check
  mp::Value<long> count{0};               // items taken (Python's `cnt`), with its own lock

  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock, changed, ring, times_taken, count);
  }
};

void produce(Shared shared, int producer) {
  Ring& ring = shared.ring.value();
  for (long i = 0; i < kPerProducer; ++i) {
    mp::LockGuard guard(shared.changed);
    shared.changed.wait_for([&] { return ring.size < kCapacity; });
    ring.items[(ring.head + ring.size) % kCapacity] = producer * kPerProducer + i;
    ++ring.size;
    shared.changed.notify_all();
  }
}

// A correct blocking get: waits until the ring holds an item, takes it.
long get(Shared& shared) {
  Ring& ring = shared.ring.value();
  mp::LockGuard guard(shared.changed);
  shared.changed.wait_for([&] { return ring.size > 0; });
  long item = ring.items[ring.head];
  ring.head = (ring.head + 1) % kCapacity;
  --ring.size;
  shared.changed.notify_all();
  return item;
}

void consume(Shared shared) {
  while (shared.count.value() < kItems) {  // BUG: check (a locked read) ...
    long item = get(shared);               // ... then act: blocks if others took the rest
    mp::LockGuard guard(shared.count.get_lock());
    shared.count.value() += 1;
    ++shared.times_taken[item];
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  Shared shared;
  std::vector<mp::Process> producers, consumers;
  for (int p = 0; p < kProducers; ++p) producers.push_back(ctx.Process(produce, shared, p));
  for (int c = 0; c < kConsumers; ++c) consumers.push_back(ctx.Process(consume, shared));
  for (auto& p : producers) p.start();
  for (auto& c : consumers) c.start();
  for (auto& p : producers) p.join();

  // Every item was produced; consumers still running after the watchdog are blocked for good.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(kWatchdogSeconds);
  int blocked = 0;
  for (auto& c : consumers) {
    std::chrono::duration<double> left = deadline - std::chrono::steady_clock::now();
    blocked += c.join(std::max(left.count(), 0.0)) ? 0 : 1;
  }
  long done = shared.count.get();
  if (blocked == 0) {
    std::printf("producer_consumer (%s): %ld of %ld items taken, no consumer hung this time\n",
                method, done, kItems);
    return 0;
  }
  std::printf(
      "producer_consumer (%s): %ld of %ld items taken, yet %d of %d consumers still blocked on "
      "an empty ring after %.0f s: HANG (checked the counter, then took)\n",
      method, done, kItems, blocked, kConsumers, kWatchdogSeconds);
  std::fflush(stdout);
  if (ctx.method() != mp::StartMethod::kThread) {
    for (auto& c : consumers) {
      if (c.is_alive()) c.kill();
      c.join();
    }
  }
  std::_Exit(1);  // thread-mode consumers cannot be stopped from outside
}
