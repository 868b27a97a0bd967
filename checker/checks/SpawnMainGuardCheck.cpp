//===- SpawnMainGuardCheck.cpp - ipc-spawn-main-guard ---------------------===//

#include "checks/SpawnMainGuardCheck.h"
#include "engine/LocalObjects.h"
#include "engine/MainFile.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/ExprCXX.h"
#include "clang/Basic/SourceManager.h"
#include <map>
#include <set>

using namespace clang;

namespace ipcheck {
namespace {

/// What calling a function does, as far as the main guard is concerned.
struct GuardSummary {
  /// A start that can happen before the function's own guard, if any.
  const Stmt *StartBeforeInit = nullptr;
  SourceLocation StartLoc; ///< The start itself (inside helpers it calls).
  std::string StartWhat;   ///< `a process`, `worker processes`.
  /// The function runs the guard on every path that returns.
  bool AlwaysInits = false;
};

/// A start, as met on a path.
struct StartEvent {
  const Stmt *Site;
  SourceLocation Loc; ///< Where the warning goes (the call in the function).
  SourceLocation StartLoc; ///< The start itself.
  std::string Api;
  std::string What;
};

struct State {
  bool Reached = false;
  bool Inited = false;            ///< On every path.
  std::set<const Stmt *> Started; ///< On some path.
  bool operator==(const State &O) const {
    return Reached == O.Reached && Inited == O.Inited && Started == O.Started;
  }
  void join(const State &O) {
    if (!O.Reached)
      return;
    if (!Reached) {
      *this = O;
      return;
    }
    Inited = Inited && O.Inited;
    Started.insert(O.Started.begin(), O.Started.end());
  }
};

class GuardAnalysis {
public:
  GuardAnalysis(AnalysisContext &Ctx, llvm::StringRef CheckName,
                std::vector<Finding> &Findings)
      : Ctx(Ctx), CheckName(CheckName), Findings(Findings) {}

  const GuardSummary &summary(const FunctionDecl *FD);
  void checkMain(const FunctionDecl *Main);
  void checkGlobal(const VarDecl *VD, const FunctionDecl *Main);

private:
  /// The start \p S makes, directly or through a helper, or false.
  bool startAt(const Stmt *S, bool Inited, StartEvent &Out);
  const FunctionDecl *helperOf(const Stmt *S) const;
  void run(const FunctionDecl *FD, GuardSummary &Sum, bool Report);
  SourceLocation mainNoteLoc(const FunctionDecl *Main) const;

  AnalysisContext &Ctx;
  llvm::StringRef CheckName;
  std::vector<Finding> &Findings;
  llvm::DenseMap<const FunctionDecl *, GuardSummary> Memo;
  std::set<const FunctionDecl *> InProgress;
};

const char *whatStarts(unsigned Roles) {
  return (Roles & RoleStart) ? "a process" : "worker processes";
}

const FunctionDecl *GuardAnalysis::helperOf(const Stmt *S) const {
  const FunctionDecl *Callee = nullptr;
  if (const auto *Call = dyn_cast<CallExpr>(S))
    Callee = Call->getDirectCallee();
  else if (const auto *CE = dyn_cast<CXXConstructExpr>(S))
    Callee = CE->getConstructor();
  if (!Callee)
    return nullptr;
  const FunctionDecl *Def = Callee->getDefinition();
  if (!Def || !Def->hasBody())
    return nullptr;
  // Summaries cover the code being checked; libraries are in the tables.
  const SourceManager &SM = Ctx.AST.getSourceManager();
  if (!writtenInMainFile(Def, SM))
    return nullptr;
  return Def;
}

bool GuardAnalysis::startAt(const Stmt *S, bool Inited, StartEvent &Out) {
  unsigned Roles = 0;
  std::string Api;
  // Only a library with a main guard re-runs `main` in its children: a
  // std::thread or a pthread is no process.
  auto Counts = [&](const ApiFunction *F) {
    return F && (!(F->Roles & (RoleStart | RoleStartWorkers)) ||
                 Ctx.Api.libraryHasRole(F->Library, RoleMainGuard));
  };
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    if (const ApiFunction *F = Ctx.Api.lookup(Call))
      Roles = Counts(F) ? F->Roles : 0;
    if (const FunctionDecl *Callee = Call->getDirectCallee())
      Api = Callee->getNameAsString();
  } else if (const auto *CE = dyn_cast<CXXConstructExpr>(S)) {
    if (const ApiFunction *F = Ctx.Api.lookup(CE))
      if (Counts(F) && ((F->Roles & RoleStartWorkers) || CE->getNumArgs() > 0))
        Roles = F->Roles;
    Api = CE->getConstructor()->getParent()->getNameAsString();
  }
  if (Roles & (RoleStart | RoleStartWorkers)) {
    Out = StartEvent{S, S->getBeginLoc(), S->getBeginLoc(), Api,
                     whatStarts(Roles)};
    if (const auto *MC = dyn_cast<CXXMemberCallExpr>(S))
      Out.Loc = Out.StartLoc = MC->getExprLoc();
    return true;
  }
  if (Roles)
    return false;
  const FunctionDecl *Helper = helperOf(S);
  if (!Helper)
    return false;
  const GuardSummary &Sub = summary(Helper);
  if (!Sub.StartBeforeInit)
    return false;
  SourceLocation Loc = S->getBeginLoc();
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(S))
    Loc = MC->getExprLoc();
  Out = StartEvent{S, Loc, Sub.StartLoc, Api, Sub.StartWhat};
  return true;
}

