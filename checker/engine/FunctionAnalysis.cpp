//===- FunctionAnalysis.cpp - Locksets and shared reads over clang's CFG --===//

#include "engine/FunctionAnalysis.h"
#include "engine/MainFile.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/ExprCXX.h"
#include "clang/AST/ParentMap.h"
#include "clang/AST/StmtCXX.h"
#include "clang/Analysis/CFG.h"
#include "clang/Basic/SourceManager.h"
#include "llvm/ADT/STLExtras.h"
#include <set>

using namespace clang;

namespace ipcheck {
namespace {

using LockSet = std::set<PathId>;

/// Stands for "made atomically" in the locks held since a read: an observation
/// by an atomic read-modify-write, compare-exchange or try-acquire is never
/// stale.
constexpr PathId AtomicObservation = ~0u;
using ReadSet = std::set<ReadKey>;

/// The dataflow fact at one program point.
struct State {
  bool Reached = false;
  LockSet Held;
  /// Locks held when control comes back around a loop to here (on some back
  /// edge, for sure on it) and not let go of since: taken again here, they
  /// are taken by their holder on the next iteration.
  LockSet LoopHeld;
  /// Held locks that some path took shared (a reader): taking them shared
  /// again is allowed.
  LockSet SharedHeld;
  /// Locks held for sure the first time control is here: Held, and also what
  /// was held for sure on the way into each loop around here (a loop header
  /// joins only its entries, not its back edges).
  LockSet FirstHeld;
  /// Objects a `ready` call said will not make the next blocking call wait
  /// (`if (conn.poll()) conn.recv()`), until such a call.
  std::set<PathId> Ready;
  std::map<ReadKey, LockSet> Live; ///< Read -> locks held continuously since.
  std::map<const ValueDecl *, ReadSet> VarTaint;
  /// The branch outcomes this point depends on: (block ID, successor index). A
  /// branch whose every outcome reaches here (a join) no longer decides
  /// anything.
  std::set<std::pair<unsigned, unsigned>> Branches;
  /// Reads whose enclosing full expression is still being evaluated.
  std::set<ReadKey> Pending;

  bool operator==(const State &O) const {
    return Reached == O.Reached && Held == O.Held && LoopHeld == O.LoopHeld &&
           SharedHeld == O.SharedHeld && FirstHeld == O.FirstHeld &&
           Ready == O.Ready && Live == O.Live && VarTaint == O.VarTaint &&
           Branches == O.Branches && Pending == O.Pending;
  }

  /// Forgets the branches all of whose outcomes are present.
  void dropJoinedBranches(const std::vector<const CFGBlock *> &Blocks) {
    for (auto It = Branches.begin(); It != Branches.end();) {
      unsigned Block = It->first;
      auto End = It;
      unsigned Present = 0;
      while (End != Branches.end() && End->first == Block) {
        ++Present;
        ++End;
      }
      const CFGBlock *B = Blocks[Block];
      unsigned Outcomes = 0;
      for (auto S = B->succ_begin(); S != B->succ_end(); ++S)
        if (S->getReachableBlock())
          ++Outcomes;
      if (Present >= Outcomes)
        It = Branches.erase(It, End);
      else
        It = End;
    }
  }

  void join(const State &O) {
    if (!O.Reached)
      return;
    if (!Reached) {
      *this = O;
      return;
    }
    LockSet Both;
    std::set_intersection(Held.begin(), Held.end(), O.Held.begin(),
                          O.Held.end(), std::inserter(Both, Both.begin()));
    Held = std::move(Both);
    LockSet BothFirst;
    std::set_intersection(FirstHeld.begin(), FirstHeld.end(),
                          O.FirstHeld.begin(), O.FirstHeld.end(),
                          std::inserter(BothFirst, BothFirst.begin()));
    FirstHeld = std::move(BothFirst);
    LoopHeld.insert(O.LoopHeld.begin(), O.LoopHeld.end());
    SharedHeld.insert(O.SharedHeld.begin(), O.SharedHeld.end());
    std::set<PathId> BothReady;
    std::set_intersection(Ready.begin(), Ready.end(), O.Ready.begin(),
                          O.Ready.end(),
                          std::inserter(BothReady, BothReady.begin()));
    Ready = std::move(BothReady);
    for (const auto &[Key, Locks] : O.Live) {
      auto It = Live.find(Key);
      if (It == Live.end()) {
        Live.insert({Key, Locks});
        continue;
      }
      LockSet Common;
      std::set_intersection(It->second.begin(), It->second.end(), Locks.begin(),
                            Locks.end(), std::inserter(Common, Common.begin()));
      It->second = std::move(Common);
    }
    for (const auto &[Var, Reads] : O.VarTaint)
      VarTaint[Var].insert(Reads.begin(), Reads.end());
    Branches.insert(O.Branches.begin(), O.Branches.end());
    Pending.insert(O.Pending.begin(), O.Pending.end());
  }

  void take(PathId Lock, bool Shared) {
    Held.insert(Lock);
    FirstHeld.insert(Lock);
    if (Shared)
      SharedHeld.insert(Lock);
    else
      SharedHeld.erase(Lock);
  }

  void release(PathId Lock) {
    Held.erase(Lock);
    LoopHeld.erase(Lock);
    SharedHeld.erase(Lock);
    FirstHeld.erase(Lock);
    for (auto &Entry : Live)
      Entry.second.erase(Lock);
  }
};

/// How the result of a `reference` call (a proxy or reference to shared state)
/// is used.
enum class RefUse { None, Read, Write, Update };

/// What the analysis needs to know about one call, computed once per function.
struct CallInfo {
  const ApiFunction *Api = nullptr;
  const FunctionSummary *Summary = nullptr;
  const FunctionDecl *Callee = nullptr;
  const ApiGuard *GuardOfObject =
      nullptr; ///< A member call on a guard (`lk.unlock()`).
  RefUse Ref = RefUse::None;
  const Stmt *RefSite =
      nullptr; ///< The assignment or update through the reference.
  const Expr *RefValue = nullptr; ///< The value assigned.
  std::string RefOperator;        ///< `+=`, `++`.
  bool IsBranchCondition = false; ///< A try-acquire decided by the branch.
  /// A method of a class no table describes (a std::queue, a Boost container in
  /// shared memory): RoleRead or RoleWrite by its constness; it counts only for
  /// objects the file also uses under a lock.
  unsigned Generic = 0;
  bool ResultUsed = false; ///< The call's value is tested or kept.
  bool Recursive = false;  ///< A call of the function being analyzed.
  /// A function of the program with no body here (an OpaqueCall).
  bool Opaque = false;
};

/// A lock taken on one edge of a branch whose condition is a try-acquire.
struct TryBranch {
  std::vector<PathId> Locks;
  const VarDecl *Guard = nullptr; ///< Its locks, once its declaration is seen.
  unsigned SuccessSucc = 0;
};

const Expr *skipWrappers(const Expr *E) {
  while (true) {
    E = E->IgnoreParenImpCasts();
    if (const auto *B = dyn_cast<CXXBindTemporaryExpr>(E))
      E = B->getSubExpr();
    else if (const auto *F = dyn_cast<CXXFunctionalCastExpr>(E))
      E = F->getSubExpr();
    else
      return E;
  }
}

class FunctionAnalyzer {
public:
  FunctionAnalyzer(const FunctionDecl *FD, AnalysisContext &Ctx,
                   FunctionResult &Out)
      : FD(FD), Ctx(Ctx), Out(Out), Parents(FD->getBody()) {}

  void run();

private:
  // Pre-scan.
  void scan(const Stmt *S);
  void noteUserGuard(const VarDecl *VD, const CXXRecordDecl *RD);
  PathId lockOfUserGuard(PathId CtorLock, const CXXConstructorDecl *Ctor,
                         const CXXConstructExpr *Construct);
  bool resultUsed(const CallExpr *Call) const;
  unsigned genericRole(const CallExpr *Call) const;
  bool isRValueUse(const Expr *E) const;
  bool isGuardedField(const MemberExpr *ME);
  bool isPlainGlobal(const DeclRefExpr *DRE) const;
  /// The guarded field or global a local reference is bound to, or null.
  const Expr *aliasOfPlain(const DeclRefExpr *DRE);
  void notePlainAccess(const Expr *E, const State &St);
  static bool isSelfValidating(const CallInfo &Info) {
    return Info.Api && Info.ResultUsed && Info.Ref == RefUse::None &&
           (Info.Api->Roles &
            (RoleAtomicRMW | RoleCompareExchange | RoleTryAcquire));
  }
  void classifyReference(const Expr *Call, CallInfo &Info);
  bool isInteresting() const { return Interesting; }

  // Identities.
  const Expr *objectExpr(const CallExpr *Call, const ApiFunction &F) const;
  std::vector<const Expr *> objectExprs(const CallExpr *Call,
                                        const ApiFunction &F) const;
  std::vector<PathId> locksOf(const Expr *E);
  PathId pathOf(const Expr *E) { return Ctx.Paths.pathOf(E, Ctx.Api); }

  // Transfer.
  void transferBlock(const CFGBlock *B, State &St, bool Final);
  void transferStmt(const Stmt *S, const CFGBlock *B, State &St, bool Final);
  void transferCall(const CallExpr *Call, const CallInfo &Info,
                    const CFGBlock *B, State &St, bool Final);
  void assignLocal(const Expr *LHS, const Expr *RHS, bool Replaces,
                   State &St) const;
  void transferDecl(const VarDecl *VD, const CFGBlock *B, State &St,
                    bool Final);
  void transferReferenceWrite(const Expr *Ref, const CallInfo &Info,
                              const CFGBlock *B, State &St);
  void taint(const Stmt *S, const State &St, ReadSet &Reads) const;
  ReadSet taintOf(const Stmt *S, const State &St) const {
    ReadSet R;
    taint(S, St, R);
    return R;
  }
  const Stmt *fullStatementOf(const Stmt *S) const;
  void collectGarbage(State &St) const;
  bool namesHelperObject(const CallExpr *Call, const FunctionSummary &S,
                         unsigned ArgIndex) const;
  void recordRead(ReadKey Key, PathId Object, SourceLocation Loc,
                  std::string Api, State &St);
  void recordAction(ActionFact Fact, const ReadSet &Data, const CFGBlock *B,
                    const State &St);
  void recordAcquisition(std::vector<PathId> Locks, bool Try,
                         SourceLocation Loc, const State &St,
                         bool Shared = false);
  BlockBound boundOf(const CallExpr *Call, const ApiFunction &F) const;
  void recordBlocking(const CallExpr *Call, const ApiFunction &F,
                      const std::vector<const Expr *> &Objects,
                      const std::string &Name, const State &St);
  bool decidedUnderLock(PathId Object, const State &St) const;
  PathId lockConditionIsBuiltOn(PathId Cond);
  std::vector<PathId> restate(PathId CalleeLock, const CallExpr *Call);
  void applyBlockSites(const CallExpr *Call, const FunctionSummary &S,
                       const std::string &Name, const State &St);
  void summarizeBlocking();
  /// Whether a caller can restate \p P: a parameter, `this`, a global.
  bool exportable(PathId P) const {
    ObjectPath::RootKind K = Ctx.Paths.get(P).Kind;
    return P != UnknownPath && K != ObjectPath::Local &&
           K != ObjectPath::Unknown;
  }
  void summarizeTakes();
  void analyzeTryBranch(const CFGBlock *B);
  void analyzeReadyBranch(const CFGBlock *B);
  std::optional<bool> successWhenTrue(const Expr *Cond,
                                      const CallExpr *&Call) const;
  State edgeState(const CFGBlock *Pred, unsigned SuccIndex) const;
  void noteHeldAroundLoop(const CFGBlock *Latch, const State &Back,
                          State &In) const;

