// manager_namespace_hits (buggy): 4 processes each count 300 requests in the field "hits" of
// a manager Namespace, as Python's
//     ns = manager.Namespace(); ns.hits = 0
//     ns.hits += 1                 # a get, then a set: two round trips
// is written. Each count reads the field (one round trip), adds one and writes it back (a
// second): another process can write in between, and its count is overwritten. The program
// shows the increments lost; it repeats the experiment until they show, up to 10 runs.
//
// Usage: manager_namespace_hits_buggy [fork|spawn|thread]   (exit 1 when counts were lost, as
// expected)
#include <cstdio>
#include <vector>

#include "mp/managers.h"
#include "mp/process.h"

namespace {

constexpr int kWorkers = 4;
constexpr long kPerWorker = 300;
constexpr long kHits = kWorkers * kPerWorker;
constexpr int kMaxRuns = 10;

void count(mp::NamespaceProxy stats, mp::BarrierProxy start) {
  start.wait();
  for (long i = 0; i < kPerWorker; ++i) {
    stats.set("hits", stats.get<long>("hits") + 1);  // BUG: read, then write: not one step
  }
}

// The final count, or -1 if a worker failed.
long run_once(const mp::Context& ctx) {
  mp::ManagerOptions options;
  options.context = ctx;
  mp::SyncManager manager(std::nullopt, std::nullopt, options);
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

  for (int run = 1; run <= kMaxRuns; ++run) {
    long hits = run_once(ctx);
    if (hits < 0) return 2;
    if (hits != kHits) {
      std::printf(
          "manager_namespace_hits (%s): run %d: ns.hits is %ld, expected %ld: %ld increments "
          "lost (get, then set)\n",
          method, run, hits, kHits, kHits - hits);
      return 1;
    }
  }
  std::printf("manager_namespace_hits (%s): no increment lost in %d runs this time\n", method,
              kMaxRuns);
  return 0;
}