const GuardSummary &GuardAnalysis::summary(const FunctionDecl *FD) {
  auto It = Memo.find(FD);
  if (It != Memo.end())
    return It->second;
  static const GuardSummary Empty;
  if (InProgress.count(FD) || InProgress.size() > 32)
    return Empty; // Recursion: nothing more than what is already known.
  InProgress.insert(FD);
  GuardSummary Sum;
  run(FD, Sum, /*Report=*/false);
  InProgress.erase(FD);
  return Memo[FD] = Sum;
}

SourceLocation GuardAnalysis::mainNoteLoc(const FunctionDecl *Main) const {
  const auto *Body = dyn_cast_or_null<CompoundStmt>(Main->getBody());
  if (!Body)
    return Main->getLocation();
  if (!Body->body_empty())
    return (*Body->body_begin())->getBeginLoc();
  return Body->getLBracLoc();
}

void GuardAnalysis::run(const FunctionDecl *FD, GuardSummary &Sum,
                        bool Report) {
  std::unique_ptr<CFG> G = buildLifetimeCFG(FD, Ctx.AST);
  if (!G)
    return;
  std::map<const Stmt *, StartEvent> Unguarded; // Starts before the guard.
  std::map<const Stmt *, StartEvent> AllStarts;
  std::map<const Stmt *, const Stmt *>
      LateGuards; // Guard -> a start before it.
  auto Transfer = [&](const CFGBlock *B, const std::vector<State> &Out,
                      bool Final) {
    State St;
    if (B == &G->getEntry()) {
      St.Reached = true;
    } else {
      for (auto P = B->pred_begin(); P != B->pred_end(); ++P)
        if (const CFGBlock *Pred = P->getReachableBlock())
          St.join(Out[Pred->getBlockID()]);
    }
    if (!St.Reached)
      return St;
    for (const CFGElement &E : *B) {
      auto CS = E.getAs<CFGStmt>();
      if (!CS)
        continue;
      const Stmt *S = CS->getStmt();
      if (const auto *Call = dyn_cast<CallExpr>(S))
        if (const ApiFunction *F = Ctx.Api.lookup(Call);
            F && (F->Roles & RoleMainGuard)) {
          if (Final && !St.Started.empty())
            LateGuards.emplace(S, *St.Started.begin());
          St.Inited = true;
          continue;
        }
      StartEvent Ev;
      if (startAt(S, St.Inited, Ev)) {
        if (Final) {
          AllStarts.emplace(S, Ev);
          if (!St.Inited)
            Unguarded.emplace(S, Ev);
        }
        St.Started.insert(S);
        continue;
      }
      if (const FunctionDecl *Helper = helperOf(S))
        if (summary(Helper).AlwaysInits)
          St.Inited = true;
    }
    return St;
  };
  std::vector<State> Out = forwardFixedPoint<State>(
      *G, [&](const CFGBlock *B, const std::vector<State> &Current) {
        return Transfer(B, Current, false);
      });
  for (const CFGBlock *B : reversePostOrder(*G))
    Transfer(B, Out, true);

  State ExitState;
  for (auto P = G->getExit().pred_begin(); P != G->getExit().pred_end(); ++P)
    if (const CFGBlock *Pred = P->getReachableBlock())
      ExitState.join(Out[Pred->getBlockID()]);
  Sum.AlwaysInits = ExitState.Reached && ExitState.Inited;
  const SourceManager &SM = Ctx.AST.getSourceManager();
  for (const auto &[S, Ev] : Unguarded)
    if (!Sum.StartBeforeInit ||
        SM.isBeforeInTranslationUnit(Ev.Loc,
                                     Sum.StartBeforeInit->getBeginLoc())) {
      Sum.StartBeforeInit = S;
      Sum.StartLoc = Ev.StartLoc;
      Sum.StartWhat = Ev.What;
    }
  if (!Report)
    return;

  // A guard after a start is the finding; the starts before it are its note.
  std::set<const Stmt *> Covered;
  for (const auto &[Guard, Start] : LateGuards) {
    const StartEvent &Ev =
        AllStarts.count(Start) ? AllStarts[Start] : Unguarded[Start];
    Finding F;
    F.Check = std::string(CheckName);
    F.Loc = Guard->getBeginLoc();
    F.Function = FD;
    F.Message = "'mp::init' is called after " + Ev.What +
                " may have been started: it must run before any start";
    F.Notes.push_back({Ev.StartLoc, Ev.What + " is started here", {}});
    Findings.push_back(std::move(F));
    for (const auto &[S, E] : Unguarded)
      Covered.insert(S);
  }
  for (const auto &[S, Ev] : Unguarded) {
    if (Covered.count(S))
      continue;
    Finding F;
    F.Check = std::string(CheckName);
    F.Loc = Ev.Loc;
    F.Function = FD;
    F.Message = "'" + Ev.Api + "' can start " + Ev.What +
                " before 'mp::init(argc, argv)' has run in 'main'";
    if (Ev.StartLoc != Ev.Loc)
      F.Notes.push_back({Ev.StartLoc, Ev.What + " is started here", {}});
    F.Notes.push_back(
        {mainNoteLoc(FD),
         "'mp::init(argc, argv)' should be the first statement of 'main'",
         {}});
    Findings.push_back(std::move(F));
  }
}

