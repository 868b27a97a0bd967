// a_mu and b_mu taken together, in no order of their own: no edge.
#include "../shared.h"

std::mutex a_mu;
std::mutex b_mu;
int moved = 0;

void move_ab() {
  std::scoped_lock both(a_mu, b_mu);
  ++moved;
}
