//===- Driver.cpp - Running the checks over a translation unit -----------===//

#include "engine/Driver.h"
#include "checks/BlockingUnderLockCheck.h"
#include "checks/CheckThenActCheck.h"
#include "checks/LockOrderCheck.h"
#include "checks/LockReacquireCheck.h"
#include "checks/NonatomicUpdateCheck.h"
#include "checks/ProcessNotJoinedCheck.h"
#include "checks/ProxyLostUpdateCheck.h"
#include "checks/SpawnMainGuardCheck.h"
#include "engine/LockOrder.h"
#include "engine/MainFile.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/RecursiveASTVisitor.h"
#include "clang/Frontend/CompilerInstance.h"
#include "llvm/Support/FileSystem.h"
#include <set>
#include <tuple>

using namespace clang;

namespace ipcheck {

std::vector<std::unique_ptr<IpcCheck>> createAllChecks() {
  std::vector<std::unique_ptr<IpcCheck>> Checks;
  Checks.push_back(std::make_unique<CheckThenActCheck>());
  Checks.push_back(std::make_unique<NonatomicUpdateCheck>());
  Checks.push_back(std::make_unique<ProxyLostUpdateCheck>());
  Checks.push_back(std::make_unique<ProcessNotJoinedCheck>());
  Checks.push_back(std::make_unique<SpawnMainGuardCheck>());
  Checks.push_back(std::make_unique<LockOrderCheck>());
  Checks.push_back(std::make_unique<LockReacquireCheck>());
  Checks.push_back(std::make_unique<BlockingUnderLockCheck>());
  return Checks;
}

ReadKey firstRead(const FunctionResult &Result,
                  const std::vector<ReadKey> &Reads, const SourceManager &SM) {
  assert(!Reads.empty() && "no read to choose from");
  ReadKey Best = Reads.front();
  for (ReadKey K : Reads)
    if (SM.isBeforeInTranslationUnit(Result.Reads.at(K).Loc,
                                     Result.Reads.at(Best).Loc))
      Best = K;
  return Best;
}

std::optional<bool> parseBoolOption(llvm::StringRef Value) {
  if (Value == "true" || Value == "1")
    return true;
  if (Value == "false" || Value == "0")
    return false;
  return std::nullopt;
}

llvm::Error RunConfig::setCheckOption(llvm::StringRef Assignment) {
  auto Fail = [](const std::string &Message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                   Message.c_str());
  };
  auto [Key, Value] = Assignment.split('=');
  size_t Dot = Key.rfind('.');
  if (!Assignment.contains('=') || Dot == llvm::StringRef::npos || Dot == 0 ||
      Dot + 1 == Key.size())
    return Fail("malformed check option '" + Assignment.str() +
                "'; expected <check>.<option>=<value>");
  llvm::StringRef CheckName = Key.take_front(Dot);
  llvm::StringRef Option = Key.drop_front(Dot + 1);
  for (const auto &C : Checks) {
    if (C->name() != CheckName)
      continue;
    std::vector<IpcCheck::OptionInfo> Known = C->options();
    for (const IpcCheck::OptionInfo &O : Known)
      if (O.Name == Option) {
        if (C->setOption(Option, Value))
          return llvm::Error::success();
        return Fail("invalid value '" + Value.str() + "' for check option '" +
                    Key.str() + "'; expected " + O.Values.str());
      }
    std::string Names;
    for (const IpcCheck::OptionInfo &O : Known)
      Names += (Names.empty() ? "" : ", ") + O.Name.str();
    return Fail("unknown check option '" + Key.str() + "'; " +
                (Names.empty() ? "'" + CheckName.str() + "' has no options"
                               : "the options of '" + CheckName.str() +
                                     "' are: " + Names));
  }
  return Fail("unknown check '" + CheckName.str() + "' in check option '" +
              Assignment.str() + "'");
}

llvm::Error RunConfig::loadTables(void *AddressInBinary,
                                  const std::vector<std::string> &Extra,
                                  bool Defaults) {
  if (Defaults)
    if (llvm::Error E = Api.loadDirectory(defaultApiDirectory(AddressInBinary)))
      return E;
  for (const std::string &Path : Extra) {
    llvm::Error E = llvm::sys::fs::is_directory(Path) ? Api.loadDirectory(Path)
                                                      : Api.loadFile(Path);
    if (E)
      return E;
  }
  return llvm::Error::success();
}

namespace {

/// The functions written in the main file, lambdas included.
class MainFileFunctions : public MainFileVisitor<MainFileFunctions> {
public:
  using MainFileVisitor::MainFileVisitor;

  // A template is checked through its instantiations: only they know the types.
  bool shouldVisitTemplateInstantiations() const { return true; }