  const FunctionDecl *FD;
  AnalysisContext &Ctx;
  FunctionResult &Out;
  ParentMap Parents;
  bool Interesting = false;

  llvm::DenseMap<const Stmt *, CallInfo> Calls;
  llvm::DenseMap<const Stmt *, const CallExpr *>
      RefSites; ///< Assignment -> reference call.
  llvm::DenseMap<const VarDecl *, std::vector<PathId>> GuardLocks;
  /// Locals of a guard class of the file's own (a constructor that returns
  /// holding a lock it was given, a destructor that lets go of it): the
  /// construction and the constructor's summary.
  llvm::DenseMap<const VarDecl *,
                 std::pair<const CXXConstructExpr *, const FunctionSummary *>>
      UserGuards;
  /// Plain fields of a record that holds a lock: shared, and guarded by it.
  llvm::DenseMap<const Expr *, CallInfo> Fields;
  llvm::DenseMap<const Stmt *, const Expr *> FieldSites;
  llvm::DenseMap<const CFGBlock *, TryBranch> TryBranches;
  /// Branches on a `ready` call: the object, and the successor on which it is
  /// ready.
  llvm::DenseMap<const CFGBlock *, std::pair<PathId, unsigned>> ReadyBranches;
  llvm::DenseMap<const RecordDecl *, bool> RecordHasLock;
  llvm::DenseMap<const CFGBlock *, ReadSet> ConditionReads;
  std::unique_ptr<CFG> Graph;
  std::vector<const CFGBlock *> BlocksByID;
  std::vector<State> OutStates;
  std::set<ReadKey> ReturnedReads;
  llvm::DenseMap<const Stmt *, std::vector<ReadKey>> ReadsEndingAt;
  mutable std::map<unsigned, ReadSet> BranchReads;
  std::set<PathId> ReleasedUntaken;
};

void FunctionAnalyzer::scan(const Stmt *S) {
  if (!S)
    return;
  if (isa<LambdaExpr>(S) || isa<BlockExpr>(S))
    return; // Analyzed on their own.
  if (const auto *DS = dyn_cast<DeclStmt>(S)) {
    for (const Decl *D : DS->decls())
      if (const auto *VD = dyn_cast<VarDecl>(D))
        if (const auto *RD = VD->getType()->getAsCXXRecordDecl()) {
          if (Ctx.Api.lookupGuard(RD))
            Interesting = true;
          else
            noteUserGuard(VD, RD);
        }
  }
  const Expr *Plain = nullptr;
  if (const auto *ME = dyn_cast<MemberExpr>(S); ME && isGuardedField(ME))
    Plain = ME;
  if (const auto *DRE = dyn_cast<DeclRefExpr>(S);
      DRE && (isPlainGlobal(DRE) || aliasOfPlain(DRE)))
    Plain = DRE;
  if (const Expr *ME = Plain) {
    CallInfo Info;
    classifyReference(ME, Info);
    if (Info.Ref == RefUse::Read && !isRValueUse(ME))
      Info.Ref =
          RefUse::None; // `&s->count`, a reference binding: not a read here.
    if (Info.RefSite)
      FieldSites[Info.RefSite] = ME;
    if (Info.Ref != RefUse::None) {
      Fields[ME] = Info;
      Interesting = true;
    }
  }
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    CallInfo Info;
    Info.Callee = Call->getDirectCallee();
    Info.Api = Ctx.Api.lookup(Call);
    if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call)) {
      const Expr *Obj = MC->getImplicitObjectArgument();
      QualType T = Obj ? Obj->getType() : QualType();
      if (!T.isNull() && T->isPointerType())
        T = T->getPointeeType();
      if (!T.isNull())
        Info.GuardOfObject = Ctx.Api.lookupGuard(T->getAsCXXRecordDecl());
    }
    if (Info.Api && (Info.Api->Roles & RoleReference)) {
      classifyReference(Call, Info);
      if (Info.RefSite)
        RefSites[Info.RefSite] = Call;
    }
    if (!Info.Api && !Info.GuardOfObject && Info.Callee && Info.Callee != FD)
      Info.Summary = Ctx.summaryFor(Info.Callee);
    if (!Info.Api && !Info.GuardOfObject && !Info.Summary)
      Info.Generic = genericRole(Call);
    // `counts[k] += 1`, `v[i] = x`: a method that hands out a reference into
    // the object is written, or updated, where its result is assigned.
    if (Info.Generic && Call->isLValue() &&
        !Call->getType().isConstQualified()) {
      CallInfo Use;
      classifyReference(Call, Use);
      if (Use.Ref == RefUse::Write || Use.Ref == RefUse::Update) {
        Info.Ref = Use.Ref;
        Info.RefSite = Use.RefSite;
        Info.RefValue = Use.RefValue;
        Info.RefOperator = Use.RefOperator;
        RefSites[Info.RefSite] = Call;
      }
    }
    Info.ResultUsed = resultUsed(Call);
    Info.Opaque = Info.Callee && !Info.Api && !Info.GuardOfObject &&
                  !Info.Callee->hasBody() &&
                  !Ctx.AST.getSourceManager().isInSystemHeader(
                      Info.Callee->getLocation());
    Info.Recursive = Info.Callee &&
                     Info.Callee->getCanonicalDecl() == FD->getCanonicalDecl();
    if (Info.Api || Info.Summary || Info.GuardOfObject || Info.Generic) {
      Interesting = true;
      Calls[Call] = Info;
    } else if (Info.Opaque || Info.Recursive) {
      Calls[Call] = Info; // Only for where it is called and what is held.
    }
  }
  for (const Stmt *Child : S->children())
    scan(Child);
}

bool FunctionAnalyzer::isRValueUse(const Expr *E) const {
  const Stmt *P = Parents.getParent(E);
  while (P && isa<ParenExpr>(P))
    P = Parents.getParent(P);
  const auto *Cast = dyn_cast_or_null<ImplicitCastExpr>(P);
  return Cast && Cast->getCastKind() == CK_LValueToRValue;
}

bool FunctionAnalyzer::isPlainGlobal(const DeclRefExpr *DRE) const {
  const auto *VD = dyn_cast<VarDecl>(DRE->getDecl());
  if (!VD || !VD->hasGlobalStorage() || VD->getTLSKind() != VarDecl::TLS_None)
    return false;
  QualType T = VD->getType();
  if (!T->isScalarType() || T.isConstQualified() || T->isPointerType())
    return false;
  // Construction and destruction happen before and after the object is shared.
  return !isa<CXXConstructorDecl>(FD) && !isa<CXXDestructorDecl>(FD);
}

const Expr *FunctionAnalyzer::aliasOfPlain(const DeclRefExpr *DRE) {
  const auto *VD = dyn_cast<VarDecl>(DRE->getDecl());
  if (!VD || !VD->hasLocalStorage() || !VD->getType()->isReferenceType() ||
      !VD->getInit())
    return nullptr;
  const Expr *Init = skipWrappers(VD->getInit());
  if (const auto *ME = dyn_cast<MemberExpr>(Init); ME && isGuardedField(ME))
    return ME;
  if (const auto *Global = dyn_cast<DeclRefExpr>(Init);
      Global && isPlainGlobal(Global))
    return Global;
  return nullptr;
}

void FunctionAnalyzer::notePlainAccess(const Expr *E, const State &St) {
  // `int& n = shm->count; ++n;` is evidence about `shm->count`.
  if (const auto *DRE = dyn_cast<DeclRefExpr>(E))
    if (const Expr *Target = aliasOfPlain(DRE))
      E = Target;
  if (const auto *DRE = dyn_cast<DeclRefExpr>(E))
    if (!St.Held.empty())
      Ctx.GlobalsUsedUnderLock.insert(
          cast<VarDecl>(DRE->getDecl())->getCanonicalDecl());
  if (const auto *ME = dyn_cast<MemberExpr>(E)) {
    const auto *Field = cast<FieldDecl>(ME->getMemberDecl());
    PathId P = pathOf(ME);
    if (P != UnknownPath)
      Ctx.FieldOfPath[P] = Field;
    if (!St.Held.empty()) {
      Ctx.FieldsUsedUnderLock.insert(Field);
      Ctx.RecordsWithLockedAccess.insert(Field->getParent());
    }
  }
}

bool FunctionAnalyzer::isGuardedField(const MemberExpr *ME) {
  const auto *Field = dyn_cast<FieldDecl>(ME->getMemberDecl());
  if (!Field || !Field->getType()->isScalarType())
    return false;
  // Construction and destruction happen before and after the object is shared.
  if (isa<CXXConstructorDecl>(FD) || isa<CXXDestructorDecl>(FD))
    return false;
  const RecordDecl *Record = Field->getParent();
  auto Cached = RecordHasLock.find(Record);
  bool HasLock;
  if (Cached != RecordHasLock.end()) {
    HasLock = Cached->second;
  } else {
    HasLock = false;
    for (const FieldDecl *Sibling : Record->fields()) {
      QualType T = Sibling->getType();
      while (const ArrayType *AT = T->getAsArrayTypeUnsafe())
        T = AT->getElementType();
      if (const auto *TT = T->getAs<TypedefType>())
        if (Ctx.Api.lookupLockKindName(TT->getDecl()->getName()))
          HasLock = true;
      if (const auto *RD = T->getAsCXXRecordDecl())
        if (Ctx.Api.lookupLockKind(RD))
          HasLock = true;
    }
    RecordHasLock[Record] = HasLock;
    if (HasLock)
      Ctx.RecordsWithLockMember.insert(Record);
  }
  // Without a lock beside it, a field is a candidate: it counts as shared only
  // if the file accesses it under a lock somewhere
  // (AnalysisContext::isReportable). A record object local to this function is
  // not shared; one reached through a pointer or reference (shared memory, a
  // parameter, `this`) may be.
  const Expr *Base = ME->getBase()->IgnoreParenImpCasts();
  if (const auto *DRE = dyn_cast<DeclRefExpr>(Base))
    if (const auto *VD = dyn_cast<VarDecl>(DRE->getDecl()))
      if (VD->hasLocalStorage() && !ME->isArrow() &&
          !VD->getType()->isReferenceType())
        return false;
  return true;
}

