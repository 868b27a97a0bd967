// pool_primes (buggy): the same count, with the slices handed out by apply_async inside the
// pool's scope and their results asked for after it. The Pool's destructor terminates the
// workers — leaving Python's `with Pool() as p:` block does the same — so every slice not yet
// finished is lost: its get() throws mp::BrokenPool (in Python it would hang for ever).
// The fix: get() the results inside the scope, or close() and join() before leaving it.
//
// Usage: pool_primes_buggy [fork|spawn|thread]   (exit 1: the bug showed; 0: it did not)
#include <cstdio>
#include <utility>
#include <vector>

#include "mp/errors.h"
#include "mp/pool.h"
#include "mp/process.h"

namespace {

constexpr int kLimit = 1'000'000;
constexpr int kSlices = 40;
constexpr long kPrimesBelowLimit = 78'498;

bool is_prime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

long count_primes(int begin, int end) {
  long count = 0;
  for (int n = begin; n < end; ++n) count += is_prime(n) ? 1 : 0;
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";

  std::vector<mp::AsyncResult<long>> results;
  {
    mp::PoolOptions options;
    options.processes = 4;
    options.context = mp::get_context(method);
    mp::Pool pool(options);
    const int step = kLimit / kSlices;
    for (int begin = 0; begin < kLimit; begin += step)
      results.push_back(pool.apply_async(count_primes, begin, begin + step));
  }  // BUG: the destructor terminates the workers while the slices still run

  long total = 0;
  int lost = 0;
  for (auto& r : results) {
    try {
      total += r.get(30);
    } catch (const mp::BrokenPool&) {
      ++lost;
    }
  }
  if (lost == 0 && total == kPrimesBelowLimit) {
    std::printf("pool_primes (%s): %ld primes (every slice finished before the pool went)\n",
                method, total);
    return 0;
  }
  std::printf(
      "pool_primes (%s): %d of %d results lost (the Pool's destructor terminated its workers "
      "first); %ld primes counted, expected %ld\n",
      method, lost, kSlices, total, kPrimesBelowLimit);
  return 1;
}
