// Both orders in one file: the file's own check reports the cycle, the merge does not again.
#include "../shared.h"

std::mutex a_mu;
std::mutex b_mu;
int total = 0;

void forward() {
  std::lock_guard<std::mutex> a(a_mu);
  std::lock_guard<std::mutex> b(b_mu);
  ++total;
}

void backward() {
  std::lock_guard<std::mutex> b(b_mu);
  std::lock_guard<std::mutex> a(a_mu);
  --total;
}
