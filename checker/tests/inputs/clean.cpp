#include "mp/mp.h"

void consume(mp::Queue<int>& q, mp::Lock& l) {
  mp::LockGuard<mp::Lock> guard(l);
  if (!q.empty())
    q.get();
}
