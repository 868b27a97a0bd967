//===- IpcheckPlugin.cpp - ipcheck as a clang plugin ----------------------===//
//
// `clang++-19 -fplugin=ipcheck-plugin.so` runs the checks after the normal
// compile action and reports through clang's diagnostics, so `-Werror` and
// `-verify` see them. Options: `-Xclang -plugin-arg-ipcheck -Xclang
// checks=...`, `warnings-as-errors=...`, `api=FILE` (an extra API table),
// `baseline=FILE`, `facts=DIR` (write the unit's lock-order facts there),
// `check-option=<check>.<option>=<value>`.
//
//===----------------------------------------------------------------------===//

#include "engine/Driver.h"

#include "clang/Frontend/CompilerInstance.h"
#include "clang/Frontend/FrontendPluginRegistry.h"
#include "llvm/Support/FileSystem.h"

using namespace clang;

namespace ipcheck {
namespace {

void ipcheckPluginAnchor() {}

class IpcheckPluginAction : public PluginASTAction {
protected:
  std::unique_ptr<ASTConsumer> CreateASTConsumer(CompilerInstance &CI,
                                                 llvm::StringRef) override {
    return createIpcheckConsumer(CI, Config);
  }

  bool ParseArgs(const CompilerInstance &CI,
                 const std::vector<std::string> &Args) override {
    DiagnosticsEngine &Diags = CI.getDiagnostics();
    unsigned BadArg =
        Diags.getCustomDiagID(DiagnosticsEngine::Error, "ipcheck plugin: %0");
    std::vector<std::string> Tables;
    bool Defaults = true;
    std::string BaselinePath;
    for (const std::string &Arg : Args) {
      llvm::StringRef A(Arg);
      if (A.consume_front("checks="))
        Config->Report.Checks = "*," + A.str();
      else if (A.consume_front("warnings-as-errors="))
        Config->Report.WarningsAsErrors = A.str();
      else if (A.consume_front("api="))
        Tables.push_back(A.str());
      else if (A.consume_front("baseline="))
        BaselinePath = A.str();
      else if (A.consume_front("facts="))
        Config->FactsDir = A.str();
      else if (A == "no-default-api")
        Defaults = false;
      else if (A.consume_front("check-option=")) {
        if (llvm::Error E = Config->setCheckOption(A)) {
          Diags.Report(BadArg) << llvm::toString(std::move(E));
          return false;
        }
      } else {
        Diags.Report(BadArg)
            << ("unknown argument '" + Arg +
                "'; expected checks=, warnings-as-errors=, api=, baseline=, "
                "facts=, check-option= or no-default-api");
        return false;
      }
    }
    if (llvm::Error E = Config->loadTables(
            reinterpret_cast<void *>(&ipcheckPluginAnchor), Tables, Defaults)) {
      Diags.Report(BadArg) << llvm::toString(std::move(E));
      return false;
    }
    if (!BaselinePath.empty()) {
      if (llvm::Error E = Config->Known.load(BaselinePath)) {
        Diags.Report(BadArg) << llvm::toString(std::move(E));
        return false;
      }
      Config->Report.Known = &Config->Known;
    }
    llvm::SmallString<256> Cwd;
    if (!llvm::sys::fs::current_path(Cwd))
      Config->Report.Root = std::string(Cwd);
    return true;
  }

  ActionType getActionType() override { return AddAfterMainAction; }

private:
  std::shared_ptr<RunConfig> Config = std::make_shared<RunConfig>();
};

} // namespace
} // namespace ipcheck

static FrontendPluginRegistry::Add<ipcheck::IpcheckPluginAction> X(
    "ipcheck",
    "find check-then-act races, lost updates and other multi-process mistakes");
