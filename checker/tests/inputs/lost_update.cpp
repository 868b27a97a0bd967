// Input of the fix-it test: each function loses a change to a fetched copy; the fix-it writes
// the copy back after the statement that holds the last change.
#include <string>
#include <vector>

#include "mp/mp.h"

mp::Lock lock;
bool failed();

void add(mp::DictProxy<std::string, std::vector<int>>& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  v.push_back(x);
  if (failed())
    return;
  d.set("k", v);
}

void fill(mp::ListProxy<std::vector<int>>& rows) {
  mp::LockGuard<mp::Lock> g(lock);
  auto row = rows[2];
  for (int i = 0; i < 3; ++i)
    row.push_back(i);
}
