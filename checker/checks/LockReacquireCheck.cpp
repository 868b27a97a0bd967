//===- LockReacquireCheck.cpp - ipc-lock-reacquire ------------------------===//

#include "checks/LockReacquireCheck.h"
#include "engine/MainFile.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/RecursiveASTVisitor.h"
#include "clang/Basic/SourceManager.h"
#include "clang/Lex/Lexer.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

using namespace clang;

namespace ipcheck {
namespace {

/// Which locks of the file are made reentrant where they are initialized (a
/// pthread mutex with PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP, or initialized
/// with attributes set to PTHREAD_MUTEX_RECURSIVE): the names come from the
/// tables' `reentrant_when`.
class ReentrantInits : public MainFileVisitor<ReentrantInits> {
public:
  ReentrantInits(AnalysisContext &Ctx)
      : MainFileVisitor(Ctx.AST.getSourceManager()), Ctx(Ctx) {}

  bool VisitVarDecl(VarDecl *VD) {
    if (const Expr *Init = VD->getInit())
      noteInitializer(VD->getType(), VD->getCanonicalDecl(), Init);
    return true;
  }
  bool VisitFieldDecl(FieldDecl *FD) {
    if (const Expr *Init = FD->getInClassInitializer())
      noteInitializer(FD->getType(), FD, Init);
    return true;
  }
  bool VisitCXXCtorInitializer(CXXCtorInitializer *I) {
    if (FieldDecl *FD = I->getMember())
      noteInitializer(FD->getType(), FD, I->getInit());
    return true;
  }
  bool TraverseConstructorInitializer(CXXCtorInitializer *I) {
    VisitCXXCtorInitializer(I);
    return RecursiveASTVisitor::TraverseConstructorInitializer(I);
  }
  bool VisitBinaryOperator(BinaryOperator *BO) {
    if (BO->getOpcode() == BO_Assign)
      noteInitializer(BO->getLHS()->getType(), lockDecl(BO->getLHS()),
                      BO->getRHS());
    return true;
  }
  bool VisitCallExpr(CallExpr *Call) {
    if (Call->getNumArgs() == 0)
      return true;
    const ApiFunction *F = Ctx.Api.lookup(Call);
    if (F && (F->Roles & RoleInit)) {
      Inits.push_back(Call);
      return true;
    }
    // `pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE)`: a call on
    // an object with a reentrant name among its other arguments.
    for (unsigned I = 1; I < Call->getNumArgs(); ++I)
      if (mentions(Call->getArg(I), allNames()))
        if (const Decl *Attr = lockDecl(Call->getArg(0)))
          ReentrantAttrs.insert(Attr);
    return true;
  }

  /// Applies the init calls, once every attribute object is known.
  void finish() {
    for (const CallExpr *Call : Inits) {
      const ApiFunction *F = Ctx.Api.lookup(Call);
      const Expr *Object = Call->getArg(F->Object >= 0 ? F->Object : 0);
      const ApiLockKind *K = Ctx.Api.lockKindOf(Object->getType());
      if (!K || K->ReentrantWhen.empty())
        continue;
      bool Recursive = false;
      if (F->AttrArg >= 0 && unsigned(F->AttrArg) < Call->getNumArgs()) {
        const Expr *AttrArg = Call->getArg(F->AttrArg);
        const Decl *Attr = lockDecl(AttrArg);
        Recursive = (Attr && ReentrantAttrs.count(Attr)) ||
                    mentions(AttrArg, names(*K));
      }
      if (Recursive)
        markReentrant(K, lockDecl(Object));
    }
  }

  /// Whether the lock \p Path (of kind \p K) was made reentrant.
  bool isReentrant(const ObjectPath &Path, const ApiLockKind *K) const {
    if (AllOfKind.count(K))
      return true;
    const Decl *D = Path.declaration();
    return D && Decls.count(D->getCanonicalDecl());
  }

private:
  const Decl *lockDecl(const Expr *E) {
    PathId P = Ctx.Paths.pathOf(E, Ctx.Api);
    return P == UnknownPath ? nullptr : Ctx.Paths.get(P).declaration();
  }

  void noteInitializer(QualType T, const Decl *D, const Expr *Init) {
    const ApiLockKind *K = Ctx.Api.lockKindOf(T);
    if (!K || K->ReentrantWhen.empty() || T->isPointerType())
      return;
    if (mentions(Init, names(*K)))
      markReentrant(K, D);
  }

