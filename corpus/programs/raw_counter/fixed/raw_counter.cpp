// raw_counter (fixed): 2 processes each add 1 to an mp::RawValue<long> 2,000 times, each
// increment under one shared mp::Lock (Python: `with lock: raw.value += 1`). The total is
// exact under every start method, and ThreadSanitizer sees no race in thread mode: the
// lock's acquire and release order the plain accesses.
//
// Usage: raw_counter_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong answer)
#include <cstdio>
#include <vector>

#include "mp/process.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kProcesses = 2;
constexpr int kIncrements = 2000;

void add_many(mp::RawValue<long> counter, mp::Lock lock, mp::Barrier start) {
  start.wait();
  for (int i = 0; i < kIncrements; ++i) {
    mp::LockGuard guard(lock);
    counter.value() += 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);
  mp::RawValue<long> counter(0);
  mp::Lock lock;
  mp::Barrier start(kProcesses);
  std::vector<mp::Process> workers;
  for (int i = 0; i < kProcesses; ++i) {
    workers.push_back(ctx.Process(add_many, counter, lock, start));
  }
  for (auto& w : workers) w.start();
  for (auto& w : workers) w.join();
  const long expected = long{kProcesses} * kIncrements;
  std::printf("raw_counter (%s): %ld of %ld\n", method, counter.value(), expected);
  return counter.value() == expected ? 0 : 1;
}
