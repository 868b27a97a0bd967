// id_batches (buggy): 8 processes each reserve 20,000 batches of 10 IDs from a shared "next ID"
// counter. A reservation reads `next`, then writes `next + 10`: each step takes the counter's
// lock, but nothing holds it across the two. Two processes can read the same `next` and both
// hand out the same 10 IDs: overlapping ranges. The program finds and prints them.
//
// The bug needs two processes inside that window at once, which a busy machine does not give
// every run: the experiment is repeated until it shows, up to 20 runs.
//
// Usage: id_batches_buggy [fork|spawn|thread]   (exit 1 when ranges overlapped, as expected)
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
constexpr int kMaxRuns = 20;

long reserve(mp::Value<long>& next) {
  long first = next.get();       // BUG: read under the lock ...
  next.set(first + kBatchSize);  // ... write under the lock, but not one critical section
  return first;
}

void allocate(mp::Value<long> next, mp::RawArray<long> firsts, int process, mp::Barrier start) {
  start.wait();
  for (int b = 0; b < kBatches; ++b) firsts[process * kBatches + b] = reserve(next);
}

struct Outcome {
  long overlaps = 0;  // batches starting before the previous one (in ID order) ended
  long next = 0;      // the counter at the end
  // One overlap: the same IDs from `first`, handed to two processes.
  long first = 0;
  int process_a = 0, process_b = 0;
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

  // (first ID, process) of every batch, in ID order.
  std::vector<std::pair<long, int>> batches;
  for (int i = 0; i < kProcesses * kBatches; ++i) batches.emplace_back(firsts[i], i / kBatches);
  std::sort(batches.begin(), batches.end());
  Outcome outcome;
  outcome.next = next.get();
  for (size_t i = 1; i < batches.size(); ++i) {
    if (batches[i].first < batches[i - 1].first + kBatchSize && outcome.overlaps++ == 0) {
      outcome.first = batches[i].first;
      outcome.process_a = batches[i - 1].second;
      outcome.process_b = batches[i].second;
    }
  }
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  for (int run = 1; run <= kMaxRuns; ++run) {
    Outcome o = run_once(ctx);
    if (o.overlaps > 0) {
      std::printf(
          "id_batches (%s): run %d: %ld of %d batches overlap another (e.g. IDs %ld.. "
          "to processes %d and %d); next %ld, expected %ld\n",
          method, run, o.overlaps, kProcesses * kBatches, o.first, o.process_a, o.process_b, o.next,
          kIds);
      return 1;
    }
  }
  std::printf("id_batches (%s): no batches overlapped in %d runs this time\n", method, kMaxRuns);
  return 0;
}
