// id_batches (fixed): 8 processes each reserve 20,000 batches of 10 IDs from a shared "next ID"
// counter, as a database sequence hands out ID ranges. Each reservation reads `next` and
// advances it by the batch size under the counter's lock, in one critical section: the
// batches are contiguous and never overlap, and IDs 0..1,599,999 are each handed out once.
// The experiment runs 5 times; every run must be right.
//
// Usage: id_batches_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong)
#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "mp/process.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kProcesses = 8;
constexpr int kBatches = 20000;  // per process
constexpr long kBatchSize = 10;
constexpr long kIds = kProcesses * kBatches * kBatchSize;
constexpr int kRuns = 5;

// Returns the first ID of a batch of kBatchSize IDs that no other process gets.
long reserve(mp::Value<long>& next) {
  mp::LockGuard guard(next.get_lock());
  long first = next.get();
  next.set(first + kBatchSize);
  return first;
}

void allocate(mp::Value<long> next, mp::RawArray<long> firsts, int process, mp::Barrier start) {
  start.wait();
  for (int b = 0; b < kBatches; ++b) firsts[process * kBatches + b] = reserve(next);
}

struct Outcome {
  long overlaps = 0;  // batches starting before the previous one (in ID order) ended
  long gaps = 0;      // batches starting after the previous one ended
  long next = 0;      // the counter at the end
  bool right() const { return overlaps == 0 && gaps == 0 && next == kIds; }
};

// One run: every process reserves its batches; the batches are then checked in ID order.
Outcome run_once(const mp::Context& ctx) {
  mp::Value<long> next(0);
  mp::RawArray<long> firsts(kProcesses * kBatches);
  mp::Barrier start(kProcesses);
  std::vector<mp::Process> workers;
  for (int p = 0; p < kProcesses; ++p) {
    workers.push_back(ctx.Process(allocate, next, firsts, p, start));
  }
  for (auto& w : workers) w.start();
  for (auto& w : workers) w.join();

  std::vector<long> sorted(firsts.data(), firsts.data() + firsts.size());
  std::sort(sorted.begin(), sorted.end());
  Outcome outcome;
  outcome.next = next.get();
  outcome.gaps = sorted.front() != 0 ? 1 : 0;
  for (size_t i = 1; i < sorted.size(); ++i) {
    long end_of_previous = sorted[i - 1] + kBatchSize;
    outcome.overlaps += sorted[i] < end_of_previous ? 1 : 0;
    outcome.gaps += sorted[i] > end_of_previous ? 1 : 0;
  }
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  for (int run = 1; run <= kRuns; ++run) {
    Outcome outcome = run_once(ctx);
    if (!outcome.right()) {
      std::printf(
          "id_batches (%s): run %d: %ld overlapping batches, %ld gaps, next %ld "
          "(expected %ld): WRONG\n",
          method, run, outcome.overlaps, outcome.gaps, outcome.next, kIds);
      return 1;
    }
  }
  std::printf(
      "id_batches (%s): %d x %d batches of %ld IDs, contiguous, none overlapping, in "
      "each of %d runs: right\n",
      method, kProcesses, kBatches, kBatchSize, kRuns);
  return 0;
}
