//===- ProcessNotJoinedCheck.cpp - ipc-process-not-joined -----------------===//

#include "checks/ProcessNotJoinedCheck.h"
#include "engine/LocalObjects.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/DeclTemplate.h"
#include "clang/AST/ExprCXX.h"
#include "clang/AST/StmtCXX.h"
#include "clang/Basic/SourceManager.h"
#include <map>
#include <set>

using namespace clang;

namespace ipcheck {
namespace {

/// What a helper does with one of its parameters.
enum : unsigned {
  JoinsIt = 1,    ///< Joins (or detaches) the process or thread.
  CollectsIt = 2, ///< Waits for the pending result.
  DrainsIt = 4,   ///< Joins (or terminates) the pool.
};

struct Duty {
  enum DutyKind { Join, Collect } Kind = Join;
  const Stmt *Site = nullptr;
  SourceLocation Loc;
  std::string Api;
  const ValueDecl *Pool = nullptr; ///< For Collect: whose destruction kills it.
};

/// A duty and who holds it (null: nobody, a discarded result).
using Pending = std::pair<unsigned, const ValueDecl *>;
using State = std::set<Pending>;

bool isFalseLiteral(const Expr *E) {
  E = E->IgnoreParenImpCasts();
  if (const auto *B = dyn_cast<CXXBoolLiteralExpr>(E))
    return !B->getValue();
  if (const auto *I = dyn_cast<IntegerLiteral>(E))
    return I->getValue() == 0;
  return false;
}

class LifecycleTables {
public:
  explicit LifecycleTables(const ApiTable &Api) : Api(Api) {}
  unsigned roles(const CallExpr *Call) const {
    const ApiFunction *F = Api.lookup(Call);
    return F ? F->Roles : 0;
  }
  unsigned roles(const CXXConstructExpr *CE) const {
    const ApiFunction *F = Api.lookup(CE);
    return F && CE->getNumArgs() > 0 ? F->Roles : 0;
  }
  /// The object a lifecycle call acts on.
  const Expr *objectOf(const CallExpr *Call) const {
    if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call))
      return MC->getImplicitObjectArgument();
    const ApiFunction *F = Api.lookup(Call);
    unsigned Index = F && F->Object >= 0 ? F->Object : 0;
    if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call);
        OC && isa_and_nonnull<CXXMethodDecl>(OC->getDirectCallee()))
      Index = 0;
    return Index < Call->getNumArgs() ? Call->getArg(Index) : nullptr;
  }
  /// Whether destroying an object of type \p T ends its pending work.
  bool terminatesOnDestroy(QualType T) const {
    const CXXRecordDecl *RD = T.getNonReferenceType()->getAsCXXRecordDecl();
    const CXXDestructorDecl *D =
        RD && RD->hasDefinition() ? RD->getDestructor() : nullptr;
    const ApiFunction *F =
        D ? Api.lookupName(ApiTable::qualifiedName(D)) : nullptr;
    return F && (F->Roles & RoleTerminate);
  }
  /// Whether a container's `emplace_back(args...)` constructs a started
  /// element (a `std::vector<std::thread>`).
  bool emplacesStarted(const CXXMemberCallExpr *MC) const {
    const CXXMethodDecl *M = MC->getMethodDecl();
    if (!M || !M->getIdentifier() || !M->getName().starts_with("emplace") ||
        MC->getNumArgs() == 0)
      return false;
    const auto *Spec =
        dyn_cast_or_null<ClassTemplateSpecializationDecl>(M->getParent());
    if (!Spec || Spec->getTemplateArgs().size() == 0 ||
        Spec->getTemplateArgs()[0].getKind() != TemplateArgument::Type)
      return false;
    const CXXRecordDecl *Elem =
        Spec->getTemplateArgs()[0].getAsType()->getAsCXXRecordDecl();
    if (!Elem || !Elem->hasDefinition())
      return false;
    if (MC->getNumArgs() == 1 &&
        MC->getArg(0)->getType()->getAsCXXRecordDecl() == Elem)
      return false; // A move of an existing element.
    for (const CXXConstructorDecl *C : Elem->ctors()) {
      const ApiFunction *F = Api.lookupName(ApiTable::qualifiedName(C));
      if (F && (F->Roles & RoleStart))
        return true;
    }
    return false;
  }
  const ApiTable &Api;
};

