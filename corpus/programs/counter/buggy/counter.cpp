// counter (buggy): 4 processes each add 1 to a shared counter 10,000 times with
// `counter.value() += 1` and no lock held across it. That is a locked read, then a locked
// write: another process can write between the two, and its increment is lost — Python's
// `v.value += 1` without `with v.get_lock():`. The total comes out below 40,000.
//
// Usage: counter_buggy [fork|spawn|thread]   (exit 1 when updates were lost, as expected)
#include <cstdio>
#include <vector>

#include "mp/process.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kProcesses = 4;
constexpr int kIncrements = 10000;
// A lost update needs a process to be preempted, or to run on another core, between its
// read and its write while another writes: a busy machine does not give that every run, so
// the experiment is repeated until it shows, up to kMaxRuns times.
constexpr int kMaxRuns = 200;

void add_many(mp::Value<long> counter, mp::Barrier start) {
  start.wait();
  for (int i = 0; i < kIncrements; ++i) {
    counter.value() += 1;  // BUG: read and write are two steps; nothing holds the lock across
  }
}

// One run: kProcesses processes started together, each adding kIncrements; the final count.
long run_once(const mp::Context& ctx) {
  mp::Value<long> counter(0);
  mp::Barrier start(kProcesses);
  std::vector<mp::Process> workers;
  for (int i = 0; i < kProcesses; ++i) workers.push_back(ctx.Process(add_many, counter, start));
  for (auto& w : workers) w.start();
  for (auto& w : workers) w.join();
  return counter.get();
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  const long expected = long{kProcesses} * kIncrements;
  for (int run = 1; run <= kMaxRuns; ++run) {
    const long got = run_once(ctx);
    if (got != expected) {
      std::printf("counter (%s): run %d: %ld, expected %ld: %ld increments lost\n", method, run,
                  got, expected, expected - got);
      return 1;
    }
  }
  std::printf("counter (%s): %ld in each of %d runs: no update lost this time\n", method, expected,
              kMaxRuns);
  return 0;
}
