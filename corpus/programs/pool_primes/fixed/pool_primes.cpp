// pool_primes (fixed): the primes below 1,000,000 counted in 40 slices by a Pool of 4
// workers. Every result is collected while the pool is alive (map blocks for them; the
// imap_unordered loop consumes every one), then the pool is closed and joined. The answer is
// 78,498 under every start method.
//
// Usage: pool_primes_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong answer)
#include <cstdio>
#include <utility>
#include <vector>

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

// The task: a plain function, as pool tasks must be; the slice travels as its two bounds.
long count_primes(std::pair<int, int> slice) {
  long count = 0;
  for (int n = slice.first; n < slice.second; ++n) count += is_prime(n) ? 1 : 0;
  return count;
}

std::vector<std::pair<int, int>> slices() {
  std::vector<std::pair<int, int>> out;
  const int step = kLimit / kSlices;
  for (int begin = 0; begin < kLimit; begin += step) out.emplace_back(begin, begin + step);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";

  mp::PoolOptions options;
  options.processes = 4;
  options.context = mp::get_context(method);
  mp::Pool pool(options);

  long by_map = 0;
  for (long count : pool.map(count_primes, slices())) by_map += count;

  long by_imap = 0;
  for (long count : pool.imap_unordered(count_primes, slices())) by_imap += count;

  pool.close();
  pool.join();

  if (by_map != kPrimesBelowLimit || by_imap != kPrimesBelowLimit) {
    std::printf("pool_primes (%s): %ld by map, %ld by imap_unordered, expected %ld: WRONG\n",
                method, by_map, by_imap, kPrimesBelowLimit);
    return 1;
  }
  std::printf("pool_primes (%s): %ld primes below %d (map and imap_unordered agree)\n", method,
              by_map, kLimit);
  return 0;
}
