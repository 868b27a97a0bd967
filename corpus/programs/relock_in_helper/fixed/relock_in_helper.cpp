// relock_in_helper (fixed): 2 processes make 1,000 deposits each into a shared balance under
// an mp::RLock; every 100th deposit is audited (a shared count of audits, under the same lock).
//
// The helper takes the lock itself and the depositor calls it while holding it, as in ../buggy,
// but the lock is an mp::RLock, which its holder may take again (and must release as often).
// (A helper that expects the lock held, `record_audit_locked`, is the other fix; the checker
// cannot see that its callers hold the lock, so ipc-nonatomic-update would flag its update.)
//
// Usage: relock_in_helper_fixed [fork|spawn|thread]   (exit 0: right answer)
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
  mp::RLock lock;
  mp::RawValue<long> balance{0};  // guarded by lock
  mp::RawValue<long> audits{0};   // guarded by lock

  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock, balance, audits);
  }
};

// Takes the lock: for callers that hold it already too (it is reentrant).
void record_audit(Shared& shared) {
  mp::LockGuard guard(shared.lock);
  shared.audits.set(shared.audits.get() + 1);
}

void deposit_all(Shared shared) {
  for (long i = 0; i < kDeposits; ++i) {
    mp::LockGuard guard(shared.lock);
    shared.balance.set(shared.balance.get() + 1);
    if (shared.balance.get() % 100 == 0) record_audit(shared);
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
  if (blocked > 0) {
    std::printf("relock_in_helper (%s): %d depositors still blocked after %.0f s: HANG\n",
                method, blocked, kWatchdogSeconds);
    std::fflush(stdout);
    std::_Exit(1);
  }
  const long expected = kDepositors * kDeposits;
  bool right = shared.balance.get() == expected && shared.audits.get() == expected / 100;
  std::printf("relock_in_helper (%s): balance %ld, %ld audits, expected %ld and %ld: %s\n",
              method, shared.balance.get(), shared.audits.get(), expected, expected / 100,
              right ? "right" : "WRONG");
  return right ? 0 : 1;
}
