#include "mp/mp.h"

void consume(mp::Queue<int>& q) {
  if (!q.empty())
    q.get();
}

void bump(mp::Value<int>& v) { v.set(v.get() + 1); }