  /// \p D of kind \p K is reentrant; when the code does not say which lock
  /// (a parameter, an element), every lock of the kind may be.
  void markReentrant(const ApiLockKind *K, const Decl *D) {
    if (!D || isa<ParmVarDecl>(D))
      AllOfKind.insert(K);
    else
      Decls.insert(D->getCanonicalDecl());
  }

  const llvm::StringSet<> &names(const ApiLockKind &K) {
    auto [It, Inserted] = NamesOf.try_emplace(&K);
    if (Inserted)
      for (const std::string &N : K.ReentrantWhen)
        It->second.insert(N);
    return It->second;
  }
  const llvm::StringSet<> &allNames() {
    if (!AllNamesKnown) {
      AllNamesKnown = true;
      for (const ApiLockKind *K : Ctx.Api.lockKinds())
        for (const std::string &N : K->ReentrantWhen)
          AllNames.insert(N);
    }
    return AllNames;
  }

  /// Whether \p E names one of \p Names: an enumerator or variable, or a macro
  /// it is expanded from.
  bool mentions(const Expr *E, const llvm::StringSet<> &Names) const {
    if (!E || Names.empty())
      return false;
    for (SourceLocation Loc = E->getBeginLoc(); Loc.isMacroID();
         Loc = SM.getImmediateMacroCallerLoc(Loc))
      if (Names.count(
              Lexer::getImmediateMacroName(Loc, SM, Ctx.AST.getLangOpts())))
        return true;
    if (const auto *DRE = dyn_cast<DeclRefExpr>(E))
      if (DRE->getDecl()->getIdentifier() &&
          Names.count(DRE->getDecl()->getName()))
        return true;
    for (const Stmt *Child : E->children())
      if (const auto *CE = dyn_cast_or_null<Expr>(Child))
        if (mentions(CE, Names))
          return true;
    return false;
  }

