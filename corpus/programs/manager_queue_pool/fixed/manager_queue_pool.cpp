// manager_queue_pool (fixed): 3 producers and 3 consumers, all tasks of one Pool of 6
// workers, share a manager Queue: the proxy is an argument of every task. (An mp::Queue is
// inheritance-only and cannot be a pool task's argument — it does not compile, as Python
// raises at run time — which is why Python programs use Manager().Queue() here.)
//
// Each producer puts 500 items. Once every producer has returned, the parent puts one
// sentinel per consumer; a consumer takes items until it takes a sentinel. No consumer ever
// checks whether the queue is empty before it takes: each get() it makes is answered, by an
// item or by its sentinel. Every item must be taken exactly once.
//
// Usage: manager_queue_pool_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong)
#include <algorithm>
#include <cstdio>
#include <exception>
#include <tuple>
#include <vector>

#include "mp/managers.h"
#include "mp/pool.h"
#include "mp/process.h"

namespace {

constexpr int kProducers = 3;
constexpr int kConsumers = 3;
constexpr long kPerProducer = 500;
constexpr long kItems = kProducers * kPerProducer;
constexpr long kSentinel = -1;
constexpr double kHangSeconds = 60;  // a result later than this is a hang of this program

// Returns how many items it put.
long produce(mp::QueueProxy<long> items, int producer) {
  for (long i = 0; i < kPerProducer; ++i) items.put(producer * kPerProducer + i);
  return kPerProducer;
}

// Returns the items it took, up to its sentinel.
std::vector<long> consume(mp::QueueProxy<long> items) {
  std::vector<long> taken;
  for (long item = items.get(); item != kSentinel; item = items.get()) taken.push_back(item);
  return taken;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  mp::ManagerOptions manager_options;
  manager_options.context = ctx;
  mp::SyncManager manager(std::nullopt, std::nullopt, manager_options);
  manager.start();
  mp::QueueProxy<long> items = manager.Queue<long>(64);

  // One worker per task: the consumers run while the producers fill the bounded queue.
  mp::PoolOptions pool_options;
  pool_options.processes = kProducers + kConsumers;
  pool_options.context = ctx;
  mp::Pool pool(pool_options);
  std::vector<mp::AsyncResult<std::vector<long>>> consumers;
  for (int c = 0; c < kConsumers; ++c) consumers.push_back(pool.apply_async(consume, items));
  std::vector<std::tuple<mp::QueueProxy<long>, int>> producers;
  for (int p = 0; p < kProducers; ++p) producers.emplace_back(items, p);

  std::vector<int> times_taken(kItems, 0);
  long produced = 0, taken = 0, bad = 0;
  int failed = 0;
  try {
    for (long n : pool.starmap_async(produce, producers).get(kHangSeconds)) produced += n;
  } catch (const std::exception& e) {
    std::printf("manager_queue_pool (%s): a producer failed: %s\n", method, e.what());
    ++failed;
  }
  for (int c = 0; c < kConsumers; ++c) items.put(kSentinel);  // all items are ahead of them
  for (auto& consumer : consumers) {
    try {
      for (long item : consumer.get(kHangSeconds)) {
        ++taken;
        if (item < 0 || item >= kItems) {
          ++bad;
        } else {
          ++times_taken[item];
        }
      }
    } catch (const std::exception& e) {
      std::printf("manager_queue_pool (%s): a consumer failed: %s\n", method, e.what());
      ++failed;
    }
  }
  pool.close();
  pool.join();

  long once = std::count(times_taken.begin(), times_taken.end(), 1);
  bool right = failed == 0 && produced == kItems && taken == kItems && once == kItems && bad == 0 &&
               items.qsize() == 0;
  std::printf(
      "manager_queue_pool (%s): %d pool producers put %ld items on a manager Queue, %d pool "
      "consumers took %ld, %ld exactly once, none left: %s\n",
      method, kProducers, produced, kConsumers, taken, once, right ? "right" : "WRONG");
  return right ? 0 : 1;
}
