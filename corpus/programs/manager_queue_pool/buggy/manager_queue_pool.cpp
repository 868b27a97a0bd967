// manager_queue_pool (buggy): 3 producers and 3 consumers, all tasks of one Pool of 6
// workers, share a manager Queue (the proxy is every task's argument). A consumer takes
// items while "the producers are not done or the queue is not empty", as in Python's
//     while not done.is_set() or not q.empty():
//         item = q.get()
// Check, then act: the check is stale by the time get() runs. Near the end every consumer
// sees "not done" and waits in get(); the last item wakes one of them, and the others wait
// for an item that will never come. (Here producer 0 pauses before its last item, so that
// every consumer is waiting in get() by then and the hang is certain.) In Python they block
// for ever; here each get() gives up after 3 s with mp::Empty, and the program reports the
// consumers that did.
//
// Usage: manager_queue_pool_buggy [fork|spawn|thread]   (exit 1 when consumers hung, as
// expected)
#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "mp/errors.h"
#include "mp/managers.h"
#include "mp/pool.h"
#include "mp/process.h"

namespace {

constexpr int kProducers = 3;
constexpr int kConsumers = 3;
constexpr long kPerProducer = 500;
constexpr long kItems = kProducers * kPerProducer;
constexpr double kGetTimeout = 3;    // in place of Python's wait for ever
constexpr double kHangSeconds = 60;  // a result later than this is a hang of the pool

long produce(mp::QueueProxy<long> items, int producer) {
  for (long i = 0; i < kPerProducer; ++i) {
    if (producer == 0 && i == kPerProducer - 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    items.put(producer * kPerProducer + i);
  }
  return kPerProducer;
}

// How many items a consumer took, and whether its last get() found nothing for kGetTimeout.
using Consumed = std::pair<long, bool>;

Consumed consume(mp::QueueProxy<long> items, mp::EventProxy producers_done) {
  long taken = 0;
  while (!producers_done.is_set() || !items.empty()) {  // BUG: check ...
    try {
      (void)items.get(true, kGetTimeout);  // BUG: ... then act: waits if others took the rest
      ++taken;
    } catch (const mp::Empty&) {
      return {taken, true};
    }
  }
  return {taken, false};
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
  mp::EventProxy producers_done = manager.Event();

  mp::PoolOptions pool_options;
  pool_options.processes = kProducers + kConsumers;
  pool_options.context = ctx;
  mp::Pool pool(pool_options);
  std::vector<mp::AsyncResult<Consumed>> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.push_back(pool.apply_async(consume, items, producers_done));
  }
  std::vector<std::tuple<mp::QueueProxy<long>, int>> producers;
  for (int p = 0; p < kProducers; ++p) producers.emplace_back(items, p);

  long produced = 0, taken = 0;
  int blocked = 0, failed = 0;
  try {
    for (long n : pool.starmap_async(produce, producers).get(kHangSeconds)) produced += n;
  } catch (const std::exception& e) {
    std::printf("manager_queue_pool (%s): a producer failed: %s\n", method, e.what());
    ++failed;
  }
  producers_done.set();
  for (auto& consumer : consumers) {
    try {
      auto [n, gave_up] = consumer.get(kHangSeconds);
      taken += n;
      blocked += gave_up ? 1 : 0;
    } catch (const std::exception& e) {
      std::printf("manager_queue_pool (%s): a consumer failed: %s\n", method, e.what());
      ++failed;
    }
  }
  pool.close();
  pool.join();

  if (failed > 0) return 2;
  if (blocked == 0) {
    std::printf("manager_queue_pool (%s): %ld of %ld items taken, no consumer hung this time\n",
                method, taken, produced);
    return 0;
  }
  std::printf(
      "manager_queue_pool (%s): %ld of %ld items taken, yet %d of %d consumers blocked in get() "
      "on an empty queue until their %.0f s timeout: HANG (checked done/empty, then took)\n",
      method, taken, kItems, blocked, kConsumers, kGetTimeout);
  return 1;
}