/// What helpers do with their parameters, memoized over the translation unit.
class HandOffSummaries {
public:
  explicit HandOffSummaries(const LifecycleTables &T) : T(T) {}
  unsigned of(const FunctionDecl *Callee, unsigned Index, unsigned Depth = 0);
  /// (owner, what is done to it) for every lifecycle call and helper call
  /// under \p S.
  void collect(const Stmt *S, const LocalObjects &L, unsigned Depth,
               std::vector<std::pair<const ValueDecl *, unsigned>> &Out);

private:
  const LifecycleTables &T;
  llvm::DenseMap<std::pair<const FunctionDecl *, unsigned>, unsigned> Memo;
};

unsigned effectOfRoles(unsigned Roles, const CallExpr *Call) {
  unsigned Effect = 0;
  if (Roles & (RoleJoin | RoleDetach))
    if (!(Roles & RoleDetach) || Call->getNumArgs() == 0 ||
        !isFalseLiteral(Call->getArg(Call->getNumArgs() - 1)))
      Effect |= JoinsIt;
  if (Roles & (RoleJoin | RoleTerminate))
    Effect |= DrainsIt;
  if (Roles & RoleCollect)
    Effect |= CollectsIt;
  return Effect;
}

void HandOffSummaries::collect(
    const Stmt *S, const LocalObjects &L, unsigned Depth,
    std::vector<std::pair<const ValueDecl *, unsigned>> &Out) {
  if (!S)
    return;
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    if (unsigned Roles = T.roles(Call)) {
      if (unsigned Effect = effectOfRoles(Roles, Call))
        if (const Expr *Obj = T.objectOf(Call))
          if (const ValueDecl *O = L.ownerOf(Obj))
            Out.push_back({O, Effect});
    } else if (const FunctionDecl *Callee = Call->getDirectCallee()) {
      unsigned Skip =
          isa<CXXOperatorCallExpr>(Call) && isa<CXXMethodDecl>(Callee);
      for (unsigned I = Skip; I < Call->getNumArgs(); ++I)
        if (const ValueDecl *O = L.ownerOf(Call->getArg(I)))
          if (unsigned Effect = of(Callee, I - Skip, Depth + 1))
            Out.push_back({O, Effect});
    }
  }
  for (const Stmt *Child : S->children())
    collect(Child, L, Depth, Out);
}

unsigned HandOffSummaries::of(const FunctionDecl *Callee, unsigned Index,
                              unsigned Depth) {
  const FunctionDecl *Def = Callee ? Callee->getDefinition() : nullptr;
  if (!Def || !Def->hasBody() || Index >= Def->getNumParams() || Depth > 6)
    return 0;
  auto Key = std::make_pair(Def, Index);
  auto It = Memo.find(Key);
  if (It != Memo.end())
    return It->second;
  Memo[Key] = 0; // A recursive call does nothing more.
  LocalObjects L(Def);
  std::vector<std::pair<const ValueDecl *, unsigned>> Effects;
  collect(Def->getBody(), L, Depth, Effects);
  unsigned Mask = 0;
  for (auto [O, Effect] : Effects)
    if (O == Def->getParamDecl(Index))
      Mask |= Effect;
  Memo[Key] = Mask;
  return Mask;
}

class JoinAnalyzer {
public:
  JoinAnalyzer(const FunctionDecl *FD, AnalysisContext &Ctx,
               const LifecycleTables &T, HandOffSummaries &Summaries,
               llvm::StringRef CheckName, std::vector<Finding> &Findings)
      : FD(FD), Ctx(Ctx), T(T), Summaries(Summaries), Locals(FD),
        CheckName(CheckName), Findings(Findings) {}
  void run();

private:
  void prescan(const Stmt *S);
  unsigned dutyAt(const Stmt *Site, Duty::DutyKind Kind, llvm::StringRef Api,
                  const ValueDecl *Pool, SourceLocation Loc);
  void gen(unsigned D, const ValueDecl *Owner, State &St) {
    St.insert({D, Owner});
  }
  void discharge(const ValueDecl *O, unsigned Effect, State &St);
  void transferOwner(const ValueDecl *From, const ValueDecl *To, State &St);
  void handOff(const Expr *Arg, const ValueDecl *To, State &St);
  const ValueDecl *wholeOwner(const Expr *E) const;
  bool isAsyncSite(const Expr *E, unsigned &D) const;
  void transferStmt(const Stmt *S, State &St);
  void transferCall(const CallExpr *Call, State &St);
  void transferElement(const CFGElement &E, State &St, bool Final);
  void leave(const Pending &P, SourceLocation Where, bool Final);
  void destroyPool(const ValueDecl *Pool, SourceLocation Where, State &St,
                   bool Final);
  void report();

