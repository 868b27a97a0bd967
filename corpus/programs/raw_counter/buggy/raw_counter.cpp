// raw_counter (buggy): 2 processes each add 1 to an mp::RawValue<long> 2,000 times. A
// RawValue has no lock: value() is a plain long&, and `+= 1` is a plain read and write that
// nothing orders — a data race (Python's RawValue, or sharedctypes with lock=False). In
// thread mode ThreadSanitizer reports it; under fork and spawn increments may be lost.
//
// Usage: raw_counter_buggy [fork|spawn|thread]   (prints the total; exit 0 either way: the
// race is what ThreadSanitizer must report, not something this program can count on)
#include <cstdio>
#include <vector>

#include "mp/process.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kProcesses = 2;
constexpr int kIncrements = 2000;

void add_many(mp::RawValue<long> counter, mp::Barrier start) {
  start.wait();
  for (int i = 0; i < kIncrements; ++i) {
    counter.value() += 1;  // BUG: unsynchronized read-modify-write of shared memory
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);
  mp::RawValue<long> counter(0);
  mp::Barrier start(kProcesses);
  std::vector<mp::Process> workers;
  for (int i = 0; i < kProcesses; ++i) workers.push_back(ctx.Process(add_many, counter, start));
  for (auto& w : workers) w.start();
  for (auto& w : workers) w.join();
  std::printf("raw_counter (%s): %ld of %ld\n", method, counter.value(),
              long{kProcesses} * kIncrements);
  return 0;
}
