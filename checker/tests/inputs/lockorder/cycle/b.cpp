// b_mu before Registry::mu.
#include "../shared.h"

void register_job(Registry &r) {
  std::lock_guard<std::mutex> b(b_mu);
  std::lock_guard<std::mutex> m(r.mu);
  ++r.entries;
}
