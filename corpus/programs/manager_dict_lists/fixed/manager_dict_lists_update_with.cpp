// manager_dict_lists (fixed, atomic update in the server): 4 processes each add 60 items to
// the lists of a manager dict (key "k0", "k1" or "k2" by item). Each update is
// d.update_with(key, "append", item): the manager runs append_item, registered with
// register_function, on the stored list inside the server, atomically with respect to every
// other call — one round trip, no copy to write back, no lock. Every item must be stored
// once, in the list of its key; each worker's items of one key in the order it added them.
//
// Usage: manager_dict_lists_update_with_fixed [fork|spawn|thread]   (exit 0: right answer)
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "mp/managers.h"
#include "mp/process.h"

namespace {

using Items = std::vector<long>;

constexpr int kWorkers = 4;
constexpr int kPerWorker = 60;
constexpr int kKeys = 3;
constexpr long kItems = kWorkers * kPerWorker;

std::string key_of(long item) { return "k" + std::to_string(item % kKeys); }

// Run by the server: the stored list (empty if the key had none) and the item; the new list.
Items append_item(Items items, long item) {
  items.push_back(item);
  return items;
}

void fill(mp::DictProxy<std::string, Items> d, mp::BarrierProxy start, int worker) {
  start.wait();
  for (int i = 0; i < kPerWorker; ++i) {
    long item = worker * 1000L + i;
    d.update_with(key_of(item), "append", item);
  }
}

// True if every worker's every item is in the list of its key, once, in the worker's order,
// and nothing else is.
bool verify(const mp::DictProxy<std::string, Items>& d) {
  long stored = 0;
  bool right = d.size() == kKeys;
  for (const auto& [key, items] : d.items()) {
    std::printf("  d[\"%s\"]: %zu items\n", key.c_str(), items.size());
    stored += static_cast<long>(items.size());
    Items sorted = items;
    std::sort(sorted.begin(), sorted.end());
    right = right && std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
    std::map<long, long> last_of_worker;  // worker -> its last item seen in this list
    for (long item : items) {
      right = right && key_of(item) == key;
      auto [at, first] = last_of_worker.try_emplace(item / 1000, item);
      right = right && (first || at->second < item);
      at->second = item;
    }
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
  manager.register_function<&append_item>("append");  // before start: the server needs it
  manager.start();
  auto d = manager.dict<std::string, Items>();
  for (int k = 0; k < kKeys; ++k) d.set("k" + std::to_string(k), {});
  mp::BarrierProxy start = manager.Barrier(kWorkers);

  std::vector<mp::Process> workers;
  for (int w = 0; w < kWorkers; ++w) workers.push_back(ctx.Process(fill, d, start, w));
  for (auto& w : workers) w.start();
  int failed = 0;
  for (auto& w : workers) {
    w.join();
    failed += w.exitcode() == 0 ? 0 : 1;
  }

  bool right = failed == 0 && verify(d);
  std::printf(
      "manager_dict_lists (%s): %d workers x %d items appended by update_with in the server, "
      "%d failed, each item stored once in its key's list: %s\n",
      method, kWorkers, kPerWorker, failed, right ? "right" : "WRONG");
  return right ? 0 : 1;
}
