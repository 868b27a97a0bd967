// a_mu before b_mu. With b.cpp and c.cpp: a_mu -> b_mu -> Registry::mu -> a_mu, a cycle that
// no one of the three files shows.
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