  const FunctionDecl *FD;
  AnalysisContext &Ctx;
  const LifecycleTables &T;
  HandOffSummaries &Summaries;
  LocalObjects Locals;
  llvm::StringRef CheckName;
  std::vector<Finding> &Findings;
  std::vector<Duty> Duties;
  llvm::DenseMap<const Stmt *, unsigned> DutyOfSite;
  std::set<const ValueDecl *> Daemons;
  std::map<const Stmt *, std::vector<std::pair<const ValueDecl *, unsigned>>>
      LoopEffects;
  /// Where each pending duty can be left behind: its earliest exit is reported.
  std::map<Pending, std::vector<SourceLocation>> Leaks;
};

unsigned JoinAnalyzer::dutyAt(const Stmt *Site, Duty::DutyKind Kind,
                              llvm::StringRef Api, const ValueDecl *Pool,
                              SourceLocation Loc) {
  auto It = DutyOfSite.find(Site);
  if (It != DutyOfSite.end())
    return It->second;
  Duties.push_back(Duty{Kind, Site, Loc, Api.str(), Pool});
  DutyOfSite[Site] = Duties.size() - 1;
  return Duties.size() - 1;
}

/// Options given at construction that make the process a daemon:
/// `Process({.daemon = true}, f)`.
bool hasDaemonOption(const Expr *E) {
  E = stripTemporaries(E);
  if (const auto *FC = dyn_cast<CXXFunctionalCastExpr>(E))
    E = stripTemporaries(FC->getSubExpr());
  if (const auto *IL = dyn_cast<InitListExpr>(E)) {
    const RecordDecl *RD = IL->getType()->getAsRecordDecl();
    if (RD) {
      unsigned I = 0;
      for (const FieldDecl *F : RD->fields()) {
        if (I >= IL->getNumInits())
          break;
        if (F->getIdentifier() && F->getName() == "daemon") {
          const Expr *Init = stripTemporaries(IL->getInit(I));
          if (const auto *CE = dyn_cast<CXXConstructExpr>(Init);
              CE && CE->getNumArgs() == 1)
            Init = stripTemporaries(CE->getArg(0));
          if (const auto *B = dyn_cast<CXXBoolLiteralExpr>(Init))
            return B->getValue();
        }
        ++I;
      }
    }
  }
  if (const auto *CE = dyn_cast<CXXConstructExpr>(E))
    for (const Expr *A : CE->arguments())
      if (hasDaemonOption(A))
        return true;
  return false;
}

void JoinAnalyzer::prescan(const Stmt *S) {
  if (!S)
    return;
  // `p.set_daemon(true)`, before or after the start: never joined, by design.
  if (const auto *Call = dyn_cast<CallExpr>(S))
    if ((T.roles(Call) & RoleDetach) && Call->getNumArgs() > 0 &&
        !isFalseLiteral(Call->getArg(Call->getNumArgs() - 1)))
      if (const Expr *Obj = T.objectOf(Call))
        if (const ValueDecl *O = Locals.ownerOf(Obj))
          Daemons.insert(O);
  if (const auto *DS = dyn_cast<DeclStmt>(S))
    for (const Decl *D : DS->decls())
      if (const auto *VD = dyn_cast<VarDecl>(D); VD && VD->getInit())
        if (const auto *CE =
                dyn_cast<CXXConstructExpr>(stripTemporaries(VD->getInit())))
          for (const Expr *A : CE->arguments())
            if (hasDaemonOption(A))
              Daemons.insert(VD);
  if (isa<ForStmt, CXXForRangeStmt, WhileStmt, DoStmt>(S)) {
    const Stmt *Body = nullptr;
    if (const auto *F = dyn_cast<ForStmt>(S))
      Body = F->getBody();
    else if (const auto *R = dyn_cast<CXXForRangeStmt>(S))
      Body = R->getBody();
    else if (const auto *W = dyn_cast<WhileStmt>(S))
      Body = W->getBody();
    else
      Body = cast<DoStmt>(S)->getBody();
    Summaries.collect(Body, Locals, 0, LoopEffects[S]);
  }
  for (const Stmt *Child : S->children())
    prescan(Child);
}

