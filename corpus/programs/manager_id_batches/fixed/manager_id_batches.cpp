// manager_id_batches (fixed): 4 pool workers each reserve 150 batches of 10 IDs from a "next
// ID" counter held by a manager (a ValueProxy), guarded by a manager Lock (a LockProxy): the
// ID allocator of a service whose workers may live on other hosts. A reservation holds the
// lock across the read of `next` and the write of `next + 10`: the batches are contiguous
// and never overlap, and every ID of 0..5,999 is handed out once — unless a worker failed,
// in which case only the batches it reserved are missing (they are reserved, not lost to
// another worker). The experiment runs 2 times; every run must be right.
//
// Usage: manager_id_batches_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong)
#include <algorithm>
#include <cstdio>
#include <exception>
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
constexpr int kRuns = 2;

// Returns the first ID of a batch of kBatchSize IDs that no other worker gets.
long reserve(mp::ValueProxy<long>& next, mp::LockProxy& lock) {
  mp::LockGuard guard(lock);
  long first = next.get();
  next.set(first + kBatchSize);
  return first;
}

// The pool task: the proxies are its arguments (Python's Manager objects in pool.map).
std::vector<long> allocate(mp::ValueProxy<long> next, mp::LockProxy lock, mp::BarrierProxy start) {
  start.wait();
  std::vector<long> firsts;
  for (int b = 0; b < kBatches; ++b) firsts.push_back(reserve(next, lock));
  return firsts;
}

struct Outcome {
  int failed = 0;     // workers whose task threw
  long batches = 0;   // batches the other workers reported
  long overlaps = 0;  // batches starting before the previous one (in ID order) ended
  long gaps = 0;      // batches starting after the previous one ended
  long next = 0;      // the counter at the end
  bool right() const {
    // A failed worker's reservations are missing from the report, never anyone else's.
    if (failed > 0) return overlaps == 0 && next <= kIds;
    return overlaps == 0 && gaps == 0 && batches == kWorkers * kBatches && next == kIds;
  }
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
  std::vector<long> firsts;
  for (auto& result : results) {
    try {
      std::vector<long> mine = result.get(60);
      firsts.insert(firsts.end(), mine.begin(), mine.end());
    } catch (const std::exception& e) {
      std::printf("manager_id_batches (%s): a worker failed: %s\n", method, e.what());
      ++outcome.failed;
    }
  }
  pool.close();
  pool.join();

  std::sort(firsts.begin(), firsts.end());
  outcome.batches = static_cast<long>(firsts.size());
  outcome.next = next.get();
  if (!firsts.empty() && firsts.front() != 0) ++outcome.gaps;
  for (size_t i = 1; i < firsts.size(); ++i) {
    long end_of_previous = firsts[i - 1] + kBatchSize;
    outcome.overlaps += firsts[i] < end_of_previous ? 1 : 0;
    outcome.gaps += firsts[i] > end_of_previous ? 1 : 0;
  }
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";

  for (int run = 1; run <= kRuns; ++run) {
    Outcome o = run_once(method);
    if (!o.right()) {
      std::printf(
          "manager_id_batches (%s): run %d: %d workers failed, %ld batches, %ld overlapping, "
          "%ld gaps, next %ld (expected %ld): WRONG\n",
          method, run, o.failed, o.batches, o.overlaps, o.gaps, o.next, kIds);
      return 1;
    }
    if (o.failed > 0) {
      std::printf(
          "manager_id_batches (%s): run %d: %d workers failed; the %ld batches reported are "
          "disjoint\n",
          method, run, o.failed, o.batches);
      return 1;
    }
  }
  std::printf(
      "manager_id_batches (%s): %d x %d batches of %ld IDs from a manager Value under a "
      "manager Lock, contiguous, none overlapping, none skipped, in each of %d runs: right\n",
      method, kWorkers, kBatches, kBatchSize, kRuns);
  return 0;
}
