//===- Sarif.h - SARIF 2.1.0 output ---------------------------------------===//

#ifndef IPCHECK_ENGINE_SARIF_H
#define IPCHECK_ENGINE_SARIF_H

#include "engine/Check.h"
#include "engine/Reporter.h"
#include "llvm/Support/JSON.h"

namespace ipcheck {

/// One SARIF log with one run: the tool with a rule per check, a result per
/// finding with its notes as a code flow, paths relative to \p Root
/// (`%SRCROOT%`).
llvm::json::Value
buildSarif(const std::vector<ReportedFinding> &Findings,
           const std::vector<std::unique_ptr<IpcCheck>> &Checks,
           llvm::StringRef Root);

llvm::Error writeSarif(llvm::StringRef Path,
                       const std::vector<ReportedFinding> &Findings,
                       const std::vector<std::unique_ptr<IpcCheck>> &Checks,
                       llvm::StringRef Root);

/// The version printed by `--version` and written to SARIF.
llvm::StringRef ipcheckVersion();

} // namespace ipcheck

#endif
