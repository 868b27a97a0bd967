//===- Driver.h - Running the checks over a translation unit -------------===//
//
// The part the plugin and the tool share: an ASTConsumer that analyzes the main
// file's functions and reports through a Reporter.
//
//===----------------------------------------------------------------------===//

#ifndef IPCHECK_ENGINE_DRIVER_H
#define IPCHECK_ENGINE_DRIVER_H

#include "engine/ApiTable.h"
#include "engine/Check.h"
#include "engine/Reporter.h"
#include "clang/AST/ASTConsumer.h"
#include <memory>

namespace clang {
class CompilerInstance;
}

namespace ipcheck {

/// Everything a run needs; shared by all translation units of a run.
struct RunConfig {
  ApiTable Api;
  ReportOptions Report;
  std::vector<std::unique_ptr<IpcCheck>> Checks = createAllChecks();
  ReportLog *Log = nullptr;
  Baseline Known;
  /// Where each unit writes its lock-order facts for `--merge-facts` (tool
  /// `--export-facts=DIR`, plugin `facts=DIR`); empty: none written.
  std::string FactsDir;

  /// Loads the shipped tables (unless \p Defaults is false) and then \p Extra.
  llvm::Error loadTables(void *AddressInBinary,
                         const std::vector<std::string> &Extra,
                         bool Defaults = true);
  /// Applies `<check>.<Option>=<value>`; an unknown check or option, or a
  /// value the option does not accept, is an error that says which.
  llvm::Error setCheckOption(llvm::StringRef Assignment);
};

/// The consumer keeps \p Config alive: a plugin action dies before its consumer
/// runs.
std::unique_ptr<clang::ASTConsumer>
createIpcheckConsumer(clang::CompilerInstance &CI,
                      std::shared_ptr<const RunConfig> Config);

} // namespace ipcheck

#endif