/// The method and the object of a call to a method: `q.pop()`, and an operator
/// that is a member (`m[k]`, `q = other`); {null, null} for anything else.
static std::pair<const CXXMethodDecl *, const Expr *>
methodAndObject(const CallExpr *Call) {
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call))
    return {MC->getMethodDecl(), MC->getImplicitObjectArgument()};
  if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call))
    if (const auto *MD = dyn_cast_or_null<CXXMethodDecl>(OC->getDirectCallee());
        MD && OC->getNumArgs() > 0)
      return {MD, OC->getArg(0)};
  return {nullptr, nullptr};
}

unsigned FunctionAnalyzer::genericRole(const CallExpr *Call) const {
  auto [MD, Object] = methodAndObject(Call);
  if (!MD || MD->isStatic() || isa<CXXConversionDecl>(MD) ||
      isa<CXXDestructorDecl>(MD))
    return 0;
  // Reaching through a handle (`p->x`, `*it`) or calling a callable reads no
  // state of the handle's own.
  if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call)) {
    OverloadedOperatorKind K = OC->getOperator();
    if (K == OO_Arrow || K == OO_Call || K == OO_ArrowStar ||
        (K == OO_Star && OC->getNumArgs() == 1))
      return 0;
  }
  // Code of the file is described by its summary, not by its constness.
  const SourceManager &SM = Ctx.AST.getSourceManager();
  if (const FunctionDecl *Def = MD->getDefinition())
    if (writtenInMainFile(Def, SM))
      return 0;
  if (!Object)
    return 0;
  QualType T = Object->IgnoreParenImpCasts()->getType();
  if (T->isPointerType())
    T = T->getPointeeType();
  const CXXRecordDecl *Class = T->getAsCXXRecordDecl();
  if (!Class || Ctx.Api.knowsClass(Class) || Ctx.Api.lookupLockKind(Class) ||
      Ctx.Api.lookupGuard(Class))
    return 0;
  // An object local to this function is not shared.
  if (const auto *DRE = dyn_cast<DeclRefExpr>(skipWrappers(Object)))
    if (const auto *VD = dyn_cast<VarDecl>(DRE->getDecl()))
      if (VD->hasLocalStorage() && !VD->getType()->isReferenceType() &&
          !VD->getType()->isPointerType())
        return 0;
  if (MD->isConst())
    return RoleRead;
  // `q.front()` on a non-const queue picks the non-const overload of an
  // accessor.
  for (const NamedDecl *Overload : MD->getParent()->lookup(MD->getDeclName()))
    if (const auto *Other =
            dyn_cast<CXXMethodDecl>(Overload->getUnderlyingDecl()))
      if (Other->isConst())
        return RoleRead;
  return RoleWrite;
}

bool FunctionAnalyzer::resultUsed(const CallExpr *Call) const {
  const Stmt *Child = Call;
  const Stmt *P = Parents.getParent(Call);
  while (P && (isa<ImplicitCastExpr>(P) || isa<ParenExpr>(P) ||
               isa<ExprWithCleanups>(P) || isa<MaterializeTemporaryExpr>(P) ||
               isa<CXXBindTemporaryExpr>(P))) {
    Child = P;
    P = Parents.getParent(P);
  }
  if (!P)
    return false;
  if (const auto *Cast = dyn_cast<ExplicitCastExpr>(P))
    return !Cast->getType()->isVoidType();
  if (isa<Expr>(P) || isa<DeclStmt>(P) || isa<ReturnStmt>(P))
    return true;
  if (const auto *If = dyn_cast<IfStmt>(P))
    return If->getCond() == Child;
  if (const auto *While = dyn_cast<WhileStmt>(P))
    return While->getCond() == Child;
  if (const auto *Do = dyn_cast<DoStmt>(P))
    return Do->getCond() == Child;
  if (const auto *For = dyn_cast<ForStmt>(P))
    return For->getCond() == Child;
  if (const auto *Switch = dyn_cast<SwitchStmt>(P))
    return Switch->getCond() == Child;
  return false;
}

void FunctionAnalyzer::classifyReference(const Expr *Call, CallInfo &Info) {
  Info.Ref = RefUse::Read;
  const Stmt *P = Parents.getParent(Call);
  while (P && (isa<ImplicitCastExpr>(P) || isa<ParenExpr>(P) ||
               isa<MaterializeTemporaryExpr>(P) ||
               isa<CXXBindTemporaryExpr>(P) || isa<ExprWithCleanups>(P)))
    P = Parents.getParent(P);
  if (!P)
    return;
  auto Strip = [](const Expr *E) { return skipWrappers(E); };
  if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(P)) {
    if (OC->getNumArgs() == 0 || Strip(OC->getArg(0)) != Call)
      return;
    OverloadedOperatorKind K = OC->getOperator();
    if (K == OO_Equal && OC->getNumArgs() == 2) {
      Info.Ref = RefUse::Write;
      Info.RefSite = OC;
      Info.RefValue = OC->getArg(1);
    } else if (OC->isAssignmentOp() || K == OO_PlusPlus || K == OO_MinusMinus) {
      Info.Ref = RefUse::Update;
      Info.RefSite = OC;
      Info.RefOperator = getOperatorSpelling(K);
    }
    return;
  }
  if (const auto *BO = dyn_cast<BinaryOperator>(P)) {
    if (Strip(BO->getLHS()) != Call)
      return;
    if (BO->getOpcode() == BO_Assign) {
      Info.Ref = RefUse::Write;
      Info.RefSite = BO;
      Info.RefValue = BO->getRHS();
    } else if (BO->isCompoundAssignmentOp()) {
      Info.Ref = RefUse::Update;
      Info.RefSite = BO;
      Info.RefOperator = BO->getOpcodeStr().str();
    }
    return;
  }
  if (const auto *UO = dyn_cast<UnaryOperator>(P)) {
    if (UO->isIncrementDecrementOp()) {
      Info.Ref = RefUse::Update;
      Info.RefSite = UO;
      Info.RefOperator = UO->isIncrementOp() ? "++" : "--";
    }
  }
}

const Expr *FunctionAnalyzer::objectExpr(const CallExpr *Call,
                                         const ApiFunction &F) const {
  if (F.Object >= 0)
    return unsigned(F.Object) < Call->getNumArgs() ? Call->getArg(F.Object)
                                                   : nullptr;
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call))
    return MC->getImplicitObjectArgument();
  if (Call->getNumArgs() > 0)
    return Call->getArg(
        0); // An operator's object, or a free function's first argument.
  return nullptr;
}

std::vector<const Expr *>
FunctionAnalyzer::objectExprs(const CallExpr *Call,
                              const ApiFunction &F) const {
  std::vector<const Expr *> Result;
  if (F.Object == ObjectAllArgs) {
    for (const Expr *A : Call->arguments())
      Result.push_back(A);
  } else if (const Expr *E = objectExpr(Call, F)) {
    Result.push_back(E);
  }
  return Result;
}

std::vector<PathId> FunctionAnalyzer::locksOf(const Expr *E) {
  if (!E)
    return {};
  const Expr *S = skipWrappers(E);
  if (const auto *U = dyn_cast<UnaryOperator>(S);
      U && U->getOpcode() == UO_AddrOf)
    S = skipWrappers(U->getSubExpr());
  if (const auto *DRE = dyn_cast<DeclRefExpr>(S))
    if (const auto *VD = dyn_cast<VarDecl>(DRE->getDecl())) {
      auto It = GuardLocks.find(VD);
      if (It != GuardLocks.end())
        return It->second;
    }
  PathId P = pathOf(E);
  if (P == UnknownPath)
    return {};
  if (const ApiLockKind *K = Ctx.Api.lockKindOf(S->getType()))
    Ctx.LockKinds.try_emplace(P, K);
  return {P};
}

void FunctionAnalyzer::taint(const Stmt *S, const State &St,
                             ReadSet &Reads) const {
  if (!S || isa<LambdaExpr>(S) || isa<BlockExpr>(S))
    return;
  if (const auto *DRE = dyn_cast<DeclRefExpr>(S)) {
    auto Plain = Fields.find(DRE);
    if (Plain != Fields.end() && Plain->second.Ref == RefUse::Read)
      Reads.insert({DRE, 0});
    auto It = St.VarTaint.find(DRE->getDecl());
    if (It != St.VarTaint.end())
      Reads.insert(It->second.begin(), It->second.end());
    return;
  }
  if (const auto *ME = dyn_cast<MemberExpr>(S)) {
    auto It = Fields.find(ME);
    if (It != Fields.end()) {
      if (It->second.Ref == RefUse::Read)
        Reads.insert({ME, 0});
      return;
    }
  }
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    auto It = Calls.find(Call);
    if (It != Calls.end()) {
      const CallInfo &Info = It->second;
      if (Info.Api) {
        bool IsRead = Info.Ref == RefUse::Read ||
                      (Info.Ref == RefUse::None &&
                       (Info.Api->Roles & RoleRead) && Info.Api->ResultArg < 0);
        if (IsRead || isSelfValidating(Info))
          Reads.insert({Call, 0});
        return;
      }
      if (Info.Generic == RoleRead) {
        Reads.insert({Call, 0});
        return;
      }
      if (Info.Summary) {
        for (unsigned J = 0; J < Info.Summary->Reads.size(); ++J)
          if (Info.Summary->Reads[J].FlowsToReturn)
            Reads.insert({Call, J + 1});
        // Values passed in flow to the result; the objects the helper acts on
        // or reads are handles, not values.
        for (unsigned I = 0; I < Call->getNumArgs(); ++I)
          if (!namesHelperObject(Call, *Info.Summary, I))
            taint(Call->getArg(I), St, Reads);
        return;
      }
    }
  }
  for (const Stmt *Child : S->children())
    taint(Child, St, Reads);
}

const Stmt *FunctionAnalyzer::fullStatementOf(const Stmt *S) const {
  while (const Stmt *P = Parents.getParent(S)) {
    if (!isa<Expr>(P) && !isa<DeclStmt>(P) && !isa<ReturnStmt>(P))
      break;
    S = P;
  }
  return S;
}

