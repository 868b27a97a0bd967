//===- LockOrderCheck.h - ipc-lock-order ----------------------------------===//

#ifndef IPCHECK_CHECKS_LOCKORDERCHECK_H
#define IPCHECK_CHECKS_LOCKORDERCHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds locks taken in orders that form a cycle — one lock held while another
/// is acquired in one place, the other held while the first is acquired
/// elsewhere — so that processes or threads taking them at the same time can
/// deadlock.
///
/// Edges come from the must-held lockset at each acquisition that can wait,
/// and through the summaries of helpers (a helper that takes B, called with A
/// held, orders A before B). Each cycle of the file is reported once, at one
/// of its acquisitions, with a witness path per edge; cycles across files are
/// found by `ipcheck --merge-facts` over the facts each unit exports.
class LockOrderCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-lock-order"; }
  llvm::StringRef summary() const override {
    return "Finds locks taken in orders that form a cycle — one lock held "
           "while another is acquired in one place, the other held while the "
           "first is acquired elsewhere — so that processes or threads taking "
           "them at the same time can deadlock.";
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
