// Must not compile: a lambda with captures as a pool task. The workers (fresh images under
// spawn, or forked before the lambda existed) cannot see the caller's captures.
#include "mp/pool.h"

int main() {
  mp::Pool pool(2);
  int offset = 3;
  return pool.apply([offset](int x) { return x + offset; }, 1);
}
