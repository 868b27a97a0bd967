// manager_dict_lists (fixed, write-back under a lock): 4 processes each add 60 items to the
// lists of a manager dict (key "k0", "k1" or "k2" by item). get() returns a copy of the list:
// each update changes the copy and writes it back with set() (Python's
// `l = d[k]; l.append(x); d[k] = l`). The fetch and the write-back are two round trips, so
// a manager Lock is held across both: without it two processes could fetch the same list and
// the second write-back would drop the first one's item. Every item must be stored once, in
// the list of its key. Compare ../buggy (no write-back) and manager_dict_lists_update_with.cpp
// (one server-side step, no lock).
//
// Usage: manager_dict_lists_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong)
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "mp/lock.h"
#include "mp/managers.h"
#include "mp/process.h"

namespace {

using Items = std::vector<long>;

constexpr int kWorkers = 4;
constexpr int kPerWorker = 60;
constexpr int kKeys = 3;
constexpr long kItems = kWorkers * kPerWorker;

std::string key_of(long item) { return "k" + std::to_string(item % kKeys); }

void add(mp::DictProxy<std::string, Items>& d, mp::LockProxy& lock, long item) {
  mp::LockGuard guard(lock);
  Items items = d.get(key_of(item));
  items.push_back(item);
  d.set(key_of(item), items);
}

void fill(mp::DictProxy<std::string, Items> d, mp::LockProxy lock, mp::BarrierProxy start,
          int worker) {
  start.wait();
  for (int i = 0; i < kPerWorker; ++i) add(d, lock, worker * 1000L + i);
}

// True if every worker's every item is in the list of its key, once, and nothing else is.
bool verify(const mp::DictProxy<std::string, Items>& d) {
  long stored = 0;
  bool right = d.size() == kKeys;
  for (const auto& [key, items] : d.items()) {
    std::printf("  d[\"%s\"]: %zu items\n", key.c_str(), items.size());
    stored += static_cast<long>(items.size());
    Items sorted = items;
    std::sort(sorted.begin(), sorted.end());
    right = right && std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
    for (long item : items) right = right && key_of(item) == key;
  }
  return right && stored == kItems;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  mp::ManagerOptions options;
  options.context = ctx;
  mp::SyncManager manager(std::nullopt, std::nullopt, options);
  manager.start();
  auto d = manager.dict<std::string, Items>();
  for (int k = 0; k < kKeys; ++k) d.set("k" + std::to_string(k), {});
  mp::LockProxy lock = manager.Lock();
  mp::BarrierProxy start = manager.Barrier(kWorkers);

  std::vector<mp::Process> workers;
  for (int w = 0; w < kWorkers; ++w) workers.push_back(ctx.Process(fill, d, lock, start, w));
  for (auto& w : workers) w.start();
  int failed = 0;
  for (auto& w : workers) {
    w.join();
    failed += w.exitcode() == 0 ? 0 : 1;
  }

  bool right = failed == 0 && verify(d);
  std::printf(
      "manager_dict_lists (%s): %d workers x %d items appended by get + push_back + set under "
      "a manager Lock, %d failed, each item stored once in its key's list: %s\n",
      method, kWorkers, kPerWorker, failed, right ? "right" : "WRONG");
  return right ? 0 : 1;
}
