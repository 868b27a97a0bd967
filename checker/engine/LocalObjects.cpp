//===- LocalObjects.cpp - Which local object an expression is part of -----===//

#include "engine/LocalObjects.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/DeclTemplate.h"
#include "clang/AST/ExprCXX.h"
#include "clang/AST/StmtCXX.h"

using namespace clang;

namespace ipcheck {

const Expr *stripTemporaries(const Expr *E) {
  while (E) {
    E = E->IgnoreParenImpCasts();
    if (const auto *C = dyn_cast<ExprWithCleanups>(E))
      E = C->getSubExpr();
    else if (const auto *B = dyn_cast<CXXBindTemporaryExpr>(E))
      E = B->getSubExpr();
    else if (const auto *M = dyn_cast<MaterializeTemporaryExpr>(E))
      E = M->getSubExpr();
    else
      return E;
  }
  return E;
}

static bool hasConstTwin(const CXXMethodDecl *M) {
  if (!M->getDeclName())
    return false;
  for (const NamedDecl *D : M->getParent()->lookup(M->getDeclName())) {
    if (const auto *FT = dyn_cast<FunctionTemplateDecl>(D))
      D = FT->getTemplatedDecl();
    if (const auto *Other = dyn_cast<CXXMethodDecl>(D))
      if (Other != M && Other->isConst())
        return true;
  }
  return false;
}

static bool changesObject(const CXXMethodDecl *M) {
  return M && !M->isStatic() && !M->isConst() &&
         !isa<CXXConstructorDecl, CXXDestructorDecl>(M);
}

bool isAccessorMethod(const CXXMethodDecl *M) {
  return changesObject(M) && hasConstTwin(M);
}

bool isMutatingMethod(const CXXMethodDecl *M) {
  return changesObject(M) && !hasConstTwin(M);
}

bool isCastLikeCall(const CallExpr *Call) {
  const FunctionDecl *FD = Call ? Call->getDirectCallee() : nullptr;
  if (!FD || Call->getNumArgs() != 1 || !FD->getIdentifier() ||
      !FD->isInStdNamespace())
    return false;
  StringRef N = FD->getName();
  return N == "move" || N == "forward" || N == "as_const";
}

bool namesIterator(const Expr *E) {
  const auto *DRE = dyn_cast_or_null<DeclRefExpr>(stripTemporaries(E));
  const auto *VD = DRE ? dyn_cast<VarDecl>(DRE->getDecl()) : nullptr;
  if (!VD || VD->getType()->isReferenceType())
    return false;
  if (VD->getType()->isPointerType())
    return true;
  const auto *MC =
      VD->getInit()
          ? dyn_cast<CXXMemberCallExpr>(stripTemporaries(VD->getInit()))
          : nullptr;
  return MC && isAccessorMethod(MC->getMethodDecl());
}

bool isFreeAccessor(const CallExpr *Call) {
  const FunctionDecl *FD = Call->getDirectCallee();
  if (!FD || isa<CXXMethodDecl>(FD) || Call->getNumArgs() == 0 ||
      FD->getNumParams() == 0 || !Call->isGLValue())
    return false;
  return FD->getParamDecl(0)->getType()->isReferenceType() &&
         FD->isInStdNamespace();
}

/// Whether what \p Call returns can refer into its object: a reference, a
/// pointer or an iterator; a value returned by copy (a proxy's `operator[]`)
/// cannot.
static bool refersIntoObject(const CallExpr *Call) {
  if (Call->isGLValue() || Call->getType()->isPointerType())
    return true;
  const CXXRecordDecl *RD = Call->getType()->getAsCXXRecordDecl();
  const auto *MD = dyn_cast_or_null<CXXMethodDecl>(Call->getDirectCallee());
  // An iterator or view: a class returned by a non-const accessor.
  return RD && MD && isAccessorMethod(MD);
}

const Expr *LocalObjects::rootExpr(const Expr *E) {
  for (unsigned Depth = 0; E && Depth < 32; ++Depth) {
    E = stripTemporaries(E);
    if (const auto *ME = dyn_cast<MemberExpr>(E)) {
      E = ME->getBase();
    } else if (const auto *AS = dyn_cast<ArraySubscriptExpr>(E)) {
      E = AS->getBase();
    } else if (const auto *UO = dyn_cast<UnaryOperator>(E);
               UO &&
               (UO->getOpcode() == UO_Deref || UO->getOpcode() == UO_AddrOf)) {
      E = UO->getSubExpr();
    } else if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(E);
               OC && OC->getNumArgs() >= 1 && refersIntoObject(OC) &&
               (OC->getOperator() == OO_Subscript ||
                OC->getOperator() == OO_Arrow ||
                (OC->getOperator() == OO_Star && OC->getNumArgs() == 1))) {
      E = OC->getArg(0);
    } else if (const auto *MC = dyn_cast<CXXMemberCallExpr>(E);
               MC && isAccessorMethod(MC->getMethodDecl()) &&
               refersIntoObject(MC)) {
      E = MC->getImplicitObjectArgument();
    } else if (const auto *Call = dyn_cast<CallExpr>(E);
               Call && (isCastLikeCall(Call) || isFreeAccessor(Call))) {
      E = Call->getArg(0);
    } else {
      return E;
    }
  }
  return E;
}

