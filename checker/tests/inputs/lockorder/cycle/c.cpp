// Registry::mu before a_mu, through a helper: the witness is the call chain.
#include "../shared.h"

static int audited = 0;

static void audit() {
  std::lock_guard<std::mutex> a(a_mu);
  ++audited;
}

void Registry::refresh() {
  std::lock_guard<std::mutex> m(mu);
  audit();
  entries = 0;
}