void FunctionAnalyzer::collectGarbage(State &St) const {
  // A read matters later only through a variable, a branch taken on it, or the
  // expression still being evaluated. Forgetting the others keeps states small.
  std::set<ReadKey> Keep = St.Pending;
  for (const auto &Entry : St.VarTaint)
    Keep.insert(Entry.second.begin(), Entry.second.end());
  for (const auto &Outcome : St.Branches) {
    auto It = BranchReads.find(Outcome.first);
    if (It != BranchReads.end())
      Keep.insert(It->second.begin(), It->second.end());
  }
  for (auto It = St.Live.begin(); It != St.Live.end();)
    if (Keep.count(It->first))
      ++It;
    else
      It = St.Live.erase(It);
}

bool FunctionAnalyzer::namesHelperObject(const CallExpr *Call,
                                         const FunctionSummary &S,
                                         unsigned ArgIndex) const {
  unsigned Param = ArgIndex;
  if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call))
    if (isa_and_nonnull<CXXMethodDecl>(OC->getDirectCallee())) {
      if (ArgIndex == 0)
        return true; // The object of a method.
      Param = ArgIndex - 1;
    }
  auto Names = [&](PathId P) {
    const ObjectPath &Path = Ctx.Paths.get(P);
    return Path.Kind == ObjectPath::Param && Path.ParamIndex == Param;
  };
  for (const SummaryEffect &E : S.Reads)
    if (Names(E.Object))
      return true;
  for (const SummaryEffect &E : S.Actions)
    if (Names(E.Object))
      return true;
  return llvm::any_of(S.Takes, Names) || llvm::any_of(S.Acquires, Names) ||
         llvm::any_of(S.Releases, Names);
}

void FunctionAnalyzer::recordRead(ReadKey Key, PathId Object,
                                  SourceLocation Loc, std::string Api,
                                  State &St) {
  if (Object == UnknownPath)
    return;
  St.Live[Key] = St.Held;
  St.Pending.insert(Key);
  const Stmt *Root = fullStatementOf(Key.first);
  std::vector<ReadKey> &Ending = ReadsEndingAt[Root];
  if (!llvm::is_contained(Ending, Key))
    Ending.push_back(Key);
  auto [It, Inserted] = Out.Reads.try_emplace(Key);
  if (Inserted)
    It->second = ReadSite{Object, Loc, std::move(Api)};
}

void FunctionAnalyzer::recordAction(ActionFact Fact, const ReadSet &Data,
                                    const CFGBlock *B, const State &St) {
  auto Unprotected = [&](ReadKey Key) {
    auto Site = Out.Reads.find(Key);
    if (Site == Out.Reads.end() || Site->second.Object != Fact.Object)
      return false;
    auto Live = St.Live.find(Key);
    return Live != St.Live.end() && Live->second.empty();
  };
  std::set<ReadKey> Control;
  for (const auto &Outcome : St.Branches) {
    auto It = ConditionReads.find(BlocksByID[Outcome.first]);
    if (It == ConditionReads.end())
      continue;
    for (ReadKey Key : It->second) {
      if (Unprotected(Key))
        Control.insert(Key);
      else if (St.Live.count(Key) && Out.Reads.count(Key) &&
               Out.Reads[Key].Object == Fact.Object)
        Fact.Revalidated = true; // Checked again under a lock (double-checked).
    }
  }
  Fact.ControlReads.assign(Control.begin(), Control.end());
  for (ReadKey Key : Data)
    if (Unprotected(Key))
      Fact.DataReads.push_back(Key);
  Fact.HeldLocks.assign(St.Held.begin(), St.Held.end());
  Out.Facts.push_back(std::move(Fact));
}

void FunctionAnalyzer::transferCall(const CallExpr *Call, const CallInfo &Info,
                                    const CFGBlock *B, State &St, bool Final) {
  SourceLocation Loc = Call->getExprLoc();
  if (Final && Info.Recursive)
    Out.SelfCalls.push_back(
        {Call, std::vector<PathId>(St.Held.begin(), St.Held.end())});
  if (Final && Info.Opaque)
    Out.OpaqueCalls.push_back(
        {Info.Callee, Loc,
         std::vector<PathId>(St.Held.begin(), St.Held.end())});
  if (Info.Generic) {
    auto [Method, ObjectArg] = methodAndObject(Call);
    PathId Object = pathOf(ObjectArg);
    if (Object == UnknownPath)
      return;
    Ctx.GenericObjects.insert(Object);
    if (Final && !St.Held.empty())
      Ctx.ObjectsUsedUnderLock.insert(Object);
    if (Info.Ref == RefUse::Write || Info.Ref == RefUse::Update)
      return; // Acts where the assignment is evaluated.
    std::string Name = Method->getNameAsString();
    if (Info.Generic == RoleRead) {
      recordRead({Call, 0}, Object, Loc, Name, St);
    } else if (Final) {
      ReadSet Data;
      for (const Expr *Arg : Call->arguments())
        if (Arg != ObjectArg) // An operator's object is its first argument.
          taint(Arg, St, Data);
      ActionFact Fact;
      Fact.Site = Call;
      Fact.Loc = Loc;
      Fact.Object = Object;
      Fact.Api = Name;
      Fact.Roles = RoleWrite;
      recordAction(std::move(Fact), Data, B, St);
    }
    return;
  }
  if (Info.GuardOfObject) {
    const auto *MC = cast<CXXMemberCallExpr>(Call);
    std::string Method =
        MC->getMethodDecl() ? MC->getMethodDecl()->getNameAsString() : "";
    std::vector<PathId> Locks = locksOf(MC->getImplicitObjectArgument());
    if (llvm::is_contained(Info.GuardOfObject->LockMembers, Method)) {
      if (Final)
        recordAcquisition(Locks, /*Try=*/false, Loc, St,
                          Info.GuardOfObject->Shared);
      for (PathId L : Locks)
        St.take(L, Info.GuardOfObject->Shared);
    } else if (llvm::is_contained(Info.GuardOfObject->UnlockMembers, Method)) {
      for (PathId L : Locks) {
        // A guard given by the caller (`unlock_for_io(lk)`): its lock is let
        // go of for the caller.
        if (!St.Held.count(L) && Final)
          ReleasedUntaken.insert(L);
        St.release(L);
      }
    }
    if (!Info.Api)
      return;
  }
  if (const ApiFunction *F = Info.Api) {
    unsigned Roles = F->Roles;
    std::vector<const Expr *> Objects = objectExprs(Call, *F);
    if (Roles & RoleBlock)
      Out.Summary.Blocks = true;
    std::string Name = Info.Callee ? Info.Callee->getNameAsString() : F->Name;
    if (isa_and_nonnull<CXXConversionDecl>(Info.Callee))
      Name = "operator T";
    // With the locks held before the call: a semaphore's own unit is not held
    // while waiting for it.
    if (Final && (Roles & (RoleBlock | RoleTimedBlock)))
      recordBlocking(Call, *F, Objects, Name, St);
    if ((Roles & RoleBlock) && !Objects.empty())
      St.Ready.erase(pathOf(Objects.front())); // What was ready is taken.
    // `acquire(false)`, `acquire(true, 0.05)`: gives up instead of waiting
    // for ever, like a try-lock; held after it only if the code does not look
    // at whether it succeeded (a branch on it is a try branch).
    bool GivesUp =
        (Roles & RoleAcquire) && boundOf(Call, *F) != BlockBound::Unbounded;
    if (Final && (Roles & (RoleAcquire | RoleTryAcquire))) {
      std::vector<PathId> Locks;
      for (const Expr *O : Objects)
        for (PathId L : locksOf(O))
          Locks.push_back(L);
      recordAcquisition(std::move(Locks),
                        !(Roles & RoleAcquire) || Info.IsBranchCondition ||
                            GivesUp,
                        Loc, St, F->Shared);
    }
    if ((Roles & RoleAcquire) && !Info.IsBranchCondition &&
        !(GivesUp && Info.ResultUsed))
      for (const Expr *O : Objects)
        for (PathId L : locksOf(O)) {
          St.take(L, F->Shared);
          if (Final)
            Out.Summary.Takes.push_back(L);
        }
    if (Roles & RoleRelease)
      for (const Expr *O : Objects)
        for (PathId L : locksOf(O)) {
          if (!St.Held.count(L) && Final)
            ReleasedUntaken.insert(L);
          St.release(L);
        }
    if (Roles & RoleWait) {
      std::vector<PathId> Locks;
      if (F->LockArg >= 0 && unsigned(F->LockArg) < Call->getNumArgs())
        Locks = locksOf(Call->getArg(F->LockArg));
      else if (!Objects.empty())
        Locks = locksOf(Objects.front());
      for (PathId L : Locks)
        for (auto &Entry : St.Live)
          Entry.second.erase(
              L); // Let go while waiting, taken again before returning.
    }
    PathId Object = Objects.empty() ? UnknownPath : pathOf(Objects.front());
    bool IsRead = Info.Ref == RefUse::Read ||
                  (Info.Ref == RefUse::None && (Roles & RoleRead));
    if (isSelfValidating(Info)) {
      // What an atomic operation reports is fresh: a decision on it is sound.
      recordRead({Call, 0}, Object, Loc, Name, St);
      St.Live[{Call, 0}] = LockSet{AtomicObservation};
    } else if (IsRead) {
      recordRead({Call, 0}, Object, Loc, Name, St);
      if (F->ResultArg >= 0 && unsigned(F->ResultArg) < Call->getNumArgs()) {
        const Expr *Arg = skipWrappers(Call->getArg(F->ResultArg));
        if (const auto *U = dyn_cast<UnaryOperator>(Arg);
            U && U->getOpcode() == UO_AddrOf)
          Arg = skipWrappers(U->getSubExpr());
        if (const auto *DRE = dyn_cast<DeclRefExpr>(Arg))
          St.VarTaint[DRE->getDecl()] = ReadSet{{Call, 0}};
      }
    }
    if (!Final || Info.Ref == RefUse::Write || Info.Ref == RefUse::Update)
      return; // A write through a reference acts where the assignment is
              // evaluated.
    // Actions, and blocking calls (for checks of what is held while blocking).
    if (((Roles & ActionRoles) && Object != UnknownPath) ||
        (Roles & RoleBlock)) {
      ReadSet Data;
      for (unsigned I = 0; I < Call->getNumArgs(); ++I) {
        const Expr *Arg = Call->getArg(I);
        if (llvm::is_contained(Objects, Arg))
          continue;
        taint(Arg, St, Data);
      }
      ActionFact Fact;
      Fact.Site = Call;
      Fact.Loc = Loc;
      Fact.Object = Object;
      Fact.Api = Name;
      Fact.Roles = Roles;
      Fact.ResultChecked = Info.ResultUsed;
      recordAction(std::move(Fact), Data, B, St);
    }
    return;
  }
  if (const FunctionSummary *S = Info.Summary) {
    std::string Name = Info.Callee->getNameAsString();
    if (Final && !S->BlockSites.empty())
      applyBlockSites(Call, *S, Name, St);
    if (Final && !S->TakeSites.empty()) {
      // What the helper takes is taken here, with the locks held at the call
      // that the helper does not let go of first.
      LockSet AtCall = St.Held;
      for (PathId L : S->Releases)
        for (PathId Mine : restate(L, Call))
          AtCall.erase(Mine);
      WitnessStep CallStep{Loc, Name, FD};
      auto Prefixed = [&](const WitnessPath &Inner) {
        WitnessPath P{CallStep};
        P.insert(P.end(), Inner.begin(), Inner.end());
        return P;
      };
      for (const TakeSite &T : S->TakeSites)
        for (PathId Mine : restate(T.Lock, Call)) {
          if (const ApiLockKind *K = Ctx.lockKind(T.Lock))
            Ctx.LockKinds.try_emplace(Mine, K);
          LockAcquisition A;
          A.Locks = {Mine};
          A.Shared = T.Shared;
          A.Path = Prefixed(T.Path);
          A.Held.assign(AtCall.begin(), AtCall.end());
          A.HeldShared.assign(St.SharedHeld.begin(), St.SharedHeld.end());
          for (PathId L : St.FirstHeld)
            if (!St.Held.count(L) && !llvm::any_of(S->Releases, [&](PathId R) {
                  return Ctx.Paths.substitute(R, Call, Ctx.Api) == L;
                }))
              A.HeldFromBeforeLoop.push_back(L);
          for (PathId L : St.LoopHeld)
            if (!AtCall.count(L) && !llvm::any_of(S->Releases, [&](PathId R) {
                  return Ctx.Paths.substitute(R, Call, Ctx.Api) == L;
                }))
              A.HeldAroundLoop.push_back(L);
          for (const auto &[Inner, Where] : T.HeldInside)
            if (PathId H = Ctx.Paths.substitute(Inner, Call, Ctx.Api))
              A.HeldInside.push_back({H, Prefixed(Where)});
          Out.Acquisitions.push_back(std::move(A));
        }
    }
    for (PathId L : S->Releases)
      for (PathId Mine : restate(L, Call))
        St.release(Mine);
    for (PathId L : S->Acquires)
      for (PathId Mine : restate(L, Call)) {
        St.take(Mine, llvm::any_of(S->TakeSites, [&](const TakeSite &T) {
                  return T.Lock == L && T.Shared;
                }));
        if (const ApiLockKind *K = Ctx.lockKind(L))
          Ctx.LockKinds.try_emplace(Mine, K);
      }
    if (Final)
      for (PathId L : S->Takes)
        if (PathId Mine = Ctx.Paths.substitute(L, Call, Ctx.Api))
          Out.Summary.Takes.push_back(Mine);
    if (S->Blocks)
      Out.Summary.Blocks = true;
    for (unsigned J = 0; J < S->Reads.size(); ++J)
      recordRead({Call, J + 1},
                 Ctx.Paths.substitute(S->Reads[J].Object, Call, Ctx.Api), Loc,
                 Name, St);
    if (!Final)
      return;
    for (const SummaryEffect &E : S->Actions) {
      PathId Object = Ctx.Paths.substitute(E.Object, Call, Ctx.Api);
      if (Object == UnknownPath)
        continue;
      // What flows into the action: the arguments, except the one naming it.
      ReadSet Data;
      for (const Expr *Arg : Call->arguments())
        if (pathOf(Arg) != Object)
          taint(Arg, St, Data);
      ActionFact Fact;
      Fact.Revalidated = E.CheckedInside && !St.Held.empty();
      Fact.Site = Call;
      Fact.Loc = Loc;
      Fact.Object = Object;
      Fact.Api = Name;
      Fact.Roles = E.Roles;
      Fact.ViaHelper = true;
      recordAction(std::move(Fact), Data, B, St);
    }
  }
}