  bool VisitFunctionDecl(FunctionDecl *FD) {
    if (FD->doesThisDeclarationHaveABody() && !FD->isDependentContext())
      Functions.push_back(FD);
    return true;
  }
  bool VisitLambdaExpr(LambdaExpr *L) {
    CXXMethodDecl *Call = L->getCallOperator();
    if (Call && Call->hasBody() && !Call->isDependentContext())
      Functions.push_back(Call);
    return true;
  }

  std::vector<const FunctionDecl *> Functions;
};

class IpcheckConsumer : public ASTConsumer {
public:
  IpcheckConsumer(CompilerInstance &CI, std::shared_ptr<const RunConfig> Shared)
      : CI(CI), Shared(std::move(Shared)), Config(*this->Shared),
        Report(Config.Report, Config.Log) {}

  void HandleTranslationUnit(ASTContext &Ctx) override {
    DiagnosticsEngine &Diags = CI.getDiagnostics();
    // Code that does not compile has no meaning to check.
    if (Diags.hasErrorOccurred())
      return;
    if (Config.Log)
      ++Config.Log->CompiledUnits;
    std::vector<IpcCheck *> Enabled;
    for (const auto &C : Config.Checks)
      if (Report.enabled(C->name()))
        Enabled.push_back(C.get());
    if (Enabled.empty() && Config.FactsDir.empty())
      return;
    const SourceManager &SM = Ctx.getSourceManager();
    MainFileFunctions Visitor(SM);
    Visitor.TraverseDecl(Ctx.getTranslationUnitDecl());
    AnalysisContext Analysis(Ctx, Config.Api);
    std::vector<Finding> Findings;
    // Everything first: what one function does (a global used under a lock)
    // informs the findings of another.
    for (const FunctionDecl *FD : Visitor.Functions)
      Analysis.analyze(FD);
    for (const FunctionDecl *FD : Visitor.Functions) {
      const FunctionResult &R = Analysis.analyze(FD);
      if (!R.Analyzed)
        continue;
      for (IpcCheck *C : Enabled)
        C->check(R, Analysis, Findings);
    }
    for (IpcCheck *C : Enabled)
      C->checkTranslationUnit(Analysis, Visitor.Functions, Findings);
    if (!Config.FactsDir.empty())
      exportLockOrderFacts(Analysis, Visitor.Functions);
    std::vector<size_t> Order(Findings.size());
    for (size_t I = 0; I < Order.size(); ++I)
      Order[I] = I;
    std::sort(Order.begin(), Order.end(), [&](size_t A, size_t B) {
      if (Findings[A].Loc != Findings[B].Loc)
        return SM.isBeforeInTranslationUnit(Findings[A].Loc, Findings[B].Loc);
      return A < B;
    });
    // Instantiations of one template report the same finding once.
    std::set<std::tuple<unsigned, std::string, std::string>> Seen;
    for (size_t I : Order) {
      const Finding &F = Findings[I];
      if (Seen.insert({F.Loc.getRawEncoding(), F.Check, F.Message}).second)
        Report.report(F, Diags, SM);
    }
  }

private:
  /// Written for every unit that compiles, with no edges too: a unit's old
  /// facts must not outlive its edits.
  void exportLockOrderFacts(AnalysisContext &Analysis,
                            llvm::ArrayRef<const FunctionDecl *> Functions) {
    const SourceManager &SM = Analysis.AST.getSourceManager();
    LockOrderFacts Facts;
    Facts.Unit = mainFilePath(SM);
    Facts.ReportsOwnCycles = Report.enabled("ipc-lock-order");
    for (const LockOrderEdge &E :
         collectLockOrder(Analysis, Functions, Facts.Unit))
      Facts.Edges.push_back(resolveEdge(E, SM));
    collectCrossUnitFacts(Analysis, Functions, Facts);
    if (llvm::Error E = writeLockOrderFacts(Config.FactsDir, Facts)) {
      DiagnosticsEngine &Diags = CI.getDiagnostics();
      Diags.Report(
          Diags.getCustomDiagID(DiagnosticsEngine::Error, "ipcheck: %0"))
          << llvm::toString(std::move(E));
      if (Config.Log)
        ++Config.Log->OutputErrors;
    }
  }

  CompilerInstance &CI;
  std::shared_ptr<const RunConfig> Shared;
  const RunConfig &Config;
  Reporter Report;
};

} // namespace

std::unique_ptr<ASTConsumer>
createIpcheckConsumer(CompilerInstance &CI,
                      std::shared_ptr<const RunConfig> Config) {
  return std::make_unique<IpcheckConsumer>(CI, std::move(Config));
}

} // namespace ipcheck