  AnalysisContext &Ctx;
  std::vector<const CallExpr *> Inits;
  llvm::DenseSet<const Decl *> ReentrantAttrs;
  llvm::DenseSet<const Decl *> Decls;
  llvm::DenseSet<const ApiLockKind *> AllOfKind;
  llvm::DenseMap<const ApiLockKind *, llvm::StringSet<>> NamesOf;
  llvm::StringSet<> AllNames;
  bool AllNamesKnown = false;
};

/// Whether \p Path names "some element" (`locks[i]`): two such names may be two
/// locks.
bool namesSomeElement(const ObjectPath &Path) {
  return llvm::is_contained(Path.Components, "[]");
}

} // namespace

void LockReacquireCheck::checkTranslationUnit(
    AnalysisContext &Ctx, llvm::ArrayRef<const FunctionDecl *> Functions,
    std::vector<Finding> &Findings) {
  const SourceManager &SM = Ctx.AST.getSourceManager();
  struct Candidate {
    const FunctionResult *Result;
    const LockAcquisition *At;
    PathId Lock;
    const ApiLockKind *Kind;
    enum { Held, BeforeLoop, AroundLoop } When;
  };
  std::vector<Candidate> Candidates;
  for (const FunctionDecl *FD : Functions) {
    const FunctionResult &R = Ctx.analyze(FD);
    if (!R.Analyzed)
      continue;
    for (const LockAcquisition &A : R.Acquisitions) {
      // A try-lock fails instead of waiting.
      if (A.Try)
        continue;
      for (size_t I = 0; I < A.Locks.size(); ++I) {
        PathId L = A.Locks[I];
        bool Again =
            llvm::is_contained(A.Held, L) ||
            llvm::is_contained(llvm::ArrayRef(A.Locks).take_front(I), L);
        bool BeforeLoop = !Again && llvm::is_contained(A.HeldFromBeforeLoop, L);
        bool AroundLoop =
            !Again && !BeforeLoop && llvm::is_contained(A.HeldAroundLoop, L);
        // Readers may hold a lock several times: a shared acquisition waits
        // only for a lock held exclusively for sure.
        if (A.Shared &&
            (AroundLoop || BeforeLoop || llvm::is_contained(A.HeldShared, L)))
          continue;
        if (!Again && !AroundLoop && !BeforeLoop)
          continue;
        const ApiLockKind *K = Ctx.lockKind(L);
        if (!K || K->Reentrant || K->Counting ||
            namesSomeElement(Ctx.Paths.get(L)))
          continue;
        Candidates.push_back({&R, &A, L, K,
                              Again        ? Candidate::Held
                              : BeforeLoop ? Candidate::BeforeLoop
                                           : Candidate::AroundLoop});
      }
    }
  }
  // A recursive call takes again what the function takes, as a helper would.
  struct Recursion {
    const FunctionResult *Result;
    const SelfCall *Call;
    const TakeSite *Take;
    PathId Lock;
    const ApiLockKind *Kind;
  };
  std::vector<Recursion> Recursions;
  for (const FunctionDecl *FD : Functions) {
    const FunctionResult &R = Ctx.analyze(FD);
    if (!R.Analyzed)
      continue;
    for (const SelfCall &S : R.SelfCalls)
      for (const TakeSite &T : R.Summary.TakeSites) {
        PathId L = Ctx.Paths.substitute(T.Lock, S.Call, Ctx.Api);
        if (L == UnknownPath || T.Shared || !llvm::is_contained(S.Held, L))
          continue;
        const ApiLockKind *K = Ctx.lockKind(L);
        if (!K || K->Reentrant || K->Counting ||
            namesSomeElement(Ctx.Paths.get(L)))
          continue;
        Recursions.push_back({&R, &S, &T, L, K});
      }
  }
  if (Candidates.empty() && Recursions.empty())
    return;
  // Only now, when there is something to report: what the file initializes
  // reentrant.
  ReentrantInits Inits(Ctx);
  Inits.TraverseDecl(Ctx.AST.getTranslationUnitDecl());
  Inits.finish();
  for (const Candidate &C : Candidates) {
    if (Inits.isReentrant(Ctx.Paths.get(C.Lock), C.Kind))
      continue;
    const LockAcquisition &A = *C.At;
    std::string Lock = Ctx.Paths.display(C.Lock);
    std::string Why =
        "'" + C.Kind->Class + "' is not reentrant (self-deadlock)";
    Finding F;
    F.Check = std::string(name());
    F.Loc = A.Path.front().Loc;
    F.Function = C.Result->Function;
    std::string When = C.When == Candidate::AroundLoop
                           ? " while it is held from the previous iteration: "
                       : C.When == Candidate::BeforeLoop
                           ? " while it is held from before the loop: "
                           : " while it is held: ";
    if (A.Path.size() == 1)
      F.Message = "acquiring '" + Lock + "' again" + When + Why;
    else
      F.Message = "call to '" + A.Path.front().Callee + "' acquires '" + Lock +
                  "'" + When + Why;
    WitnessPath First = heldSite(*C.Result, C.Lock, A, SM);
    std::string Note = "'" + Lock + "' first acquired here";
    if (!First.front().Callee.empty())
      Note += " (by '" + First.front().Callee + "')";
    // Around a loop, the acquisition may be its own first one: then the
    // function's location is all heldSite knows, and no note is worth it.
    bool OwnFirst = C.Result->Function &&
                    First.front().Loc == C.Result->Function->getLocation();
    if (First.front().Loc != F.Loc && !OwnFirst)
      F.Notes.push_back({First.front().Loc, Note});
    if (A.Path.size() > 1) {
      const WitnessStep &Inner = A.Path.back();
      F.Notes.push_back(
          {Inner.Loc, "'" + Lock + "' acquired again here, in '" +
                          (Inner.Function ? Inner.Function->getNameAsString()
                                          : std::string("?")) +
                          "'"});
    }
    Findings.push_back(std::move(F));
  }
  for (const Recursion &C : Recursions) {
    if (Inits.isReentrant(Ctx.Paths.get(C.Lock), C.Kind))
      continue;
    std::string Lock = Ctx.Paths.display(C.Lock);
    const FunctionDecl *FD = C.Result->Function;
    Finding F;
    F.Check = std::string(name());
    F.Loc = C.Call->Call->getExprLoc();
    F.Function = FD;
    F.Message = "recursive call to '" + FD->getNameAsString() + "' acquires '" +
                Lock + "' while it is held: '" + C.Kind->Class +
                "' is not reentrant (self-deadlock)";
    LockAcquisition At;
    At.Path = {WitnessStep{F.Loc, "", FD}};
    WitnessPath First = heldSite(*C.Result, C.Lock, At, SM);
    if (First.front().Loc != FD->getLocation())
      F.Notes.push_back(
          {First.front().Loc, "'" + Lock + "' first acquired here"});
    const WitnessStep &Inner = C.Take->Path.back();
    if (Inner.Loc != First.front().Loc)
      F.Notes.push_back({Inner.Loc, "'" + Lock + "' acquired again here, in '" +
                                        FD->getNameAsString() + "'"});
    Findings.push_back(std::move(F));
  }
}

} // namespace ipcheck
