// b_mu before a_mu: with d.cpp's call into e.cpp, a cycle of two edges.
#include "../shared.h"

int reversed = 0;

void reverse() {
  std::lock_guard<std::mutex> b(b_mu);
  std::lock_guard<std::mutex> a(a_mu);
  ++reversed;
}
