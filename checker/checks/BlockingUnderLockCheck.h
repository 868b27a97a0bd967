//===- BlockingUnderLockCheck.h - ipc-blocking-under-lock -----------------===//

#ifndef IPCHECK_CHECKS_BLOCKINGUNDERLOCKCHECK_H
#define IPCHECK_CHECKS_BLOCKINGUNDERLOCKCHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds calls that can wait indefinitely for another process or thread while
/// a lock is held, so that everyone else who needs the lock stops too, and the
/// program deadlocks if the awaited party needs it.
///
/// A blocking call is one with the table role `block` (a queue's `get`,
/// `Process::join`, `read`, `sleep`, a condition wait), a counting semaphore's
/// acquisition, or a call of a helper of the file whose summary blocks. A
/// condition wait lets go of its own lock (the table's `lock` argument, or the
/// condition itself): only the other locks held count. A call given `block`
/// false or a zero timeout returns at once; one given another timeout, or a
/// timed wait (`timed_block`), is reported only with the option
/// StrictTimeouts. Taking a lock is not a blocking call here (lock-order
/// checks cover it), and a semaphore's unit is not a held lock.
class BlockingUnderLockCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-blocking-under-lock"; }
  llvm::StringRef summary() const override {
    return "Finds calls that can wait indefinitely for another process or "
           "thread while a lock is held, so that everyone else who needs the "
           "lock stops too, and the program deadlocks if the awaited party "
           "needs it.";
  }
  void check(const FunctionResult &Result, AnalysisContext &Ctx,
             std::vector<Finding> &Findings) override;
  std::vector<OptionInfo> options() const override;
  bool setOption(llvm::StringRef Name, llvm::StringRef Value) override;

private:
  /// Calls with a timeout other than zero are reported too.
  bool StrictTimeouts = false;
};

} // namespace ipcheck

#endif
