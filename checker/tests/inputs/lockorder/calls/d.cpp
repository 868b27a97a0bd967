// a_mu held while a helper of another file takes b_mu: the merge orders a_mu before b_mu.
#include "../shared.h"
#include "helpers.h"

std::mutex a_mu;
std::mutex b_mu;

void report() {
  std::lock_guard<std::mutex> a(a_mu);
  count_under_b();
}