void FunctionAnalyzer::noteUserGuard(const VarDecl *VD,
                                     const CXXRecordDecl *RD) {
  const auto *Construct =
      VD->getInit() ? dyn_cast<CXXConstructExpr>(skipWrappers(VD->getInit()))
                    : nullptr;
  const CXXDestructorDecl *Dtor = RD->getDestructor();
  if (!Construct || !Dtor || !Construct->getConstructor())
    return;
  const FunctionSummary *Ctor = Ctx.summaryFor(Construct->getConstructor());
  if (!Ctor || Ctor->Acquires.empty())
    return;
  // Only a class whose destructor lets go of what its constructor took: a
  // guard, not an object that keeps a lock for longer.
  const FunctionSummary *Release = Ctx.summaryFor(Dtor);
  if (!Release || !llvm::any_of(Ctor->Acquires, [&](PathId L) {
        return llvm::is_contained(Release->Releases, L);
      }))
    return;
  UserGuards[VD] = {Construct, Ctor};
  Interesting = true;
}

/// A lock the constructor returns holding, in this function's terms: a
/// parameter is the argument; a member initialized from a parameter
/// (`MutexLock(pthread_mutex_t *m) : m_(m)`) is that argument too.
PathId FunctionAnalyzer::lockOfUserGuard(PathId CtorLock,
                                         const CXXConstructorDecl *Ctor,
                                         const CXXConstructExpr *Construct) {
  const ObjectPath &P = Ctx.Paths.get(CtorLock);
  if (P.Kind == ObjectPath::Global)
    return CtorLock;
  const ParmVarDecl *Param = nullptr;
  if (P.Kind == ObjectPath::Param) {
    Param = dyn_cast_or_null<ParmVarDecl>(P.Root);
  } else if (P.Kind == ObjectPath::This && P.Components.size() == 1 &&
             P.Members.size() == 1) {
    for (const CXXCtorInitializer *I : Ctor->inits())
      if (I->getMember() && I->getMember() == P.Members[0] && I->getInit()) {
        const Expr *E = skipWrappers(I->getInit());
        if (const auto *U = dyn_cast<UnaryOperator>(E))
          E = skipWrappers(U->getSubExpr());
        if (const auto *DRE = dyn_cast<DeclRefExpr>(E))
          Param = dyn_cast<ParmVarDecl>(DRE->getDecl());
      }
  }
  if (!Param || (P.Kind == ObjectPath::Param && !P.Components.empty()))
    return UnknownPath;
  unsigned Index = Param->getFunctionScopeIndex();
  if (Index >= Construct->getNumArgs())
    return UnknownPath;
  PathId Mine = pathOf(Construct->getArg(Index));
  if (Mine != UnknownPath)
    if (const ApiLockKind *K = Ctx.lockKind(CtorLock))
      Ctx.LockKinds.try_emplace(Mine, K);
  return Mine;
}

void FunctionAnalyzer::transferDecl(const VarDecl *VD, const CFGBlock *B,
                                    State &St, bool Final) {
  const Expr *Init = VD->getInit();
  if (auto It = UserGuards.find(VD); It != UserGuards.end()) {
    const auto [Construct, Ctor] = It->second;
    std::vector<PathId> Locks;
    for (PathId L : Ctor->Acquires)
      if (PathId Mine =
              lockOfUserGuard(L, Construct->getConstructor(), Construct))
        Locks.push_back(Mine);
    GuardLocks[VD] = Locks;
    if (Final) {
      recordAcquisition(Locks, /*Try=*/false, VD->getLocation(), St);
      Out.Summary.Takes.insert(Out.Summary.Takes.end(), Locks.begin(),
                               Locks.end());
    }
    for (PathId L : Locks)
      St.take(L, /*Shared=*/false);
    return;
  }
  if (const auto *RD = VD->getType()->getAsCXXRecordDecl()) {
    if (Ctx.Api.lookupGuard(RD)) {
      std::vector<PathId> Locks;
      bool Acquires = true;
      bool Tries = false;
      // `std::adopt_lock`, Boost's `accept_ownership`: the locks are held
      // already; the guard only lets go of them at the end.
      bool Adopts = false;
      const auto *Construct =
          Init ? dyn_cast<CXXConstructExpr>(skipWrappers(Init)) : nullptr;
      if (Construct) {
        for (const Expr *Arg : Construct->arguments()) {
          QualType T = Arg->getType().getNonReferenceType();
          if (const auto *ArgClass = T->getAsCXXRecordDecl()) {
            std::string NameText = ArgClass->getNameAsString();
            llvm::StringRef Name = NameText;
            // A timed guard (`unique_lock(m, 100ms)`) gives up as a try-lock
            // does.
            if (Name.contains("defer") || Name.contains("try_to") ||
                Name.contains("duration") || Name.contains("time_point")) {
              Acquires = false;
              Tries = !Name.contains("defer");
              continue;
            }
            if (Name.contains("adopt") || Name.contains("accept_ownership")) {
              Acquires = false;
              Adopts = true;
              continue;
            }
            if (Ctx.Api.lookupGuard(ArgClass)) // A guard moved into another.
              continue;
          } else if (!T->isPointerType()) {
            continue;
          }
          for (PathId L : locksOf(Arg))
            Locks.push_back(L);
        }
      }
      GuardLocks[VD] = Locks;
      if (Final && (Acquires || Tries))
        recordAcquisition(Locks, /*Try=*/!Acquires, VD->getLocation(), St,
                          Ctx.Api.lookupGuard(RD)->Shared);
      if (Acquires) {
        // Each lock a guard takes is an acquisition, as a call to lock() is
        // (what lock-order and re-acquisition checks need).
        if (Final)
          for (PathId L : Locks) {
            ActionFact Fact;
            Fact.Site = VD->getInit();
            Fact.Loc = VD->getLocation();
            Fact.Object = L;
            Fact.Api = RD->getNameAsString();
            Fact.Roles = RoleAcquire;
            recordAction(std::move(Fact), ReadSet{}, B, St);
            Out.Summary.Takes.push_back(L);
          }
      }
      if (Acquires || Adopts)
        for (PathId L : Locks)
          St.take(L, Ctx.Api.lookupGuard(RD)->Shared);
      return;
    }
  }
  if (Init)
    St.VarTaint[VD] = taintOf(Init, St);
}

