//===- BlockingUnderLockCheck.cpp - ipc-blocking-under-lock ---------------===//

#include "checks/BlockingUnderLockCheck.h"

#include "clang/AST/ASTContext.h"
#include "clang/Basic/SourceManager.h"

namespace ipcheck {

std::vector<IpcCheck::OptionInfo> BlockingUnderLockCheck::options() const {
  return {{"StrictTimeouts", "true or false",
           "also report calls that wait up to a non-zero timeout "
           "(default false)"}};
}

bool BlockingUnderLockCheck::setOption(llvm::StringRef Name,
                                       llvm::StringRef Value) {
  std::optional<bool> B = parseBoolOption(Value);
  if (Name != "StrictTimeouts" || !B)
    return false;
  StrictTimeouts = *B;
  return true;
}

/// `'a'`, `'a' and 'b'`, `'a', 'b' and 'c'`.
static std::string quotedList(const std::vector<std::string> &Names) {
  std::string S;
  for (size_t I = 0; I < Names.size(); ++I) {
    if (I)
      S += I + 1 == Names.size() ? " and " : ", ";
    S += "'" + Names[I] + "'";
  }
  return S;
}

void BlockingUnderLockCheck::check(const FunctionResult &Result,
                                   AnalysisContext &Ctx,
                                   std::vector<Finding> &Findings) {
  const clang::SourceManager &SM = Ctx.AST.getSourceManager();
  for (const BlockingCall &B : Result.Blocking) {
    if (B.Bound == BlockBound::Timed && !StrictTimeouts)
      continue;
    // Where each lock still held while the call waits was taken, earliest
    // first.
    std::vector<std::pair<PathId, WitnessPath>> Held;
    LockAcquisition At;
    At.Path = B.Path;
    for (PathId L : B.Held) {
      if (llvm::is_contained(B.Releases, L))
        continue;
      // A semaphore's unit is owned by nobody: holding one stops no one.
      if (const ApiLockKind *K = Ctx.lockKind(L); K && K->Counting)
        continue;
      Held.push_back({L, heldSite(Result, L, At, SM)});
    }
    if (Held.empty())
      continue;
    llvm::sort(Held, [&](const auto &X, const auto &Y) {
      return SM.isBeforeInTranslationUnit(X.second.front().Loc,
                                          Y.second.front().Loc);
    });
    std::vector<std::string> Names;
    for (const auto &H : Held)
      Names.push_back(Ctx.Paths.display(H.first));
    const WitnessStep &Call = B.Path.front();
    Finding F;
    F.Check = std::string(name());
    F.Loc = Call.Loc;
    F.Function = Result.Function;
    if (B.Path.size() == 1)
      F.Message = "blocking call to '" + B.Api + "'";
    else
      F.Message = "call to '" + Call.Callee + "' blocks in '" + B.Api + "'";
    F.Message += " while holding " + quotedList(Names);
    if (!B.Releases.empty()) {
      std::vector<std::string> Released;
      for (PathId L : B.Releases)
        Released.push_back(Ctx.Paths.display(L));
      F.Message += " (the wait lets go of " + quotedList(Released) + " only)";
    }
    if (B.Bound == BlockBound::Timed)
      F.Message += " (it waits up to its timeout)";
    for (const auto &[L, Where] : Held) {
      const WitnessStep &Taken = Where.front();
      std::string Note = "'" + Ctx.Paths.display(L) + "' acquired here";
      if (!Taken.Callee.empty())
        Note += " (by '" + Taken.Callee + "')";
      F.Notes.push_back({Taken.Loc, Note});
    }
    if (B.Path.size() > 1)
      F.Notes.push_back({B.Path.back().Loc,
                         "'" + B.Api + "' blocks here, in '" +
                             (B.Path.back().Function
                                  ? B.Path.back().Function->getNameAsString()
                                  : std::string("?")) +
                             "'"});
    Findings.push_back(std::move(F));
  }
}

} // namespace ipcheck
