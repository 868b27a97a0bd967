// mp::Value<long> incremented under its get_lock() by 2 processes, the way Python's
//     with v.get_lock(): v.value += 1
// is written. Compare: bench/python/value.py.
#include <benchmark/benchmark.h>

#include "forked.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr uint64_t kBatch = 10000;  // increments per process per benchmark iteration

void BM_MpValue_IncrementLocked2Proc(benchmark::State& state) {
  mp::Value<long> value(0);
  auto increment = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      mp::LockGuard guard(value.get_lock());
      value.value() += 1;
    }
  };
  bench::Partner partner(increment);
  for (auto _ : state) state.SetIterationTime(partner.run(kBatch, increment));
  if (static_cast<uint64_t>(value.get()) != 2 * kBatch * state.iterations()) {
    state.SkipWithError("lost updates");
  }
  state.SetItemsProcessed(2 * kBatch * state.iterations());
}
BENCHMARK(BM_MpValue_IncrementLocked2Proc)->UseManualTime();

}  // namespace
