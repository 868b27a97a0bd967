// The other way round, with std::lock and adopting guards: still no edge.
#include "../shared.h"

extern int moved;

void move_ba() {
  std::lock(b_mu, a_mu);
  std::lock_guard<std::mutex> b(b_mu, std::adopt_lock);
  std::lock_guard<std::mutex> a(a_mu, std::adopt_lock);
  --moved;
}