void JoinAnalyzer::discharge(const ValueDecl *O, unsigned Effect, State &St) {
  if (!O)
    return;
  for (auto It = St.begin(); It != St.end();) {
    const Duty &D = Duties[It->first];
    bool Done =
        (D.Kind == Duty::Join && (Effect & JoinsIt) && It->second == O) ||
        (D.Kind == Duty::Collect && (Effect & CollectsIt) && It->second == O) ||
        (D.Kind == Duty::Collect && (Effect & DrainsIt) && D.Pool == O);
    It = Done ? St.erase(It) : std::next(It);
  }
}

void JoinAnalyzer::transferOwner(const ValueDecl *From, const ValueDecl *To,
                                 State &St) {
  if (!From || From == To)
    return;
  std::vector<Pending> Moved;
  for (auto It = St.begin(); It != St.end();) {
    if (It->second == From) {
      Moved.push_back(*It);
      It = St.erase(It);
    } else {
      ++It;
    }
  }
  // Held by code outside the function from now on: not followed.
  if (!To || !LocalObjects::ownsObject(To))
    return;
  for (const Pending &P : Moved)
    St.insert({P.first, To});
}

const ValueDecl *JoinAnalyzer::wholeOwner(const Expr *E) const {
  E = stripTemporaries(E);
  // A move construction (`return p;`, `f(std::move(p))` by value).
  if (const auto *CE = dyn_cast<CXXConstructExpr>(E);
      CE && CE->getNumArgs() == 1 && CE->getConstructor() &&
      CE->getConstructor()->isCopyOrMoveConstructor())
    E = stripTemporaries(CE->getArg(0));
  if (const auto *Call = dyn_cast<CallExpr>(E); Call && isCastLikeCall(Call))
    E = stripTemporaries(Call->getArg(0));
  const auto *DRE = dyn_cast<DeclRefExpr>(E);
  return DRE ? Locals.ownerOf(DRE) : nullptr;
}

bool JoinAnalyzer::isAsyncSite(const Expr *E, unsigned &D) const {
  auto It = DutyOfSite.find(stripTemporaries(E));
  if (It == DutyOfSite.end() || Duties[It->second].Kind != Duty::Collect)
    return false;
  D = It->second;
  return true;
}

/// \p Arg goes to \p To (a local that takes it over) or, if null, out of sight.
void JoinAnalyzer::handOff(const Expr *Arg, const ValueDecl *To, State &St) {
  unsigned D;
  if (isAsyncSite(Arg, D)) {
    if (St.erase({D, nullptr}) && To && LocalObjects::ownsObject(To))
      St.insert({D, To});
    return;
  }
  if (const ValueDecl *From = wholeOwner(Arg))
    transferOwner(From, To, St);
}

