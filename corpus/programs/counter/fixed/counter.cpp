// counter (fixed): 4 processes each add 1 to a shared counter 10,000 times, holding the
// counter's lock across the read and the write of every increment. The answer is exactly
// 40,000 under every start method, in each of 20 runs.
//
// Usage: counter_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong answer)
#include <cstdio>
#include <vector>

#include "mp/process.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kProcesses = 4;
constexpr int kIncrements = 10000;
// The experiment is repeated; every run must be right.
constexpr int kRuns = 20;

void add_many(mp::Value<long> counter, mp::Barrier start) {
  start.wait();
  for (int i = 0; i < kIncrements; ++i) {
    mp::LockGuard guard(counter.get_lock());
    counter.value() += 1;  // a read then a write; the guard keeps other processes out between
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
  for (int run = 1; run <= kRuns; ++run) {
    const long got = run_once(ctx);
    if (got != expected) {
      std::printf("counter (%s): %ld in run %d, expected %ld: WRONG\n", method, got, run, expected);
      return 1;
    }
  }
  std::printf("counter (%s): %ld in each of %d runs, expected %ld: right\n", method, expected,
              kRuns, expected);
  return 0;
}