void FunctionAnalyzer::transferReferenceWrite(const Expr *Ref,
                                              const CallInfo &Info,
                                              const CFGBlock *B, State &St) {
  ActionFact Fact;
  Fact.Kind =
      Info.Ref == RefUse::Write ? ActionFact::Call : ActionFact::CompoundUpdate;
  Fact.Site = Info.RefSite;
  Fact.Loc = Ref->getBeginLoc();
  if (const auto *Call = dyn_cast<CallExpr>(Ref))
    Fact.Object = pathOf(Info.Api ? objectExpr(Call, *Info.Api)
                                  : methodAndObject(Call).second);
  else
    Fact.Object = pathOf(Ref); // A field protected by a sibling lock.
  Fact.Api = Info.Ref == RefUse::Write ? "=" : Info.RefOperator;
  Fact.Roles = RoleWrite | (Info.Ref == RefUse::Update ? RoleRead : 0);
  if (Fact.Object != UnknownPath)
    recordAction(std::move(Fact),
                 Info.RefValue ? taintOf(Info.RefValue, St) : ReadSet{}, B, St);
}

void FunctionAnalyzer::assignLocal(const Expr *LHS, const Expr *RHS,
                                   bool Replaces, State &St) const {
  const auto *DRE = dyn_cast<DeclRefExpr>(skipWrappers(LHS));
  const auto *VD = DRE ? dyn_cast<VarDecl>(DRE->getDecl()) : nullptr;
  if (!VD || VD->hasGlobalStorage())
    return;
  ReadSet R = taintOf(RHS, St);
  if (Replaces)
    St.VarTaint[VD] = std::move(R);
  else // `x += expr` keeps what x was derived from.
    St.VarTaint[VD].insert(R.begin(), R.end());
}

void FunctionAnalyzer::transferStmt(const Stmt *S, const CFGBlock *B, State &St,
                                    bool Final) {
  struct EndPending {
    const FunctionAnalyzer &A;
    const Stmt *S;
    State &St;
    ~EndPending() {
      auto It = A.ReadsEndingAt.find(S);
      if (It != A.ReadsEndingAt.end())
        for (ReadKey K : It->second)
          St.Pending.erase(K);
    }
  } End{*this, S, St};
  if (Final)
    if (const CallExpr *Ref = RefSites.lookup(S))
      transferReferenceWrite(Ref, Calls[Ref], B, St);
  if (Final)
    if (const Expr *Field = FieldSites.lookup(S)) {
      notePlainAccess(Field, St);
      transferReferenceWrite(Field, Fields[Field], B, St);
    }
  if (isa<MemberExpr>(S) || isa<DeclRefExpr>(S)) {
    const auto *E = cast<Expr>(S);
    auto It = Fields.find(E);
    if (It != Fields.end() && It->second.Ref == RefUse::Read) {
      if (Final)
        notePlainAccess(E, St);
      SourceLocation Loc = isa<MemberExpr>(E)
                               ? cast<MemberExpr>(E)->getMemberLoc()
                               : E->getExprLoc();
      recordRead({E, 0}, pathOf(E), Loc, "", St);
    }
    return;
  }
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    auto It = Calls.find(Call);
    if (It != Calls.end())
      transferCall(Call, It->second, B, St, Final);
    // `x = expr` on a class-typed local.
    if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call);
        OC && OC->isAssignmentOp() && OC->getNumArgs() == 2)
      assignLocal(OC->getArg(0), OC->getArg(1), OC->getOperator() == OO_Equal,
                  St);
    return;
  }
  if (const auto *DS = dyn_cast<DeclStmt>(S)) {
    for (const Decl *D : DS->decls())
      if (const auto *VD = dyn_cast<VarDecl>(D))
        transferDecl(VD, B, St, Final);
    return;
  }
  if (const auto *BO = dyn_cast<BinaryOperator>(S)) {
    if (BO->isAssignmentOp())
      assignLocal(BO->getLHS(), BO->getRHS(), BO->getOpcode() == BO_Assign, St);
    return;
  }
  if (const auto *RS = dyn_cast<ReturnStmt>(S)) {
    if (Final && RS->getRetValue()) {
      ReadSet R = taintOf(RS->getRetValue(), St);
      ReturnedReads.insert(R.begin(), R.end());
    }
    return;
  }
}

void FunctionAnalyzer::transferBlock(const CFGBlock *B, State &St, bool Final) {
  for (const CFGElement &E : *B) {
    if (std::optional<CFGStmt> CS = E.getAs<CFGStmt>()) {
      transferStmt(CS->getStmt(), B, St, Final);
    } else if (std::optional<CFGAutomaticObjDtor> D =
                   E.getAs<CFGAutomaticObjDtor>()) {
      auto It = GuardLocks.find(D->getVarDecl());
      if (It != GuardLocks.end())
        for (PathId L : It->second)
          St.release(L);
    }
  }
}

std::optional<bool>
FunctionAnalyzer::successWhenTrue(const Expr *Cond,
                                  const CallExpr *&Call) const {
  Cond = skipWrappers(Cond);
  if (const auto *U = dyn_cast<UnaryOperator>(Cond);
      U && U->getOpcode() == UO_LNot) {
    std::optional<bool> R = successWhenTrue(U->getSubExpr(), Call);
    return R ? std::optional<bool>(!*R) : std::nullopt;
  }
  if (const auto *BO = dyn_cast<BinaryOperator>(Cond);
      BO && (BO->getOpcode() == BO_EQ || BO->getOpcode() == BO_NE)) {
    auto IsZero = [](const Expr *E) {
      E = E->IgnoreParenImpCasts();
      if (const auto *IL = dyn_cast<IntegerLiteral>(E))
        return IL->getValue() == 0;
      if (const auto *BL = dyn_cast<CXXBoolLiteralExpr>(E))
        return !BL->getValue();
      return false;
    };
    const Expr *Other = IsZero(BO->getRHS())   ? BO->getLHS()
                        : IsZero(BO->getLHS()) ? BO->getRHS()
                                               : nullptr;
    if (!Other)
      return std::nullopt;
    std::optional<bool> R = successWhenTrue(Other, Call);
    if (!R)
      return std::nullopt;
    return BO->getOpcode() == BO_EQ ? !*R : *R;
  }
  const auto *C = dyn_cast<CallExpr>(Cond);
  if (!C)
    return std::nullopt;
  auto It = Calls.find(C);
  if (It == Calls.end())
    return std::nullopt;
  if (It->second.GuardOfObject) {
    // `if (lk.owns_lock())`, `if (lk)`: a guard made with try_to_lock.
    const auto *MC = cast<CXXMemberCallExpr>(C);
    const CXXMethodDecl *MD = MC->getMethodDecl();
    if (!MD ||
        !(isa<CXXConversionDecl>(MD) || MD->getNameAsString() == "owns_lock" ||
          MD->getNameAsString() == "owns"))
      return std::nullopt;
    Call = C;
    return true;
  }
  if (!It->second.Api ||
      !(It->second.Api->Roles & (RoleAcquire | RoleTryAcquire)))
    return std::nullopt;
  Call = C;
  // A bool says "taken"; an int is a POSIX status, 0 on success.
  return C->getType()->isBooleanType();
}

void FunctionAnalyzer::analyzeReadyBranch(const CFGBlock *B) {
  const auto *Cond = dyn_cast_or_null<Expr>(B->getTerminatorCondition());
  if (!Cond || B->succ_size() != 2)
    return;
  bool WhenTrue = true;
  const Expr *E = skipWrappers(Cond);
  while (const auto *U = dyn_cast<UnaryOperator>(E)) {
    if (U->getOpcode() != UO_LNot)
      return;
    WhenTrue = !WhenTrue;
    E = skipWrappers(U->getSubExpr());
  }
  const auto *Call = dyn_cast<CallExpr>(E);
  auto It = Call ? Calls.find(Call) : Calls.end();
  if (It == Calls.end() || !It->second.Api ||
      !(It->second.Api->Roles & RoleReady))
    return;
  std::vector<const Expr *> Objects = objectExprs(Call, *It->second.Api);
  PathId Object = Objects.empty() ? UnknownPath : pathOf(Objects.front());
  if (Object != UnknownPath)
    ReadyBranches[B] = {Object, WhenTrue ? 0u : 1u};
}

void FunctionAnalyzer::analyzeTryBranch(const CFGBlock *B) {
  const Stmt *Cond = B->getTerminatorCondition();
  if (!Cond || B->succ_size() != 2)
    return;
  const CallExpr *Call = nullptr;
  const auto *CondExpr = dyn_cast<Expr>(Cond);
  if (!CondExpr)
    return;
  std::optional<bool> Success = successWhenTrue(CondExpr, Call);
  if (!Success || !Call)
    return;
  CallInfo &Info = Calls[Call];
  TryBranch TB;
  TB.SuccessSucc = *Success ? 0 : 1;
  if (Info.GuardOfObject) {
    const Expr *Obj = skipWrappers(
        cast<CXXMemberCallExpr>(Call)->getImplicitObjectArgument());
    if (const auto *DRE = dyn_cast<DeclRefExpr>(Obj))
      TB.Guard = dyn_cast<VarDecl>(DRE->getDecl());
    if (!TB.Guard)
      return;
  } else {
    Info.IsBranchCondition = true;
    for (const Expr *O : objectExprs(Call, *Info.Api))
      for (PathId L : locksOf(O))
        TB.Locks.push_back(L);
  }
  TryBranches[B] = std::move(TB);
}

State FunctionAnalyzer::edgeState(const CFGBlock *Pred,
                                  unsigned SuccIndex) const {
  State St = OutStates[Pred->getBlockID()];
  if (const Stmt *Cond = Pred->getTerminatorCondition();
      Cond && Pred->succ_size() >= 2) {
    // The condition is evaluated anew: its earlier outcome no longer holds.
    unsigned ID = Pred->getBlockID();
    St.Branches.erase(St.Branches.lower_bound({ID, 0}),
                      St.Branches.lower_bound({ID + 1, 0}));
    // Only branches on shared state can decide an action.
    ReadSet Reads = taintOf(Cond, St);
    if (!Reads.empty()) {
      St.Branches.insert({ID, SuccIndex});
      BranchReads[ID].insert(Reads.begin(), Reads.end());
    }
  }
  collectGarbage(St);
  if (auto R = ReadyBranches.find(Pred);
      R != ReadyBranches.end() && R->second.second == SuccIndex)
    St.Ready.insert(R->second.first);
  auto It = TryBranches.find(Pred);
  if (It != TryBranches.end() && It->second.SuccessSucc == SuccIndex) {
    St.Held.insert(It->second.Locks.begin(), It->second.Locks.end());
    if (It->second.Guard) {
      auto Locks = GuardLocks.find(It->second.Guard);
      if (Locks != GuardLocks.end())
        St.Held.insert(Locks->second.begin(), Locks->second.end());
    }
  }
  return St;
}