void JoinAnalyzer::transferCall(const CallExpr *Call, State &St) {
  if (isCastLikeCall(Call))
    return; // `std::move(x)`: where the result goes decides.
  unsigned Roles = T.roles(Call);
  const Expr *ObjExpr = T.objectOf(Call);
  const ValueDecl *Obj = ObjExpr ? Locals.ownerOf(ObjExpr) : nullptr;
  const FunctionDecl *Callee = Call->getDirectCallee();
  std::string Api = Callee ? Callee->getNameAsString() : "call";
  if (Roles & RoleStart) {
    if (Obj && LocalObjects::ownsObject(Obj) && !Daemons.count(Obj))
      gen(dutyAt(Call, Duty::Join, Api, nullptr, Call->getExprLoc()), Obj, St);
    return;
  }
  if (Roles & RoleAsync) {
    if (Obj && LocalObjects::ownsObject(Obj) &&
        T.terminatesOnDestroy(Obj->getType()))
      gen(dutyAt(Call, Duty::Collect, Api, Obj, Call->getExprLoc()), nullptr,
          St);
    return;
  }
  if (unsigned Effect = Roles ? effectOfRoles(Roles, Call) : 0) {
    discharge(Obj, Effect, St);
    return;
  }
  if (Roles)
    return;

  const auto *MC = dyn_cast<CXXMemberCallExpr>(Call);
  const CXXMethodDecl *Method = MC ? MC->getMethodDecl() : nullptr;
  const ValueDecl *Container =
      Method && isMutatingMethod(Method) && Obj && LocalObjects::ownsObject(Obj)
          ? Obj
          : nullptr;
  if (Container && T.emplacesStarted(MC)) {
    gen(dutyAt(Call, Duty::Join, Api, nullptr, Call->getExprLoc()), Container,
        St);
    return;
  }
  // `t = std::thread(f)`, `p = std::move(q)`.
  if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call);
      OC && OC->getOperator() == OO_Equal && OC->getNumArgs() == 2) {
    const ValueDecl *To = wholeOwner(OC->getArg(0));
    if (const auto *CE =
            dyn_cast<CXXConstructExpr>(stripTemporaries(OC->getArg(1)));
        CE && (T.roles(CE) & RoleStart) && To && LocalObjects::ownsObject(To)) {
      gen(dutyAt(CE, Duty::Join, "thread", nullptr, CE->getExprLoc()), To, St);
      return;
    }
    handOff(OC->getArg(1), To, St);
    return;
  }
  unsigned Skip =
      isa<CXXOperatorCallExpr>(Call) && isa_and_nonnull<CXXMethodDecl>(Callee);
  for (unsigned I = Skip; I < Call->getNumArgs(); ++I) {
    const Expr *Arg = Call->getArg(I);
    if (Container) {
      // `procs.push_back(std::move(p))`, `threads.push_back(std::thread(f))`.
      if (const auto *CE = dyn_cast<CXXConstructExpr>(stripTemporaries(Arg));
          CE && (T.roles(CE) & RoleStart)) {
        gen(dutyAt(CE, Duty::Join, "thread", nullptr, CE->getExprLoc()),
            Container, St);
        continue;
      }
      handOff(Arg, Container, St);
      continue;
    }
    unsigned D;
    const ValueDecl *Whole = wholeOwner(Arg);
    const ValueDecl *Part = Locals.ownerOf(Arg);
    if (!isAsyncSite(Arg, D) && !Whole && !Part)
      continue;
    const ParmVarDecl *Param = Callee && I - Skip < Callee->getNumParams()
                                   ? Callee->getParamDecl(I - Skip)
                                   : nullptr;
    const FunctionDecl *Def = Callee ? Callee->getDefinition() : nullptr;
    if (Def && Def->hasBody()) {
      if (unsigned Effect = Summaries.of(Def, I - Skip)) {
        discharge(Whole ? Whole : Part, Effect, St);
        continue;
      }
      QualType PT = Param ? Param->getType() : QualType();
      if (!PT.isNull() && !PT->isReferenceType() && !PT->isPointerType())
        handOff(Arg, nullptr, St); // Moved into the helper: its own duty now.
      else if (!PT.isNull() && PT->isRValueReferenceType())
        handOff(Arg, nullptr, St);
      continue;
    }
    // Code the analysis does not see may keep or join what it is given,
    // unless it can only read it.
    QualType PT = Param ? Param->getType() : QualType();
    bool ReadOnly = !PT.isNull() && PT->isLValueReferenceType() &&
                    PT.getNonReferenceType().isConstQualified();
    if (!ReadOnly) {
      if (isAsyncSite(Arg, D) || Whole)
        handOff(Arg, nullptr, St);
      else if (Part)
        transferOwner(Part, nullptr, St);
    }
  }
}

