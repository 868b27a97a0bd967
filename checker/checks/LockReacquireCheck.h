//===- LockReacquireCheck.h - ipc-lock-reacquire --------------------------===//

#ifndef IPCHECK_CHECKS_LOCKREACQUIRECHECK_H
#define IPCHECK_CHECKS_LOCKREACQUIRECHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds non-reentrant locks acquired again while already held on every path
/// to the acquisition — directly, or inside a function called with the lock
/// held — so that the holder waits for itself forever.
///
/// Acquisitions are the engine's (calls with the role `acquire`, RAII guards,
/// `unique_lock::lock`, and what a helper of the file takes, from its
/// summary), with the must-held lockset just before. Whether a lock is
/// reentrant comes from the API tables (`reentrant: true`), and for a kind with
/// `reentrant_when` names (a pthread mutex) from its initialization in the
/// file: a recursive initializer, or `pthread_mutex_init` with attributes set
/// recursive. Not reported: try-locks (they fail instead of waiting), counting
/// semaphores, locks of unknown kind, and elements chosen by a variable index
/// (`locks[i]` then `locks[j]` may be two locks).
class LockReacquireCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-lock-reacquire"; }
  llvm::StringRef summary() const override {
    return "Finds non-reentrant locks acquired again while already held on "
           "every path to the acquisition — directly, or inside a function "
           "called with the lock held — so that the holder waits for itself "
           "forever.";
  }
  void check(const FunctionResult &, AnalysisContext &,
             std::vector<Finding> &) override {}
  void
  checkTranslationUnit(AnalysisContext &Ctx,
                       llvm::ArrayRef<const clang::FunctionDecl *> Functions,
                       std::vector<Finding> &Findings) override;
};

} // namespace ipcheck

#endif
