// One order everywhere: a_mu, then b_mu, then Registry::mu.
#include "../shared.h"

std::mutex a_mu;
std::mutex b_mu;
Registry registry;
int jobs = 0;

void record_job() {
  std::lock_guard<std::mutex> a(a_mu);
  std::lock_guard<std::mutex> b(b_mu);
  ++jobs;
}