/// What is held on the way back around a loop: on the back edge, or on each
/// way into the latch when the latch itself does nothing to locks (clang's
/// empty loop-back block, a for loop's increment), so that a `continue` that
/// keeps a lock is seen apart from the paths that let go of it.
void FunctionAnalyzer::noteHeldAroundLoop(const CFGBlock *Latch,
                                          const State &Back, State &In) const {
  In.LoopHeld.insert(Back.Held.begin(), Back.Held.end());
  for (const CFGElement &E : *Latch) {
    if (std::optional<CFGStmt> CS = E.getAs<CFGStmt>()) {
      if (Calls.count(CS->getStmt()) || isa<DeclStmt>(CS->getStmt()))
        return;
    } else if (E.getAs<CFGAutomaticObjDtor>()) {
      return;
    }
  }
  for (auto P = Latch->pred_begin(); P != Latch->pred_end(); ++P) {
    const CFGBlock *Pred = P->getReachableBlock();
    if (!Pred || !OutStates[Pred->getBlockID()].Reached)
      continue;
    unsigned Index = 0;
    for (auto S = Pred->succ_begin(); S != Pred->succ_end(); ++S, ++Index)
      if (S->getReachableBlock() == Latch) {
        State Edge = edgeState(Pred, Index);
        In.LoopHeld.insert(Edge.Held.begin(), Edge.Held.end());
      }
  }
}

void FunctionAnalyzer::run() {
  const Stmt *Body = FD->getBody();
  scan(Body);
  if (!Interesting)
    return;
  CFG::BuildOptions Options;
  Options.AddImplicitDtors = true;
  Options.AddTemporaryDtors = true;
  Options.AddCXXDefaultInitExprInCtors = true;
  Options.setAllAlwaysAdd();
  Graph = CFG::buildCFG(FD, const_cast<Stmt *>(Body), &Ctx.AST, Options);
  if (!Graph)
    return;
  Out.Analyzed = true;

  // Guards must be known before the first use of their locks; locksOf needs
  // them when a try-branch names a guard.
  for (const CFGBlock *B : *Graph) {
    analyzeTryBranch(B);
    analyzeReadyBranch(B);
  }

  BlocksByID.assign(Graph->getNumBlockIDs(), nullptr);
  for (const CFGBlock *B : *Graph)
    BlocksByID[B->getBlockID()] = B;
  OutStates.assign(Graph->getNumBlockIDs(), State());
  std::vector<State> InStates(Graph->getNumBlockIDs());
  const CFGBlock &Entry = Graph->getEntry();
  // Reverse post-order: a loop settles before the code after it is visited.
  std::vector<unsigned> Order(Graph->getNumBlockIDs(), ~0u);
  {
    std::vector<const CFGBlock *> PostOrder;
    std::vector<std::pair<const CFGBlock *, unsigned>> Stack{{&Entry, 0}};
    std::vector<bool> Seen(Graph->getNumBlockIDs(), false);
    Seen[Entry.getBlockID()] = true;
    while (!Stack.empty()) {
      auto &[Block, Next] = Stack.back();
      if (Next < Block->succ_size()) {
        const CFGBlock *Succ =
            (Block->succ_begin() + Next++)->getReachableBlock();
        if (Succ && !Seen[Succ->getBlockID()]) {
          Seen[Succ->getBlockID()] = true;
          Stack.push_back({Succ, 0});
        }
        continue;
      }
      PostOrder.push_back(Block);
      Stack.pop_back();
    }
    for (unsigned I = 0; I < PostOrder.size(); ++I)
      Order[PostOrder[PostOrder.size() - 1 - I]->getBlockID()] = I;
  }
  std::set<std::pair<unsigned, const CFGBlock *>> Work{
      {Order[Entry.getBlockID()], &Entry}};
  unsigned Budget = 64 * Graph->getNumBlockIDs() + 64;
  while (!Work.empty() && Budget--) {
    const CFGBlock *B = Work.begin()->second;
    Work.erase(Work.begin());
    State In;
    if (B == &Entry) {
      In.Reached = true;
    } else {
      std::optional<LockSet> FirstTime; // Over the entries, not back edges.
      for (auto P = B->pred_begin(); P != B->pred_end(); ++P) {
        const CFGBlock *Pred = P->getReachableBlock();
        if (!Pred)
          continue;
        unsigned Index = 0;
        for (auto S = Pred->succ_begin(); S != Pred->succ_end(); ++S, ++Index)
          if (S->getReachableBlock() == B) {
            State Edge = edgeState(Pred, Index);
            In.join(Edge);
            bool BackEdge = Order[Pred->getBlockID()] != ~0u &&
                            Order[Pred->getBlockID()] >= Order[B->getBlockID()];
            if (BackEdge && Edge.Reached)
              noteHeldAroundLoop(Pred, Edge, In);
            if (!BackEdge && Edge.Reached) {
              if (!FirstTime) {
                FirstTime = Edge.FirstHeld;
              } else {
                LockSet Both;
                std::set_intersection(FirstTime->begin(), FirstTime->end(),
                                      Edge.FirstHeld.begin(),
                                      Edge.FirstHeld.end(),
                                      std::inserter(Both, Both.begin()));
                FirstTime = std::move(Both);
              }
            }
          }
      }
      if (FirstTime)
        In.FirstHeld = std::move(*FirstTime);
      In.dropJoinedBranches(BlocksByID);
    }
    InStates[B->getBlockID()] = In;
    State St = In;
    transferBlock(B, St, /*Final=*/false);
    if (St == OutStates[B->getBlockID()] && B != &Entry)
      continue;
    OutStates[B->getBlockID()] = std::move(St);
    for (auto S = B->succ_begin(); S != B->succ_end(); ++S)
      if (const CFGBlock *Succ = S->getReachableBlock()) {
        Work.insert({Order[Succ->getBlockID()], Succ});
        // A loop header looks through its latch (noteHeldAroundLoop): what
        // reaches the latch matters to it even when the latch's state stays.
        for (auto H = Succ->succ_begin(); H != Succ->succ_end(); ++H)
          if (const CFGBlock *Header = H->getReachableBlock();
              Header &&
              Order[Succ->getBlockID()] >= Order[Header->getBlockID()])
            Work.insert({Order[Header->getBlockID()], Header});
      }
  }

  // Which reads decide each branch, as of the end of its block.
  for (const CFGBlock *B : *Graph)
    if (const Stmt *Cond = B->getTerminatorCondition(/*StripParens=*/false))
      if (OutStates[B->getBlockID()].Reached) {
        ReadSet R = taintOf(Cond, OutStates[B->getBlockID()]);
        if (!R.empty())
          ConditionReads[B] = std::move(R);
      }

  // One final pass over the fixed point records the facts.
  for (const CFGBlock *B : *Graph) {
    State St = InStates[B->getBlockID()];
    if (!St.Reached)
      continue;
    transferBlock(B, St, /*Final=*/true);
  }

  // The summary, in terms a caller can restate: parameters, `this`, globals.
  for (const auto &[Key, Site] : Out.Reads)
    if (exportable(Site.Object))
      Out.Summary.Reads.push_back(SummaryEffect{Site.Object, RoleRead, Site.Api,
                                                ReturnedReads.count(Key) > 0});
  std::set<std::pair<PathId, unsigned>> SeenActions;
  for (const ActionFact &F : Out.Facts)
    // An action the callee decides by its own check under a lock validates
    // itself: a caller's earlier check does not decide it.
    if (exportable(F.Object) && (F.Roles & ActionRoles) && !F.Revalidated &&
        SeenActions.insert({F.Object, F.Roles}).second)
      Out.Summary.Actions.push_back(SummaryEffect{
          F.Object, F.Roles, F.Api, false, !F.ControlReads.empty()});
  const State &Exit = InStates[Graph->getExit().getBlockID()];
  if (Exit.Reached)
    for (PathId L : Exit.Held)
      if (exportable(L))
        Out.Summary.Acquires.push_back(L);
  llvm::erase_if(Out.Summary.Takes, [&](PathId L) { return !exportable(L); });
  llvm::sort(Out.Summary.Takes);
  Out.Summary.Takes.erase(
      std::unique(Out.Summary.Takes.begin(), Out.Summary.Takes.end()),
      Out.Summary.Takes.end());
  for (PathId L : ReleasedUntaken)
    if (exportable(L))
      Out.Summary.Releases.push_back(L);
  summarizeTakes();
  summarizeBlocking();
}

void FunctionAnalyzer::recordAcquisition(std::vector<PathId> Locks, bool Try,
                                         SourceLocation Loc, const State &St,
                                         bool Shared) {
  if (Locks.empty())
    return;
  LockAcquisition A;
  A.Locks = std::move(Locks);
  A.Try = Try;
  A.Shared = Shared;
  A.Path = {WitnessStep{Loc, "", FD}};
  A.Held.assign(St.Held.begin(), St.Held.end());
  for (PathId L : St.LoopHeld)
    if (!St.Held.count(L))
      A.HeldAroundLoop.push_back(L);
  for (PathId L : St.FirstHeld)
    if (!St.Held.count(L))
      A.HeldFromBeforeLoop.push_back(L);
  A.HeldShared.assign(St.SharedHeld.begin(), St.SharedHeld.end());
  Out.Acquisitions.push_back(std::move(A));
}

void FunctionAnalyzer::summarizeTakes() {
  const SourceManager &SM = Ctx.AST.getSourceManager();
  // One site per lock and set of locks held inside: enough for every order a
  // caller can see, and bounded.
  std::set<std::tuple<PathId, bool, std::vector<PathId>>> Seen;
  for (const LockAcquisition &A : Out.Acquisitions) {
    if (A.Try)
      continue;
    for (PathId L : A.Locks) {
      if (!exportable(L))
        continue;
      TakeSite T;
      T.Lock = L;
      T.Shared = A.Shared;
      T.Path = A.Path;
      for (PathId H : A.Held)
        if (exportable(H) && H != L)
          T.HeldInside.push_back({H, heldSite(Out, H, A, SM)});
      for (const auto &Inner : A.HeldInside)
        if (exportable(Inner.first) && Inner.first != L)
          T.HeldInside.push_back(Inner);
      std::vector<PathId> HeldLocks;
      for (const auto &Inner : T.HeldInside)
        HeldLocks.push_back(Inner.first);
      llvm::sort(HeldLocks);
      if (Seen.insert({L, A.Shared, HeldLocks}).second)
        Out.Summary.TakeSites.push_back(std::move(T));
    }
  }
}