void JoinAnalyzer::transferStmt(const Stmt *S, State &St) {
  if (const auto *DS = dyn_cast<DeclStmt>(S)) {
    for (const Decl *Dc : DS->decls()) {
      const auto *VD = dyn_cast<VarDecl>(Dc);
      if (!VD || !VD->getInit() || !LocalObjects::ownsObject(VD))
        continue;
      const Expr *Init = stripTemporaries(VD->getInit());
      if (const auto *CE = dyn_cast<CXXConstructExpr>(Init)) {
        if ((T.roles(CE) & RoleStart) && !Daemons.count(VD)) {
          gen(dutyAt(CE, Duty::Join,
                     VD->getType()
                         .getNonReferenceType()
                         .getUnqualifiedType()
                         .getAsString(),
                     nullptr, CE->getExprLoc()),
              VD, St);
          continue;
        }
        if (CE->getNumArgs() == 1)
          handOff(CE->getArg(0), VD, St); // A move construction.
        continue;
      }
      handOff(Init, VD, St);
    }
    return;
  }
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    transferCall(Call, St);
    return;
  }
  if (const auto *RS = dyn_cast<ReturnStmt>(S)) {
    if (RS->getRetValue())
      handOff(RS->getRetValue(), nullptr, St);
    return;
  }
  if (const auto *LE = dyn_cast<LambdaExpr>(S)) {
    for (const LambdaCapture &C : LE->captures())
      if (C.capturesVariable() && C.getCaptureKind() == LCK_ByRef) {
        const ValueDecl *O = Locals.resolve(C.getCapturedVar());
        discharge(O, JoinsIt | CollectsIt | DrainsIt, St);
      }
    return;
  }
}

void JoinAnalyzer::leave(const Pending &P, SourceLocation Where, bool Final) {
  if (Final && Where.isValid())
    Leaks[P].push_back(Where);
}

void JoinAnalyzer::destroyPool(const ValueDecl *Pool, SourceLocation Where,
                               State &St, bool Final) {
  for (auto It = St.begin(); It != St.end();) {
    if (Duties[It->first].Kind == Duty::Collect &&
        Duties[It->first].Pool == Pool) {
      leave(*It, Where, Final);
      It = St.erase(It);
    } else {
      ++It;
    }
  }
}

void JoinAnalyzer::transferElement(const CFGElement &E, State &St, bool Final) {
  if (auto S = E.getAs<CFGStmt>()) {
    transferStmt(S->getStmt(), St);
    return;
  }
  const VarDecl *V = endedVariable(E);
  if (!V)
    return;
  SourceLocation Where = scopeExitLocation(E);
  std::vector<Pending> Orphaned;
  for (auto It = St.begin(); It != St.end();) {
    if (It->second != V) {
      ++It;
      continue;
    }
    if (Duties[It->first].Kind == Duty::Join)
      leave(*It, Where, Final);
    else
      Orphaned.push_back({It->first, nullptr}); // Still pending in its pool.
    It = St.erase(It);
  }
  St.insert(Orphaned.begin(), Orphaned.end());
  if (E.getAs<CFGAutomaticObjDtor>() || !V->getType()->getAsCXXRecordDecl() ||
      V->getType()->getAsCXXRecordDecl()->hasTrivialDestructor())
    destroyPool(V, Where, St, Final);
}

