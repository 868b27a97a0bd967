// manager_id_batches (buggy): 4 pool workers each reserve 150 batches of 10 IDs from a "next
// ID" counter held by a manager (a ValueProxy), guarded by a manager Lock (a LockProxy). A
// reservation takes the lock to read `next`, lets it go, and takes it again to write
// `next + 10`: each step is locked, but nothing holds the lock across the two. Two workers
// can read the same `next` and both hand out the same 10 IDs: overlapping ranges. The
// program finds and prints them. (Without any lock it is the same: every proxy call is
// atomic in the server, the read-then-write is two calls.)
//
// The window between the two steps holds two round trips to the server, so the overlap shows
// in almost every run; the experiment is repeated until it does, up to 10 runs.
//
// Usage: manager_id_batches_buggy [fork|spawn|thread]   (exit 1 when ranges overlapped, as
// expected)
#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

#include "mp/lock.h"
#include "mp/managers.h"
#include "mp/pool.h"
#include "mp/process.h"

namespace {

constexpr int kWorkers = 4;
constexpr int kBatches = 150;  // per worker
constexpr long kBatchSize = 10;
constexpr long kIds = kWorkers * kBatches * kBatchSize;
constexpr int kMaxRuns = 10;

long reserve(mp::ValueProxy<long>& next, mp::LockProxy& lock) {
  long first;
  {
    mp::LockGuard guard(lock);
    first = next.get();  // BUG: read under the lock ...
  }
  mp::LockGuard guard(lock);
  next.set(first + kBatchSize);  // BUG: ... write under the lock, but not one critical section
  return first;
}

std::vector<long> allocate(mp::ValueProxy<long> next, mp::LockProxy lock, mp::BarrierProxy start) {
  start.wait();
  std::vector<long> firsts;
  for (int b = 0; b < kBatches; ++b) firsts.push_back(reserve(next, lock));
  return firsts;
}

struct Outcome {
  int failed = 0;     // workers whose task threw
  long overlaps = 0;  // batches starting before the previous one (in ID order) ended
  long next = 0;      // the counter at the end
  // One overlap: the same IDs from `first`, handed to two workers.
  long first = 0;
  int worker_a = 0, worker_b = 0;
};

Outcome run_once(const char* method) {
  mp::Context ctx = mp::get_context(method);
  mp::ManagerOptions manager_options;
  manager_options.context = ctx;
  mp::SyncManager manager(std::nullopt, std::nullopt, manager_options);
  manager.start();
  mp::ValueProxy<long> next = manager.Value<long>(0);
  mp::LockProxy lock = manager.Lock();
  mp::BarrierProxy start = manager.Barrier(kWorkers);

  mp::PoolOptions pool_options;
  pool_options.processes = kWorkers;
  pool_options.context = ctx;
  mp::Pool pool(pool_options);
  std::vector<mp::AsyncResult<std::vector<long>>> results;
  for (int w = 0; w < kWorkers; ++w)
    results.push_back(pool.apply_async(allocate, next, lock, start));

  Outcome outcome;
  // (first ID, worker) of every batch, in ID order.
  std::vector<std::pair<long, int>> batches;
  for (int w = 0; w < kWorkers; ++w) {
    try {
      for (long first : results[w].get(60)) batches.emplace_back(first, w);
    } catch (const std::exception& e) {
      std::printf("manager_id_batches (%s): a worker failed: %s\n", method, e.what());
      ++outcome.failed;
    }
  }
  pool.close();
  pool.join();

  std::sort(batches.begin(), batches.end());
  outcome.next = next.get();
  for (size_t i = 1; i < batches.size(); ++i) {
    if (batches[i].first < batches[i - 1].first + kBatchSize && outcome.overlaps++ == 0) {
      outcome.first = batches[i].first;
      outcome.worker_a = batches[i - 1].second;
      outcome.worker_b = batches[i].second;
    }
  }
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";

  for (int run = 1; run <= kMaxRuns; ++run) {
    Outcome o = run_once(method);
    if (o.overlaps > 0) {
      std::printf(
          "manager_id_batches (%s): run %d: %ld of %d batches overlap another (e.g. IDs %ld.. "
          "to workers %d and %d); next %ld, expected %ld\n",
          method, run, o.overlaps, kWorkers * kBatches, o.first, o.worker_a, o.worker_b, o.next,
          kIds);
      return 1;
    }
    if (o.failed > 0) return 2;
  }
  std::printf("manager_id_batches (%s): no batches overlapped in %d runs this time\n", method,
              kMaxRuns);
  return 0;
}