static const ValueDecl *declOf(const Expr *Root) {
  const auto *DRE = dyn_cast_or_null<DeclRefExpr>(Root);
  if (!DRE)
    return nullptr;
  const ValueDecl *D = DRE->getDecl();
  if (const auto *B = dyn_cast<BindingDecl>(D))
    if (const ValueDecl *Whole = B->getDecomposedDecl())
      return Whole;
  return D;
}

/// Whether a reference initialized with \p Init is bound to a temporary (and
/// so owns it) rather than to an existing object.
static bool bindsTemporary(const Expr *Init) {
  if (const auto *C = dyn_cast<ExprWithCleanups>(Init))
    Init = C->getSubExpr();
  return isa<MaterializeTemporaryExpr>(Init->IgnoreParens());
}

namespace {
void collectAliases(
    const Stmt *S,
    llvm::DenseMap<const ValueDecl *, const ValueDecl *> &Alias) {
  if (!S)
    return;
  if (const auto *DS = dyn_cast<DeclStmt>(S)) {
    for (const Decl *D : DS->decls()) {
      const auto *VD = dyn_cast<VarDecl>(D);
      if (!VD || !VD->getInit() || !VD->hasLocalStorage())
        continue;
      const Expr *Init = VD->getInit();
      QualType T = VD->getType();
      const ValueDecl *Target = nullptr;
      if (T->isReferenceType()) {
        if (!bindsTemporary(Init))
          Target = declOf(LocalObjects::rootExpr(Init));
      } else if (T->isPointerType()) {
        Target = declOf(LocalObjects::rootExpr(Init));
      } else if (const auto *MC =
                     dyn_cast<CXXMemberCallExpr>(stripTemporaries(Init));
                 MC && isAccessorMethod(MC->getMethodDecl())) {
        // An iterator into the object.
        Target =
            declOf(LocalObjects::rootExpr(MC->getImplicitObjectArgument()));
      }
      if (Target && Target != VD)
        Alias[VD] = Target;
    }
  }
  for (const Stmt *Child : S->children())
    collectAliases(Child, Alias);
}
} // namespace

LocalObjects::LocalObjects(const FunctionDecl *FD) {
  collectAliases(FD->getBody(), Alias);
}

const ValueDecl *LocalObjects::resolve(const ValueDecl *D) const {
  for (unsigned Depth = 0; D && Depth < 16; ++Depth) {
    auto It = Alias.find(D);
    if (It == Alias.end())
      return D;
    D = It->second;
  }
  return D;
}

const ValueDecl *LocalObjects::ownerOf(const Expr *E) const {
  return resolve(declOf(rootExpr(E)));
}

bool LocalObjects::ownsObject(const ValueDecl *D) {
  const auto *VD = dyn_cast_or_null<VarDecl>(D);
  if (!VD || !VD->hasLocalStorage())
    return false;
  if (!VD->getType()->isReferenceType())
    return true;
  return VD->getInit() && bindsTemporary(VD->getInit());
}

std::unique_ptr<CFG> buildLifetimeCFG(const FunctionDecl *FD, ASTContext &Ctx) {
  if (!FD->hasBody())
    return nullptr;
  CFG::BuildOptions Options;
  Options.AddImplicitDtors = true;
  Options.AddLifetime = true;
  Options.AddInitializers = true;
  Options.AddCXXDefaultInitExprInCtors = true;
  Options.setAllAlwaysAdd();
  return CFG::buildCFG(FD, FD->getBody(), &Ctx, Options);
}

SourceLocation exitLocation(const CFGBlock *B) {
  if (const Stmt *T = B->getTerminatorStmt())
    return T->getBeginLoc();
  const Stmt *Last = nullptr;
  for (const CFGElement &E : *B)
    if (auto S = E.getAs<CFGStmt>()) {
      const Stmt *St = S->getStmt();
      if (isa<ReturnStmt, CXXThrowExpr>(St))
        return St->getBeginLoc();
      Last = St;
    }
  return Last ? Last->getBeginLoc() : SourceLocation();
}

SourceLocation scopeExitLocation(const CFGElement &E) {
  const Stmt *Trigger = nullptr;
  if (auto D = E.getAs<CFGAutomaticObjDtor>())
    Trigger = D->getTriggerStmt();
  else if (auto L = E.getAs<CFGLifetimeEnds>())
    Trigger = L->getTriggerStmt();
  if (!Trigger)
    return SourceLocation();
  if (const auto *CS = dyn_cast<CompoundStmt>(Trigger))
    return CS->getRBracLoc();
  return Trigger->getBeginLoc();
}

const VarDecl *endedVariable(const CFGElement &E) {
  if (auto D = E.getAs<CFGAutomaticObjDtor>())
    return D->getVarDecl();
  if (auto L = E.getAs<CFGLifetimeEnds>())
    return L->getVarDecl();
  return nullptr;
}

std::vector<const CFGBlock *> reversePostOrder(const CFG &G) {
  std::vector<const CFGBlock *> PostOrder;
  std::vector<std::pair<const CFGBlock *, unsigned>> Stack{{&G.getEntry(), 0}};
  std::vector<bool> Seen(G.getNumBlockIDs(), false);
  Seen[G.getEntry().getBlockID()] = true;
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
  return std::vector<const CFGBlock *>(PostOrder.rbegin(), PostOrder.rend());
}

} // namespace ipcheck
