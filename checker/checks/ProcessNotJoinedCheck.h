//===- ProcessNotJoinedCheck.h - ipc-process-not-joined -------------------===//

#ifndef IPCHECK_CHECKS_PROCESSNOTJOINEDCHECK_H
#define IPCHECK_CHECKS_PROCESSNOTJOINEDCHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds processes and threads started in a scope that some path leaves
/// without joining them, and pools destroyed while results they handed out
/// asynchronously may still be pending, so that their tasks are killed.
///
/// A start is a call or construction with the table role `start`
/// (`Process::start`, `std::thread`'s constructor, `pthread_create`) on an
/// object the function owns, a local or the elements of a local container
/// (`for (auto &p : procs) p.start()`). It is discharged by `join` or
/// `detach` (`set_daemon(true)`, `std::thread::detach`), by a daemon flag
/// given at construction, or by a hand-off: moved or returned, stored into
/// another local (which takes the duty over), captured by reference, or passed
/// to a helper whose body joins its parameter (or to one whose body is not
/// seen). A loop that joins the elements of a container discharges the
/// container as a whole. The same CFG walk follows results of calls with the
/// role `async` (`apply_async`, `map_async`, `imap`) until `collect`
/// (`get`, `wait`, iterating an `imap`): a pool whose destructor has the role
/// `terminate` and that is destroyed with such a result pending, and no `join`
/// of the pool first on that path, is reported.
class ProcessNotJoinedCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-process-not-joined"; }
  llvm::StringRef summary() const override {
    return "Finds processes and threads started in a scope that some path "
           "leaves without joining them, and pools destroyed while results "
           "they handed out asynchronously may still be pending, so that their "
           "tasks are killed.";
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
