// relock_in_helper (buggy): 2 processes make 1,000 deposits each into a shared balance under
// an mp::Lock; every 100th deposit is audited (a shared count of audits, under the same lock).
//
// The audit helper takes the lock itself, and the depositor calls it while holding it: mp::Lock
// is not reentrant, so the first depositor to reach 100 waits for itself, and the other waits
// for it. The program notices with a join timeout and stops them. Compare ../fixed.
//
// Usage: relock_in_helper_buggy [fork|spawn|thread]   (exit 1 when it hung, as expected)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mp/process.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace {

constexpr int kDepositors = 2;
constexpr long kDeposits = 1000;
constexpr double kWatchdogSeconds = 3.0;

struct Shared {
  mp::Lock lock;
  mp::RawValue<long> balance{0};  // guarded by lock
  mp::RawValue<long> audits{0};   // guarded by lock

  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock, balance, audits);
  }
};

// Takes the lock: for callers that do not hold it.
void record_audit(Shared& shared) {
  mp::LockGuard guard(shared.lock);
  shared.audits.set(shared.audits.get() + 1);
}

void deposit_all(Shared shared) {
  for (long i = 0; i < kDeposits; ++i) {
    mp::LockGuard guard(shared.lock);
    shared.balance.set(shared.balance.get() + 1);
    if (shared.balance.get() % 100 == 0) record_audit(shared);  // BUG: takes the held lock again
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  Shared shared;
  std::vector<mp::Process> processes;
  for (int d = 0; d < kDepositors; ++d) processes.push_back(ctx.Process(deposit_all, shared));
  for (auto& p : processes) p.start();

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(kWatchdogSeconds);
  int blocked = 0;
  for (auto& p : processes) {
    std::chrono::duration<double> left = deadline - std::chrono::steady_clock::now();
    blocked += p.join(std::max(left.count(), 0.0)) ? 0 : 1;
  }
  if (blocked == 0) {
    std::printf("relock_in_helper (%s): balance %ld: not stuck this time\n", method,
                shared.balance.get());
    return 0;
  }
  std::printf(
      "relock_in_helper (%s): %d of %d depositors still blocked after %.0f s at balance %ld: "
      "HANG (the holder of a non-reentrant Lock acquired it again)\n",
      method, blocked, kDepositors, kWatchdogSeconds, shared.balance.get());
  std::fflush(stdout);
  if (ctx.method() != mp::StartMethod::kThread) {
    for (auto& p : processes) {
      if (p.is_alive()) p.kill();
      p.join();
    }
  }
  std::_Exit(1);  // thread-mode processes cannot be stopped from outside
}
