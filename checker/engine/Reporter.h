//===- Reporter.h - From findings to diagnostics, SARIF and baselines -----===//
//
// Both front ends report through here, so that the plugin and the tool print
// the same text: check selection, `// NOLINT`, the baseline,
// warnings-as-errors.
//
//===----------------------------------------------------------------------===//

#ifndef IPCHECK_ENGINE_REPORTER_H
#define IPCHECK_ENGINE_REPORTER_H

#include "engine/Check.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/Regex.h"
#include <set>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
}
namespace clang {
class DiagnosticsEngine;
class SourceManager;
} // namespace clang

namespace ipcheck {

/// clang-tidy's check globs: `-*,ipc-check-then-act`; the last match wins.
class GlobList {
public:
  explicit GlobList(llvm::StringRef Globs = "");
  bool contains(llvm::StringRef Name) const;

private:
  struct Item {
    bool Positive;
    std::string Pattern;
  };
  std::vector<Item> Items;
};

/// A finding as it leaves the checker: resolved to files and lines.
struct ReportedFinding {
  struct Location {
    std::string File; ///< Relative to the root when under it, else absolute.
    unsigned Line = 0;
    unsigned Column = 0;
    std::string Message;
    unsigned Flow = 0; ///< The witness path (SARIF threadFlow) of a note.
  };
  std::string Check;
  std::string Level; ///< `warning` or `error`.
  Location Primary;
  std::vector<Location> Notes;
  unsigned PrimaryStep = ~0u; ///< Its place among flow 0's steps.
  std::string Function;
  std::string Fingerprint;
};

/// Findings already known (`--baseline`): fingerprints, or `file:check:message`
/// lines.
class Baseline {
public:
  llvm::Error load(llvm::StringRef Path);
  bool contains(const ReportedFinding &F) const;
  static std::string entry(const ReportedFinding &F);
  static std::string key(const ReportedFinding &F);
  bool empty() const { return Fingerprints.empty() && Keys.empty(); }

private:
  std::set<std::string> Fingerprints;
  std::set<std::string> Keys;
};

/// What a run reports and how.
struct ReportOptions {
  std::string Checks = "*";
  std::string WarningsAsErrors;
  std::string Root; ///< Paths in SARIF and baselines are relative to this.
  const Baseline *Known = nullptr;
};

/// Collects what was reported across translation units (SARIF, baselines, exit
/// status).
struct ReportLog {
  std::vector<ReportedFinding> Findings;
  /// Outputs that could not be written (lock-order facts): exit status 2.
  unsigned OutputErrors = 0;
  unsigned Errors = 0;
  unsigned Suppressed = 0;
  unsigned CompiledUnits =
      0; ///< Translation units that compiled without error.
};

class Reporter {
public:
  Reporter(const ReportOptions &Options, ReportLog *Log);
  bool enabled(llvm::StringRef Check) const { return Checks.contains(Check); }
  /// Emits \p F unless suppressed; notes follow the warning.
  void report(const Finding &F, clang::DiagnosticsEngine &Diags,
              const clang::SourceManager &SM);

private:
  ReportedFinding resolve(const Finding &F,
                          const clang::SourceManager &SM) const;
  std::string relativePath(const clang::SourceManager &SM,
                           clang::SourceLocation Loc) const;

  const ReportOptions &Options;
  ReportLog *Log;
  GlobList Checks;
  GlobList AsErrors;
};

/// Prints \p F as clang prints a diagnostic and its notes
/// (`<file>:<line>:<col>: warning: <message> [<check>]`, then the line and a
/// caret when the file can be read; relative paths are under \p Root), for
/// findings made without a compile (the merge of lock-order facts).
void printFinding(llvm::raw_ostream &OS, const ReportedFinding &F,
                  llvm::StringRef Root = "");

/// Whether a `// NOLINT`, `// NOLINT(globs)` on the line of \p Loc, or a
/// `// NOLINTNEXTLINE(...)` on the line before, silences \p Check.
bool isSuppressedByNolint(const clang::SourceManager &SM,
                          clang::SourceLocation Loc, llvm::StringRef Check);

/// A stable identity for a finding: the check, the file, the text of the line
/// (whitespace removed), the function and the message; not the line number.
std::string fingerprint(llvm::StringRef Check, llvm::StringRef File,
                        llvm::StringRef LineText, llvm::StringRef Function,
                        llvm::StringRef Message);

} // namespace ipcheck

#endif
