// queue_producer_consumer (fixed): 3 producers put 1,000 items each on one bounded
// mp::Queue; 3 consumers take them until all 3,000 have been taken.
//
// A consumer first *claims* an item: under one lock it checks that unclaimed items are left
// and counts one more claimed. Only then, outside the lock, it takes one from the queue. A
// claim is a promise that an item is there or on its way, so no consumer ever waits for an
// item that will never come, and no lock is held across the blocking get. Compare ../buggy:
// the check and the take are two steps there.
//
// Consumers report what they took on a second queue, which the parent reads after joining
// them: with mp a process that put items can exit before anyone reads them.
//
// Usage: queue_producer_consumer_fixed [fork|spawn|thread]   (exit 0: right answer)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mp/process.h"
#include "mp/queues.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kProducers = 3;
constexpr int kConsumers = 3;
constexpr long kPerProducer = 1000;
constexpr long kItems = kProducers * kPerProducer;

struct Shared {
  mp::Queue<long> items{16};
  mp::Queue<long> taken;  // what each consumer took, for the parent's check
  mp::Lock claim_lock;
  mp::RawValue<long> claimed{0};  // guarded by claim_lock

  template <class Archive>
  void serialize(Archive& archive) {
    archive(items, taken, claim_lock, claimed);
  }
};

void produce(Shared shared, int producer) {
  for (long i = 0; i < kPerProducer; ++i) shared.items.put(producer * kPerProducer + i);
}

// True if the caller may take one more item: one critical section checks and claims.
bool claim(Shared& shared) {
  mp::LockGuard guard(shared.claim_lock);
  if (shared.claimed.get() >= kItems) return false;
  shared.claimed.set(shared.claimed.get() + 1);
  return true;
}

void consume(Shared shared) {
  while (claim(shared)) shared.taken.put(shared.items.get());
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  Shared shared;
  std::vector<mp::Process> processes;
  for (int p = 0; p < kProducers; ++p) processes.push_back(ctx.Process(produce, shared, p));
  for (int c = 0; c < kConsumers; ++c) processes.push_back(ctx.Process(consume, shared));
  for (auto& p : processes) p.start();

  // A hang would be a bug of this program: give up after 30 s rather than wait forever.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int stuck = 0;
  for (auto& p : processes) {
    std::chrono::duration<double> left = deadline - std::chrono::steady_clock::now();
    stuck += p.join(std::max(left.count(), 0.0)) ? 0 : 1;
  }
  if (stuck > 0) {
    std::printf("queue_producer_consumer (%s): %d processes still blocked after 30 s: HANG\n",
                method, stuck);
    std::fflush(stdout);
    std::_Exit(1);  // thread-mode processes cannot be stopped from outside
  }

  // Every consumer reported each item it took: exactly kItems reports, then nothing more.
  std::vector<int> times_taken(kItems, 0);
  long taken = 0;
  long bad = 0;
  try {
    for (; taken < kItems; ++taken) {
      long item = shared.taken.get(true, 10);
      if (item < 0 || item >= kItems) {
        ++bad;
      } else {
        ++times_taken[item];
      }
    }
  } catch (const mp::Empty&) {
    // fewer reports than items: wrong, said below
  }
  bad += shared.taken.qsize();  // more reports than items
  long once = std::count(times_taken.begin(), times_taken.end(), 1);
  bool right = taken == kItems && once == kItems && bad == 0 && shared.items.empty();
  std::printf("queue_producer_consumer (%s): %ld of %ld items taken, %ld exactly once: %s\n",
              method, taken, kItems, once, right ? "right" : "WRONG");
  return right ? 0 : 1;
}
