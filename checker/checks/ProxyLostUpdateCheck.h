//===- ProxyLostUpdateCheck.h - ipc-proxy-lost-update ---------------------===//

#ifndef IPCHECK_CHECKS_PROXYLOSTUPDATECHECK_H
#define IPCHECK_CHECKS_PROXYLOSTUPDATECHECK_H

#include "engine/Check.h"

namespace ipcheck {

/// Finds changes to a value fetched by copy from a manager proxy that are not
/// written back through the proxy on every path, so that the manager and every
/// other process keep the old value.
///
/// A fetch is a call with the table role `fetch` (`DictProxy::get`,
/// `operator[]`, `items`, `ListProxy::get`, `ValueProxy::get`, a `Namespace`
/// field); a change is a non-const member call with no const overload
/// (`push_back`, `insert`, `std::map::operator[]`), an assignment or increment
/// of a field or element, or passing the copy by non-const reference; a
/// write-back is a call with the role `writeback` (`set`, `update`) given the
/// copy, or a helper that does that with its parameter. The direct form
/// (`d.get(k).push_back(x)`) always loses the change. A local copy is followed
/// over the CFG to the end of its lifetime: a path that returns, throws or
/// leaves its scope after a change and before a write-back is reported, with a
/// fix-it that writes the copy back after the last change. A copy moved into
/// another local carries its changes there; one returned or handed to code
/// outside the function is not followed.
class ProxyLostUpdateCheck : public IpcCheck {
public:
  llvm::StringRef name() const override { return "ipc-proxy-lost-update"; }
  llvm::StringRef summary() const override {
    return "Finds changes to a value fetched by copy from a manager proxy that "
           "are not written back through the proxy on every path, so that the "
           "manager and every other process keep the old value.";
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
