// The cross-file lock-order merge (issue 6): `ipcheck --merge-facts` over the facts of 1,000
// translation units. Its own binary, checker_bench: it links the checker's engine, which is
// built like LLVM (no RTTI, no exceptions).
//
// The facts are made up once, before the timing, in the shape real units give: each unit takes
// 20 locks (12 of a program-wide pool of globals and class members, 8 of its own: statics and
// locals) and orders them in 50 edges, a fifth of them through a helper (a two-step witness)
// and some inside a gate lock; 20 of its functions take a lock each for callers in other units,
// and it makes 10 calls into other units' functions with a lock held. The pool has one order that
// nearly every unit follows; one unit in a hundred takes two pool locks the other way round, so
// that the merge has cycles across files to find and describe, as a real code base would before its
// first merge is clean.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/LockOrder.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace {

constexpr int kUnits = 1000;
constexpr int kPoolLocks = 400;
constexpr int kSharedPerUnit = 12;
constexpr int kOwnPerUnit = 8;
constexpr int kEdgesPerUnit = 50;
constexpr int kTakesPerUnit = 20;
constexpr int kCallsPerUnit = 10;

// A lock as a unit names it, with its place in the program's one order.
struct Lock {
  ipcheck::LockName name;
  int rank;
};

std::string pool_key(int i) {
  // Half globals of a namespace, half members of a class: both are program-wide keys.
  return i % 2 ? "svc" + std::to_string(i / 16) + "::table_mu_" + std::to_string(i)
               : "Shard" + std::to_string(i / 2) + "::mu";
}

ipcheck::LockOrderFact::Step step(const std::string& file, unsigned line, const std::string& fn,
                                  const std::string& callee = "") {
  return {file, line, 5, callee, fn};
}

// Filled by make_unit, for add_calls: each unit's locks, and the rank of each exported take.
std::vector<std::vector<Lock>> locks_of_units;
std::vector<int> ranks_of_takes;

ipcheck::LockOrderFacts make_unit(int u, std::mt19937& rng) {
  const std::string file =
      "/src/module" + std::to_string(u / 50) + "/unit" + std::to_string(u) + ".cpp";
  const std::string header = "/src/include/shard" + std::to_string(u % 40) + ".h";
  std::vector<Lock> locks;
  std::vector<int> pool(kPoolLocks);
  for (int i = 0; i < kPoolLocks; ++i) pool[i] = i;
  std::shuffle(pool.begin(), pool.end(), rng);
  for (int i = 0; i < kSharedPerUnit; ++i) {
    std::string key = pool_key(pool[i]);
    locks.push_back({{key, key}, pool[i] * 10});
  }
  for (int i = 0; i < kOwnPerUnit; ++i) {
    std::string name = "local_mu" + std::to_string(i);
    // A unit's own locks sit between pool locks in the order.
    locks.push_back({{file + "#worker" + std::to_string(i) + "()::" + name, name},
                     int(rng() % (kPoolLocks * 10))});
  }
  std::sort(locks.begin(), locks.end(),
            [](const Lock& a, const Lock& b) { return a.rank < b.rank; });

  ipcheck::LockOrderFacts facts;
  facts.Unit = file;
  facts.ReportsOwnCycles = true;
  std::uniform_int_distribution<int> pick(0, int(locks.size()) - 1);
  const bool inverted = u % 100 == 42;
  while (int(facts.Edges.size()) < kEdgesPerUnit) {
    int x = pick(rng), y = pick(rng);
    if (x == y) continue;
    if (x > y) std::swap(x, y);
    const bool last = int(facts.Edges.size()) == kEdgesPerUnit - 1;
    if (inverted && last) {
      // Against the program's order: two pool locks, the later one first.
      auto shared = [&](int i) { return locks[i].name.Key.find('#') == std::string::npos; };
      if (!shared(x) || !shared(y)) continue;
      std::swap(x, y);
    }
    ipcheck::LockOrderFact f;
    f.From = locks[x].name;
    f.To = locks[y].name;
    f.FromShown = f.From.Name;
    f.ToShown = f.To.Name;
    const unsigned line = 20 + 7 * unsigned(facts.Edges.size());
    const std::string fn = "ns" + std::to_string(u) + "::handler" + std::to_string(x);
    f.Held = {step(file, line, fn)};
    if (facts.Edges.size() % 5 == 0)
      f.Acquired = {step(file, line + 2, fn, "lock_shard"), step(header, 30 + y, "lock_shard")};
    else
      f.Acquired = {step(file, line + 2, fn)};
    if (facts.Edges.size() % 7 == 0 && x > 0) f.Gate = {locks[0].name.Key};
    facts.Edges.push_back(std::move(f));
  }
  for (int k = 0; k < kTakesPerUnit; ++k) {
    const Lock& lock = locks[pick(rng)];
    const std::string fn = "ns" + std::to_string(u) + "::api" + std::to_string(k);
    facts.Takes.push_back({fn + "()", lock.name, lock.name.Name, {step(file, 400 + k, fn)}});
    ranks_of_takes.push_back(lock.rank);
  }
  locks_of_units.push_back(std::move(locks));
  return facts;
}

