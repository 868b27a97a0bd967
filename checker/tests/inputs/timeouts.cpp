// Two calls under a lock: one waits without a limit, the other up to a timeout (reported only
// with ipc-blocking-under-lock.StrictTimeouts=true).
#include "mp/mp.h"

mp::Lock lock;

void consume(mp::Queue<int>& q, mp::Event& done) {
  mp::LockGuard<mp::Lock> guard(lock);
  q.get();
  done.wait(0.5);
}
