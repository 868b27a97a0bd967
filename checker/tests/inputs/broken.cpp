#include "mp/mp.h"

void consume(mp::Queue<int>& q) {
  if (!q.empty())
    q.get()   // missing semicolon
}
