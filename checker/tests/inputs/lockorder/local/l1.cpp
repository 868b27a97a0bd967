// This file's own s1 and s2 (static), first s1 then s2.
#include <mutex>

static std::mutex s1, s2;
static int n = 0;

void one() {
  std::lock_guard<std::mutex> a(s1);
  std::lock_guard<std::mutex> b(s2);
  ++n;
}

void locals() {
  std::mutex m1, m2;
  std::lock_guard<std::mutex> a(m1);
  std::lock_guard<std::mutex> b(m2);
  ++n;
}
