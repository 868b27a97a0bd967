#include "../shared.h"
#include "helpers.h"

static int counted = 0;

void count_under_b() {
  std::lock_guard<std::mutex> b(b_mu);
  ++counted;
}