// Calls from each unit into the functions other units export, each with a lock held that
// comes earlier in the program's order than the one the callee takes.
void add_calls(std::vector<ipcheck::LockOrderFacts>& units, std::mt19937& rng) {
  std::uniform_int_distribution<int> unit(0, kUnits - 1), take(0, kTakesPerUnit - 1);
  for (int u = 0; u < kUnits; ++u) {
    const std::string& file = units[u].Unit;
    for (int c = 0; c < kCallsPerUnit; ++c) {
      const int v = unit(rng), k = take(rng);
      if (v == u) continue;
      const int rank = ranks_of_takes[v * kTakesPerUnit + k];
      const std::vector<Lock>& mine = locks_of_units[u];
      auto held =
          std::find_if(mine.rbegin(), mine.rend(), [&](const Lock& l) { return l.rank < rank; });
      if (held == mine.rend()) continue;
      const std::string caller = "ns" + std::to_string(u) + "::caller" + std::to_string(c);
      const ipcheck::LockOrderTake& callee = units[v].Takes[k];
      ipcheck::LockOrderCall call;
      call.Caller = caller + "()";
      call.Callee = callee.Function;
      call.CalleeShown = callee.Function;
      call.Site = step(file, 600 + 3 * c, caller);
      call.HeldLocks.push_back({held->name, held->name.Name, {step(file, 599 + 3 * c, caller)}});
      units[u].Calls.push_back(std::move(call));
    }
  }
}

// The facts directory, written once per run of the binary and removed at its end.
class FactsDirectory {
 public:
  FactsDirectory() {
    if (llvm::sys::fs::createUniqueDirectory("ipcheck-merge-bench", dir_)) return;
    std::mt19937 rng(6);
    std::vector<ipcheck::LockOrderFacts> units;
    for (int u = 0; u < kUnits; ++u) units.push_back(make_unit(u, rng));
    add_calls(units, rng);
    for (const ipcheck::LockOrderFacts& unit : units)
      if (llvm::Error e = ipcheck::writeLockOrderFacts(dir_, unit)) {
        error_ = llvm::toString(std::move(e));
        return;
      }
    llvm::Expected<std::vector<std::string>> files = ipcheck::listLockOrderFacts(dir_);
    if (!files) {
      error_ = llvm::toString(files.takeError());
      return;
    }
    files_ = std::move(*files);
  }
  ~FactsDirectory() {
    if (!dir_.empty()) llvm::sys::fs::remove_directories(dir_);
  }
  const std::vector<std::string>& files() const { return files_; }
  const std::string& error() const { return error_; }

 private:
  llvm::SmallString<128> dir_;
  std::vector<std::string> files_;
  std::string error_;
};

const FactsDirectory& facts_directory() {
  static FactsDirectory dir;
  return dir;
}

// One merge: read every file, build the graph, find and describe the cycles.
void BM_LockOrderMerge_1000Units(benchmark::State& state) {
  const FactsDirectory& dir = facts_directory();
  if (!dir.error().empty() || int(dir.files().size()) != kUnits) {
    state.SkipWithError(("cannot write the facts: " + dir.error()).c_str());
    return;
  }
  size_t cycles = 0, edges = 0;
  for (auto _ : state) {
    ipcheck::LockOrderMergeResult merged = ipcheck::mergeLockOrderFacts(dir.files(), "/src");
    if (!merged.Errors.empty()) {
      state.SkipWithError(merged.Errors.front().c_str());
      return;
    }
    cycles = merged.Findings.size();
    edges = merged.Edges;
    benchmark::DoNotOptimize(merged);
  }
  if (cycles == 0) state.SkipWithError("the inverted units gave no cycle to find");
  state.counters["units"] = kUnits;
  state.counters["edges"] = double(edges);
  state.counters["cycles"] = double(cycles);
}
BENCHMARK(BM_LockOrderMerge_1000Units)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
