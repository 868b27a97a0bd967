//===- Check.h - The interface of an ipcheck check ------------------------===//

#ifndef IPCHECK_ENGINE_CHECK_H
#define IPCHECK_ENGINE_CHECK_H

#include "engine/FunctionAnalysis.h"
#include "clang/Basic/Diagnostic.h"
#include "clang/Basic/SourceLocation.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ipcheck {

/// The other half of a pattern: where the check was made, where the lock was
/// taken.
struct FindingNote {
  clang::SourceLocation Loc;
  std::string Message;
  std::vector<clang::FixItHint> Fixes; ///< A suggested change, not applied.
  /// Which witness path the note is a step of (SARIF: one threadFlow each,
  /// for patterns with a path per thread, such as a lock-order cycle).
  unsigned Flow = 0;
};

/// One diagnostic of one check, before suppression.
struct Finding {
  std::string Check;
  clang::SourceLocation Loc;
  std::string Message; ///< Without the `[check]` suffix.
  std::vector<FindingNote> Notes;
  const clang::FunctionDecl *Function = nullptr;
  /// Edits that fix the finding (clang's `-fixit` applies them).
  std::vector<clang::FixItHint> Fixes;
  /// Where the finding's own location goes among flow 0's steps (default: it
  /// ends the path).
  unsigned PrimaryStep = ~0u;
};

/// A check turns the facts of the engine's analysis of one function into
/// findings.
class IpcCheck {
public:
  virtual ~IpcCheck() = default;
  /// `ipc-check-then-act`.
  virtual llvm::StringRef name() const = 0;
  /// The doc's first sentence (SARIF rule help, `--list-checks`).
  virtual llvm::StringRef summary() const = 0;
  virtual void check(const FunctionResult &Result, AnalysisContext &Ctx,
                     std::vector<Finding> &Findings) = 0;
  /// Called once per translation unit, after check() has seen every analyzed
  /// function, with every function of the main file: for checks that need
  /// their own analysis (lifecycles) or facts beyond functions (the
  /// initializers of globals).
  virtual void
  checkTranslationUnit(AnalysisContext &Ctx,
                       llvm::ArrayRef<const clang::FunctionDecl *> Functions,
                       std::vector<Finding> &Findings) {}

  /// One option of a check: `--check-option=<check>.<Name>=<value>`.
  struct OptionInfo {
    llvm::StringRef Name;
    llvm::StringRef Values; ///< What it accepts, for errors: `true or false`.
    llvm::StringRef Help;
  };
  /// The options the check takes (none by default).
  virtual std::vector<OptionInfo> options() const { return {}; }
  /// Sets option \p Name, one of options(), to \p Value; false if the value
  /// is not one the option accepts.
  virtual bool setOption(llvm::StringRef Name, llvm::StringRef Value) {
    return false;
  }
};

/// A boolean option's value: `true`/`false` (or `1`/`0`), else nullopt.
std::optional<bool> parseBoolOption(llvm::StringRef Value);

/// Every check ipcheck has, in a stable order.
std::vector<std::unique_ptr<IpcCheck>> createAllChecks();

/// The earliest of \p Reads in the source (notes point at the first check).
ReadKey firstRead(const FunctionResult &Result,
                  const std::vector<ReadKey> &Reads,
                  const clang::SourceManager &SM);

} // namespace ipcheck

#endif