/// The value of a constant argument (a default argument included), as a
/// number; nullopt when it is not a constant.
static std::optional<double> constantArg(const CallExpr *Call, int Index,
                                         const ASTContext &AST) {
  if (Index < 0 || unsigned(Index) >= Call->getNumArgs())
    return std::nullopt;
  const Expr *Arg = Call->getArg(Index);
  if (Arg->isValueDependent() || Arg->isTypeDependent())
    return std::nullopt;
  Expr::EvalResult R;
  if (!Arg->EvaluateAsRValue(R, AST) || R.HasSideEffects)
    return std::nullopt;
  if (R.Val.isFloat())
    return R.Val.getFloat().convertToDouble();
  if (R.Val.isInt())
    return double(R.Val.getInt().getSExtValue());
  return std::nullopt;
}

BlockBound FunctionAnalyzer::boundOf(const CallExpr *Call,
                                     const ApiFunction &F) const {
  if (std::optional<double> Block = constantArg(Call, F.BlockFlagArg, Ctx.AST);
      Block && *Block == 0)
    return BlockBound::Immediate;
  std::optional<double> Timeout;
  bool HasTimeout =
      F.TimeoutArg >= 0 && unsigned(F.TimeoutArg) < Call->getNumArgs();
  if (HasTimeout)
    Timeout = constantArg(Call, F.TimeoutArg, Ctx.AST);
  if (Timeout && *Timeout == 0)
    return BlockBound::Immediate;
  if (!(F.Roles & RoleBlock))
    return BlockBound::Timed; // A timed wait by its nature.
  if (!HasTimeout || (Timeout && *Timeout < 0))
    return BlockBound::Unbounded;
  return BlockBound::Timed; // A positive timeout, or one only known at run
                            // time.
}

void FunctionAnalyzer::recordBlocking(const CallExpr *Call,
                                      const ApiFunction &F,
                                      const std::vector<const Expr *> &Objects,
                                      const std::string &Name,
                                      const State &St) {
  if (F.Roles & (RoleAcquire | RoleTryAcquire)) {
    // Taking a lock waits for its holder, which lock-order checks cover; a
    // counting semaphore's unit waits for a post, an event like any other.
    bool Counting = false;
    for (const Expr *O : Objects)
      for (PathId L : locksOf(O)) {
        const ApiLockKind *K = Ctx.lockKind(L);
        if (!K || !K->Counting)
          return;
        Counting = true;
      }
    if (!Counting)
      return;
  }
  BlockBound Bound = boundOf(Call, F);
  if (Bound == BlockBound::Immediate)
    return;
  // `if (!q.empty()) q.get();` under a lock: the check, made under a lock
  // still held, says the call will not wait (as long as everyone takes the
  // lock).
  if (!Objects.empty() && decidedUnderLock(pathOf(Objects.front()), St))
    return;
  if (!Objects.empty() && St.Ready.count(pathOf(Objects.front())))
    return; // `if (conn.poll()) conn.recv()`: data is there.
  BlockingCall B;
  B.Path = {WitnessStep{Call->getExprLoc(), "", FD}};
  B.Api = Name;
  B.Bound = Bound;
  B.Held.assign(St.Held.begin(), St.Held.end());
  if (F.Roles & RoleWait) {
    if (F.LockArg >= 0 && unsigned(F.LockArg) < Call->getNumArgs())
      B.Releases = locksOf(Call->getArg(F.LockArg));
    else if (!Objects.empty()) {
      B.Releases = locksOf(Objects.front());
      // `mp::Condition changed{lock}`: waiting lets go of `lock` too.
      if (PathId Built = lockConditionIsBuiltOn(
              B.Releases.empty() ? UnknownPath : B.Releases.front()))
        B.Releases.push_back(Built);
    }
  }
  Out.Blocking.push_back(std::move(B));
}

/// The lock the condition \p Cond was constructed on, when its declaration
/// says (a field initialized from a sibling field, a variable from another
/// variable), as a path beside \p Cond; UnknownPath otherwise.
PathId FunctionAnalyzer::lockConditionIsBuiltOn(PathId Cond) {
  if (Cond == UnknownPath)
    return UnknownPath;
  const ObjectPath &P = Ctx.Paths.get(Cond);
  const Decl *D = P.declaration();
  const Expr *Init = nullptr;
  if (const auto *VD = dyn_cast_or_null<VarDecl>(D))
    Init = VD->getInit();
  else if (const auto *FD = dyn_cast_or_null<FieldDecl>(D))
    Init = FD->getInClassInitializer();
  const auto *Construct =
      Init ? dyn_cast<CXXConstructExpr>(skipWrappers(Init->IgnoreImplicit()))
           : nullptr;
  if (!Construct || Construct->getNumArgs() != 1 ||
      !Ctx.Api.lockKindOf(Construct->getArg(0)->getType()))
    return UnknownPath;
  // The lock may be passed by value: an mp::Lock is a handle.
  const Expr *Arg = skipWrappers(Construct->getArg(0)->IgnoreImplicit());
  while (const auto *Copy = dyn_cast<CXXConstructExpr>(Arg)) {
    if (Copy->getNumArgs() != 1 || !Copy->getConstructor() ||
        !Copy->getConstructor()->isCopyOrMoveConstructor())
      break;
    Arg = skipWrappers(Copy->getArg(0)->IgnoreImplicit());
  }
  if (const auto *DRE = dyn_cast<DeclRefExpr>(Arg)) {
    if (const auto *VD = dyn_cast<VarDecl>(DRE->getDecl());
        VD && VD->hasGlobalStorage())
      return pathOf(DRE);
    return UnknownPath;
  }
  // A sibling field: the same path with its last component replaced.
  const auto *ME = dyn_cast<MemberExpr>(Arg);
  const auto *Sibling =
      ME && isa<CXXThisExpr>(ME->getBase()->IgnoreParenImpCasts())
          ? dyn_cast<FieldDecl>(ME->getMemberDecl())
          : nullptr;
  if (!Sibling || P.Components.empty())
    return UnknownPath;
  ObjectPath Beside = P;
  Beside.Components.back() = Sibling->getNameAsString();
  Beside.Members.back() = Sibling;
  if (!Beside.ShownAs.empty() &&
      Beside.ShownAs.size() == Beside.Components.size())
    Beside.ShownAs.back().clear();
  return Ctx.Paths.intern(Beside);
}

bool FunctionAnalyzer::decidedUnderLock(PathId Object, const State &St) const {
  if (Object == UnknownPath)
    return false;
  for (const auto &Outcome : St.Branches) {
    auto It = ConditionReads.find(BlocksByID[Outcome.first]);
    if (It == ConditionReads.end())
      continue;
    for (ReadKey Key : It->second) {
      auto Site = Out.Reads.find(Key);
      auto Live = St.Live.find(Key);
      if (Site != Out.Reads.end() && Site->second.Object == Object &&
          Live != St.Live.end() && !Live->second.empty() &&
          !Live->second.count(AtomicObservation))
        return true;
    }
  }
  return false;
}

/// A helper's lock in this function's terms at \p Call; a guard passed by
/// reference (`wait_ready(lk)`, `unlock_for_io(lk)`) stands for its locks.
std::vector<PathId> FunctionAnalyzer::restate(PathId CalleeLock,
                                              const CallExpr *Call) {
  const ObjectPath &P = Ctx.Paths.get(CalleeLock);
  if (P.Kind == ObjectPath::Param && P.Components.empty()) {
    unsigned Arg = P.ParamIndex;
    if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call))
      if (isa_and_nonnull<CXXMethodDecl>(OC->getDirectCallee()))
        ++Arg;
    if (Arg < Call->getNumArgs())
      return locksOf(Call->getArg(Arg));
  }
  if (PathId Mine = Ctx.Paths.substitute(CalleeLock, Call, Ctx.Api))
    return {Mine};
  return {};
}

void FunctionAnalyzer::applyBlockSites(const CallExpr *Call,
                                       const FunctionSummary &S,
                                       const std::string &Name,
                                       const State &St) {
  LockSet AtCall = St.Held;
  for (PathId L : S.Releases)
    for (PathId Mine : restate(L, Call))
      AtCall.erase(Mine);
  for (const BlockingCall &Inner : S.BlockSites) {
    BlockingCall B;
    B.Path = {WitnessStep{Call->getExprLoc(), Name, FD}};
    B.Path.insert(B.Path.end(), Inner.Path.begin(), Inner.Path.end());
    B.Api = Inner.Api;
    B.Bound = Inner.Bound;
    B.Held.assign(AtCall.begin(), AtCall.end());
    for (PathId L : Inner.Releases)
      for (PathId Mine : restate(L, Call))
        B.Releases.push_back(Mine);
    Out.Blocking.push_back(std::move(B));
  }
}

void FunctionAnalyzer::summarizeBlocking() {
  // Enough for a caller to see each way the function can wait, and bounded.
  constexpr size_t MaxSites = 4;
  std::set<std::tuple<std::string, BlockBound, std::vector<PathId>>> Seen;
  for (const BlockingCall &B : Out.Blocking) {
    if (Out.Summary.BlockSites.size() >= MaxSites)
      break;
    BlockingCall Site;
    Site.Path = B.Path;
    Site.Api = B.Api;
    Site.Bound = B.Bound;
    for (PathId L : B.Releases)
      if (exportable(L))
        Site.Releases.push_back(L);
    llvm::sort(Site.Releases);
    if (Seen.insert({Site.Api, Site.Bound, Site.Releases}).second)
      Out.Summary.BlockSites.push_back(std::move(Site));
  }
}

} // namespace

WitnessPath heldSite(const FunctionResult &Result, PathId Lock,
                     const LockAcquisition &At, const SourceManager &SM) {
  SourceLocation AtLoc = At.Path.front().Loc;
  const LockAcquisition *Best = nullptr;
  for (const LockAcquisition &A : Result.Acquisitions) {
    if (!llvm::is_contained(A.Locks, Lock) || &A == &At)
      continue;
    SourceLocation Loc = A.Path.front().Loc;
    if (!SM.isBeforeInTranslationUnit(Loc, AtLoc))
      continue;
    if (!Best || SM.isBeforeInTranslationUnit(Best->Path.front().Loc, Loc))
      Best = &A;
  }
  if (Best)
    return Best->Path;
  // Held on entry to a loop body taken again later, or by a construct not
  // recorded: the function is where it is held.
  for (const LockAcquisition &A : Result.Acquisitions)
    if (llvm::is_contained(A.Locks, Lock) && &A != &At)
      return A.Path;
  const FunctionDecl *FD = Result.Function;
  return {WitnessStep{FD ? FD->getLocation() : AtLoc, "", FD}};
}

void analyzeFunction(const FunctionDecl *FD, AnalysisContext &Ctx,
                     FunctionResult &Out) {
  assert(FD->hasBody() && "analyzing a function without a body");
  FunctionAnalyzer(FD, Ctx, Out).run();
}

} // namespace ipcheck
