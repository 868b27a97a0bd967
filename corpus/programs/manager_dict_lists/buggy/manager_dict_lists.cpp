// manager_dict_lists (buggy): 4 processes each add 60 items to the lists of a manager dict
// (key "k0", "k1" or "k2" by item), as Python's
//     d = manager.dict(); d['k0'] = []
//     d['k0'].append(item)        # changes a copy: d['k0'] stays []
// is written. get() returns a copy of the list; push_back changes that copy, which dies at
// the end of the function: nothing reaches the server. Every update is lost, under every
// start method; the program counts them.
//
// Usage: manager_dict_lists_buggy [fork|spawn|thread]   (exit 1 when updates were lost, as
// expected)
#include <cstdio>
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

void add(mp::DictProxy<std::string, Items>& d, long item) {
  Items items = d.get(key_of(item));
  items.push_back(item);  // BUG: changes the copy get() returned; never written back
}

void fill(mp::DictProxy<std::string, Items> d, mp::BarrierProxy start, int worker) {
  start.wait();
  for (int i = 0; i < kPerWorker; ++i) add(d, worker * 1000L + i);
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
  mp::BarrierProxy start = manager.Barrier(kWorkers);

  std::vector<mp::Process> workers;
  for (int w = 0; w < kWorkers; ++w) workers.push_back(ctx.Process(fill, d, start, w));
  for (auto& w : workers) w.start();
  int failed = 0;
  for (auto& w : workers) {
    w.join();
    failed += w.exitcode() == 0 ? 0 : 1;
  }

  long stored = 0;
  for (const auto& [key, items] : d.items()) {
    std::printf("  d[\"%s\"]: %zu items\n", key.c_str(), items.size());
    stored += static_cast<long>(items.size());
  }
  if (failed > 0) {
    std::printf("manager_dict_lists (%s): %d workers failed\n", method, failed);
    return 2;
  }
  if (stored == kItems) {
    std::printf("manager_dict_lists (%s): all %ld items stored this time\n", method, kItems);
    return 0;
  }
  std::printf(
      "manager_dict_lists (%s): %ld of %ld items in the dict: %ld updates lost (each changed a "
      "copy fetched by get, never written back)\n",
      method, stored, kItems, kItems - stored);
  return 1;
}
