// Must not compile: an inheritance-only object (a Lock) as a pool task's argument. Pool
// workers are already running: shared memory reaches them only through a Manager proxy.
#include "mp/pool.h"
#include "mp/synchronize.h"

int hold(mp::Lock lock) {
  mp::LockGuard guard(lock);
  return 0;
}

int main() {
  mp::Pool pool(2);
  mp::Lock lock;
  return pool.apply(hold, lock);
}
