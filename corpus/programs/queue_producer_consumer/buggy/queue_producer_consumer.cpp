// queue_producer_consumer (buggy): 3 producers put 1,000 items each on one bounded
// mp::Queue; 3 consumers take items while a shared count of items taken is below 3,000.
//
// The consumer checks the count, then takes: two steps, as in Python's famous
//     while cnt.value < ma.value:
//         item = q.get()
//         with cnt.get_lock(): cnt.value += 1
// Near the end, several consumers see "items left" at once; one takes the last item and the
// others block forever in get() on an empty queue. (Here the producers pause before their
// last items, so that every consumer is waiting in get() by then and the hang is certain.)
// The program notices with a watchdog: it reports the consumers still blocked a few seconds
// after the producers finished, and stops them.
//
// Usage: queue_producer_consumer_buggy [fork|spawn|thread]   (exit 1 when consumers hung)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "mp/process.h"
#include "mp/queues.h"
#include "mp/sharedctypes.h"

namespace {

constexpr int kProducers = 3;
constexpr int kConsumers = 3;
constexpr long kPerProducer = 1000;
constexpr long kItems = kProducers * kPerProducer;
constexpr double kWatchdogSeconds = 3.0;

struct Shared {
  mp::Queue<long> items{16};
  mp::Value<long> count{0};  // items taken (Python's `cnt`), with its own lock

  template <class Archive>
  void serialize(Archive& archive) {
    archive(items, count);
  }
};

void produce(Shared shared, int producer) {
  for (long i = 0; i < kPerProducer; ++i) {
    if (i == kPerProducer - 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    shared.items.put(producer * kPerProducer + i);
  }
}

void consume(Shared shared) {
  while (shared.count.value() < kItems) {  // BUG: check (a locked read) ...
    (void)shared.items.get();              // ... then act: blocks if others took the rest
    mp::LockGuard guard(shared.count.get_lock());
    shared.count.value() += 1;
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
    std::printf("queue_producer_consumer (%s): %ld of %ld items taken, no consumer hung\n", method,
                done, kItems);
    return 0;
  }
  std::printf(
      "queue_producer_consumer (%s): %ld of %ld items taken, yet %d of %d consumers still "
      "blocked in get() on an empty queue after %.0f s: HANG (checked the count, then took)\n",
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
