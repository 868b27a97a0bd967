//===- SpawnMainGuardCheck.h - ipc-spawn-main-guard -----------------------===//

#ifndef IPCHECK_CHECKS_SPAWNMAINGUARDCHECK_H
#define IPCHECK_CHECKS_SPAWNMAINGUARDCHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds paths on which `main` can start a process, a pool or a manager before
/// `mp::init(argc, argv)` has run, so that a spawned child re-runs the parent's
/// program instead of its target.
///
/// Starts are calls and constructions with the table roles `start` or
/// `start_workers` (`Process::start`, `Pool`'s constructor,
/// `SyncManager::start`, `mp::Manager()`), made in `main` or in a function it
/// calls (through summaries of the functions of the file, constructors
/// included), or during the static initialization of a global, which runs
/// before `main`. The guard is a call with the role `main_guard`
/// (`mp::init`), directly or in a helper that makes it on every path. A guard
/// called after a start is reported at the guard.
class SpawnMainGuardCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-spawn-main-guard"; }
  llvm::StringRef summary() const override {
    return "Finds paths on which 'main' can start a process, a pool or a "
           "manager before 'mp::init(argc, argv)' has run, so that a spawned "
           "child re-runs the parent's program instead of its target.";
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
