#include "acme/pool.h"

void bad(acme::Slots& s) {
  if (s.free_count() > 0)
    s.claim();
}

void ok(acme::Slots& s, acme::Mutex& m) {
  m.enter();
  if (s.free_count() > 0)
    s.claim();
  m.leave();
}
