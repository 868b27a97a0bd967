// Another file's s1 and s2 (anonymous namespace), the other way round: other locks, no cycle.
#include <mutex>

namespace {
std::mutex s1, s2;
int n = 0;
} // namespace

void two() {
  std::lock_guard<std::mutex> b(s2);
  std::lock_guard<std::mutex> a(s1);
  ++n;
}

void locals() {
  std::mutex m1, m2;
  std::lock_guard<std::mutex> b(m2);
  std::lock_guard<std::mutex> a(m1);
  ++n;
}