void GuardAnalysis::checkMain(const FunctionDecl *Main) {
  GuardSummary Sum;
  run(Main, Sum, /*Report=*/true);
}

void GuardAnalysis::checkGlobal(const VarDecl *VD, const FunctionDecl *Main) {
  const Expr *Init = VD->getInit();
  if (!Init)
    return;
  // The first start in the initializer, in evaluation order or near it.
  StartEvent Ev;
  bool Found = false;
  llvm::SmallVector<const Stmt *, 16> Work{Init};
  while (!Work.empty() && !Found) {
    const Stmt *S = Work.pop_back_val();
    if (!S || isa<LambdaExpr>(S))
      continue;
    if (startAt(S, false, Ev)) {
      Found = true;
      break;
    }
    for (const Stmt *Child : S->children())
      Work.push_back(Child);
  }
  if (!Found)
    return;
  Finding F;
  F.Check = std::string(CheckName);
  F.Loc = VD->getLocation();
  F.Function = nullptr;
  F.Message = "initializing '" + VD->getNameAsString() + "' starts " + Ev.What +
              " before 'main' can call 'mp::init(argc, argv)'";
  if (Ev.StartLoc != Ev.Loc)
    F.Notes.push_back({Ev.StartLoc, Ev.What + " is started here", {}});
  if (Main)
    F.Notes.push_back({mainNoteLoc(Main),
                       "start it in 'main', after 'mp::init(argc, argv)'",
                       {}});
  Findings.push_back(std::move(F));
}

void collectGlobals(const DeclContext *DC, const SourceManager &SM,
                    std::vector<const VarDecl *> &Out) {
  for (const Decl *D : DC->decls()) {
    if (D->getLocation().isValid() && !writtenInMainFile(D, SM))
      continue;
    if (const auto *VD = dyn_cast<VarDecl>(D)) {
      if (VD->hasGlobalStorage() && !VD->isStaticLocal() && VD->getInit() &&
          !VD->getType()->isDependentType())
        Out.push_back(VD);
    } else if (const auto *NS = dyn_cast<NamespaceDecl>(D)) {
      collectGlobals(NS, SM, Out);
    } else if (const auto *LS = dyn_cast<LinkageSpecDecl>(D)) {
      collectGlobals(LS, SM, Out);
    } else if (const auto *RD = dyn_cast<CXXRecordDecl>(D);
               RD && !RD->isDependentContext() &&
               RD->isThisDeclarationADefinition()) {
      collectGlobals(RD, SM, Out);
    }
  }
}

} // namespace

void SpawnMainGuardCheck::checkTranslationUnit(
    AnalysisContext &Ctx, llvm::ArrayRef<const FunctionDecl *> Functions,
    std::vector<Finding> &Findings) {
  const FunctionDecl *Main = nullptr;
  for (const FunctionDecl *FD : Functions)
    if (FD->isMain() && FD->hasBody())
      Main = FD;
  const SourceManager &SM = Ctx.AST.getSourceManager();
  std::vector<const VarDecl *> Globals;
  collectGlobals(Ctx.AST.getTranslationUnitDecl(), SM, Globals);
  if (!Main && Globals.empty())
    return;
  GuardAnalysis Analysis(Ctx, name(), Findings);
  for (const VarDecl *VD : Globals)
    Analysis.checkGlobal(VD, Main);
  if (Main)
    Analysis.checkMain(Main);
}

} // namespace ipcheck
