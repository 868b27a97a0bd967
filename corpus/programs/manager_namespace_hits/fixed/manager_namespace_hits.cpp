// manager_namespace_hits (fixed): 4 processes each count 300 requests in the field "hits" of
// a manager Namespace. Each count is ns.update_with<long>("hits", "add", 1): the server adds
// one to the field with `add`, registered with register_function, atomically with respect to
// every other call — one round trip, nothing to lose between a read and a write. The count
// must be exactly 1,200, in each of 3 runs. Compare ../buggy (a get, then a set).
//
// Usage: manager_namespace_hits_fixed [fork|spawn|thread]   (exit 0: right answer; 1: wrong)
#include <cstdio>
#include <vector>

#include "mp/managers.h"
#include "mp/process.h"

namespace {

constexpr int kWorkers = 4;
constexpr long kPerWorker = 300;
constexpr long kHits = kWorkers * kPerWorker;
constexpr int kRuns = 3;

// Run by the server: the field's value and the amount; the new value.
long add(long hits, long amount) { return hits + amount; }

void count(mp::NamespaceProxy stats, mp::BarrierProxy start) {
  start.wait();
  for (long i = 0; i < kPerWorker; ++i) stats.update_with<long>("hits", "add", 1L);
}

// The final count, or -1 if a worker failed.
long run_once(const mp::Context& ctx) {
  mp::ManagerOptions options;
  options.context = ctx;
  mp::SyncManager manager(std::nullopt, std::nullopt, options);
  manager.register_function<&add>("add");  // before start: the server needs it
  manager.start();
  mp::NamespaceProxy stats = manager.Namespace();
  stats.set("hits", 0L);
  mp::BarrierProxy start = manager.Barrier(kWorkers);
  std::vector<mp::Process> workers;
  for (int w = 0; w < kWorkers; ++w) workers.push_back(ctx.Process(count, stats, start));
  for (auto& w : workers) w.start();
  bool failed = false;
  for (auto& w : workers) {
    w.join();
    failed = failed || w.exitcode() != 0;
  }
  return failed ? -1 : stats.get<long>("hits");
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  for (int run = 1; run <= kRuns; ++run) {
    long hits = run_once(ctx);
    if (hits != kHits) {
      std::printf("manager_namespace_hits (%s): run %d: ns.hits is %ld, expected %ld%s: WRONG\n",
                  method, run, hits, kHits, hits < 0 ? " (a worker failed)" : "");
      return 1;
    }
  }
  std::printf(
      "manager_namespace_hits (%s): %d workers x %ld update_with(\"hits\", \"add\", 1) on a "
      "manager Namespace: %ld in each of %d runs: right\n",
      method, kWorkers, kPerWorker, kHits, kRuns);
  return 0;
}