void JoinAnalyzer::report() {
  const SourceManager &SM = Ctx.AST.getSourceManager();
  for (auto &[P, Wheres] : Leaks) {
    SourceLocation Where = Wheres.front();
    for (SourceLocation L : Wheres)
      if (SM.isBeforeInTranslationUnit(L, Where))
        Where = L;
    const Duty &D = Duties[P.first];
    Finding F;
    F.Check = std::string(CheckName);
    F.Loc = Where;
    F.Function = FD;
    if (D.Kind == Duty::Join) {
      std::string Owner = P.second ? P.second->getNameAsString() : "";
      const Expr *Started = nullptr;
      if (const auto *Call = dyn_cast<CallExpr>(D.Site))
        Started = T.objectOf(Call);
      // Started through a reference into a container, not the variable.
      bool Element = false;
      if (Started) {
        const Expr *E = stripTemporaries(Started);
        if (const auto *UO = dyn_cast<UnaryOperator>(E);
            UO && UO->getOpcode() == UO_AddrOf)
          E = stripTemporaries(UO->getSubExpr());
        const auto *DRE = dyn_cast<DeclRefExpr>(E);
        Element = !DRE || Locals.resolve(DRE->getDecl()) != DRE->getDecl();
      }
      if (isa<CXXMemberCallExpr>(D.Site) &&
          T.emplacesStarted(cast<CXXMemberCallExpr>(D.Site)))
        Element = true;
      if (Element)
        F.Message =
            "'" + Owner +
            "' can leave its scope here with elements that were started and "
            "not joined";
      else
        F.Message =
            "'" + Owner + "' can leave its scope here without being joined";
      F.Notes.push_back({D.Loc, "started here by '" + D.Api + "'", {}});
    } else {
      std::string Pool = D.Pool ? D.Pool->getNameAsString() : "the pool";
      F.Message =
          "'" + Pool + "' is destroyed here while a result of '" + D.Api +
          "' may be pending: its workers are terminated and the task is lost";
      F.Notes.push_back({D.Loc,
                         "'" + D.Api +
                             "' hands out the result here; wait for it, or "
                             "'close' and 'join' the pool first",
                         {}});
    }
    Findings.push_back(std::move(F));
  }
}

void JoinAnalyzer::run() {
  prescan(FD->getBody());
  std::unique_ptr<CFG> G = buildLifetimeCFG(FD, Ctx.AST);
  if (!G)
    return;
  auto InState = [&](const CFGBlock *B, const std::vector<State> &Out) {
    State In;
    for (auto P = B->pred_begin(); P != B->pred_end(); ++P)
      if (const CFGBlock *Pred = P->getReachableBlock())
        In.insert(Out[Pred->getBlockID()].begin(),
                  Out[Pred->getBlockID()].end());
    return In;
  };
  const CFGBlock &Exit = G->getExit();
  auto Transfer = [&](const CFGBlock *B, const std::vector<State> &Out,
                      bool Final) {
    State St = InState(B, Out);
    for (const CFGElement &E : *B)
      transferElement(E, St, Final);
    if (const Stmt *Term = B->getTerminatorStmt()) {
      auto It = LoopEffects.find(Term);
      if (It != LoopEffects.end())
        for (auto [O, Effect] : It->second)
          discharge(O, Effect, St);
    }
    if (Final)
      for (auto S = B->succ_begin(); S != B->succ_end(); ++S)
        if (S->getReachableBlock() == &Exit) {
          SourceLocation Where = exitLocation(B);
          for (const Pending &P : St) {
            const Duty &D = Duties[P.first];
            if ((D.Kind == Duty::Join && P.second) ||
                (D.Kind == Duty::Collect && D.Pool))
              leave(P, Where, Final);
          }
        }
    return St;
  };
  std::vector<State> Out = forwardFixedPoint<State>(
      *G, [&](const CFGBlock *B, const std::vector<State> &Current) {
        return Transfer(B, Current, false);
      });
  for (const CFGBlock *B : reversePostOrder(*G))
    Transfer(B, Out, true);
  report();
}

bool mentionsLifecycle(const Stmt *S, const LifecycleTables &T) {
  if (!S)
    return false;
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    if (T.roles(Call) & (RoleStart | RoleAsync))
      return true;
    if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call);
        MC && T.emplacesStarted(MC))
      return true;
  }
  if (const auto *CE = dyn_cast<CXXConstructExpr>(S);
      CE && (T.roles(CE) & RoleStart))
    return true;
  for (const Stmt *Child : S->children())
    if (mentionsLifecycle(Child, T))
      return true;
  return false;
}

} // namespace

void ProcessNotJoinedCheck::checkTranslationUnit(
    AnalysisContext &Ctx, llvm::ArrayRef<const FunctionDecl *> Functions,
    std::vector<Finding> &Findings) {
  LifecycleTables T(Ctx.Api);
  HandOffSummaries Summaries(T);
  for (const FunctionDecl *FD : Functions)
    if (FD->hasBody() && mentionsLifecycle(FD->getBody(), T))
      JoinAnalyzer(FD, Ctx, T, Summaries, name(), Findings).run();
}

} // namespace ipcheck
