#include "../shared.h"

static void add_locked(Registry &r) {
  std::lock_guard<std::mutex> m(r.mu);
  ++r.entries;
}

void Registry::add() {
  std::lock_guard<std::mutex> a(a_mu);
  add_locked(*this);
}
