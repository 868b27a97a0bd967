// producer_consumer (fixed): 3 producers put 1,000 items each into a shared bounded ring;
// 3 consumers take items until all 3,000 have been taken, counting them in a shared counter.
//
// Each consumer holds one lock over the loop condition ("are items left to take?") and the
// get-and-count, and waits only for "an item is there, or none is left to take". So no
// consumer ever blocks on an empty ring when nothing more will come, and every item is taken
// exactly once. Compare ../buggy: the check and the get are two steps there.
//
// Usage: producer_consumer_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong)
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

// The ring and the shared counter of items taken; guarded by Shared::lock.
struct Ring {
  long items[kCapacity];
  int head;  // index of the oldest item
  int size;
  long taken;
};

struct Shared {
  mp::Lock lock;
  mp::Condition changed{lock};  // the ring gained an item, lost one, or the last one was taken
  mp::RawValue<Ring> ring{Ring{}};
  mp::RawArray<int> times_taken{kItems};  // per item, for the parent's check

  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock, changed, ring, times_taken);
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

void consume(Shared shared) {
  Ring& ring = shared.ring.value();
  for (;;) {
    // One critical section: the loop condition, the get and the count.
    mp::LockGuard guard(shared.changed);
    shared.changed.wait_for([&] { return ring.size > 0 || ring.taken == kItems; });
    if (ring.taken == kItems) return;
    long item = ring.items[ring.head];
    ring.head = (ring.head + 1) % kCapacity;
    --ring.size;
    ++ring.taken;
    ++shared.times_taken[item];
    shared.changed.notify_all();  // room for producers; and, after the last item, "none left"
  }
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
    std::printf("producer_consumer (%s): %d processes still blocked after 30 s: HANG\n", method,
                stuck);
    std::fflush(stdout);
    std::_Exit(1);  // thread-mode processes cannot be stopped from outside
  }

  long taken = shared.ring.value().taken;
  long once = 0;
  for (long i = 0; i < kItems; ++i) once += shared.times_taken[i] == 1 ? 1 : 0;
  bool right = taken == kItems && once == kItems;
  std::printf("producer_consumer (%s): %ld of %ld items taken, %ld exactly once: %s\n", method,
              taken, kItems, once, right ? "right" : "WRONG");
  return right ? 0 : 1;
}
