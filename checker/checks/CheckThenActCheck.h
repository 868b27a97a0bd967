//===- CheckThenActCheck.h - ipc-check-then-act ---------------------------===//

#ifndef IPCHECK_CHECKS_CHECKTHENACTCHECK_H
#define IPCHECK_CHECKS_CHECKTHENACTCHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds actions on shared state decided by an earlier read of the same object
/// with no lock held from the read to the action, so that another process can
/// change the object in between.
///
/// The read decides the action when the action is control dependent on a branch
/// whose condition derives from the read (`if`, loops, `?:`, `switch`, `&&`,
/// early returns), or, for actions that are not writes, when the read flows
/// into the action's arguments. Actions are writes, takes, atomic
/// read-modify-writes, acquisitions and releases, directly or through a
/// helper's summary.
class CheckThenActCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-check-then-act"; }
  llvm::StringRef summary() const override {
    return "Finds actions on shared state decided by an earlier read of the "
           "same object with no "
           "lock held from the read to the action, so that another process can "
           "change the "
           "object in between.";
  }
  void check(const FunctionResult &Result, AnalysisContext &Ctx,
             std::vector<Finding> &Findings) override;
};

} // namespace ipcheck

#endif
