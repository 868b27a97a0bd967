//===- NonatomicUpdateCheck.h - ipc-nonatomic-update ----------------------===//

#ifndef IPCHECK_CHECKS_NONATOMICUPDATECHECK_H
#define IPCHECK_CHECKS_NONATOMICUPDATECHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds read-modify-writes of shared state made of a separate read and write
/// with no lock held across both, so that updates from other processes are
/// lost.
///
/// Reported: a write whose value is computed from an earlier read of the same
/// object (`v.set(v.get() + 1)`, `a.store(a.load() + 1)`, `p.set(p.get() +
/// 1)`), and a compound assignment or increment through a reference to shared
/// state
/// (`v.value() += 1`, `arr[i]++`) with no lock held. Operations that are atomic
/// by themselves (`fetch_add`, a compare-exchange loop) are not.
class NonatomicUpdateCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-nonatomic-update"; }
  llvm::StringRef summary() const override {
    return "Finds read-modify-writes of shared state made of a separate read "
           "and write with no "
           "lock held across both, so that updates from other processes are "
           "lost.";
  }
  void check(const FunctionResult &Result, AnalysisContext &Ctx,
             std::vector<Finding> &Findings) override;
};

} // namespace ipcheck

#endif
