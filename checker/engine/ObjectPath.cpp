//===- ObjectPath.cpp - Canonical forms of lock and object expressions ----===//

#include "engine/ObjectPath.h"
#include "engine/ApiTable.h"

#include "clang/AST/Decl.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/Expr.h"
#include "clang/AST/ExprCXX.h"
#include "llvm/Support/raw_ostream.h"

using namespace clang;

namespace ipcheck {

std::string ObjectPath::key() const {
  std::string S;
  llvm::raw_string_ostream OS(S);
  OS << unsigned(Kind) << ':' << static_cast<const void *>(Root);
  for (const std::string &C : Components)
    OS << '/' << C;
  return OS.str();
}

const clang::Decl *ObjectPath::declaration() const {
  if (Components.empty())
    return Kind == This ? nullptr : Root;
  if (Members.size() == Components.size())
    return Members.back();
  return nullptr;
}

std::string ObjectPath::display() const {
  std::string S;
  if (Kind == This) {
    if (Components.empty())
      return "*this";
  } else if (const auto *ND = dyn_cast_or_null<NamedDecl>(Root)) {
    S = ND->getNameAsString();
    if (Kind == CallResult)
      S += "()";
  }
  for (size_t I = 0; I < Components.size(); ++I) {
    const std::string &C = Components[I];
    if (C.front() != '[' && !S.empty())
      S += I < Arrow.size() && Arrow[I] ? "->" : ".";
    S += I < ShownAs.size() && !ShownAs[I].empty() ? ShownAs[I] : C;
  }
  return S;
}

PathTable::PathTable() { Paths.emplace_back(); }

/// A constant index names one element; any other index names "some element",
/// shown with the variable that chose it.
static void appendIndex(ObjectPath &P, const Expr *Index) {
  Index = Index->IgnoreParenImpCasts();
  if (const auto *IL = dyn_cast<IntegerLiteral>(Index)) {
    P.Components.push_back("[" + std::to_string(IL->getValue().getZExtValue()) +
                           "]");
    return;
  }
  P.ShownAs.resize(P.Components.size());
  if (const auto *DRE = dyn_cast<DeclRefExpr>(Index))
    P.ShownAs.push_back("[" + DRE->getDecl()->getNameAsString() + "]");
  else
    P.ShownAs.push_back("[...]");
  P.Components.push_back("[]");
}

PathId PathTable::intern(const ObjectPath &Path) {
  if (Path.Kind == ObjectPath::Unknown)
    return UnknownPath;
  auto [It, Inserted] = Ids.try_emplace(Path.key(), Paths.size());
  if (Inserted)
    Paths.push_back(Path);
  return It->second;
}

PathId PathTable::pathOf(const Expr *E, const ApiTable &Api) {
  return E ? intern(objectPathOf(E, Api)) : UnknownPath;
}

static const Expr *strip(const Expr *E) {
  while (true) {
    E = E->IgnoreParenImpCasts();
    if (const auto *C = dyn_cast<CXXConstructExpr>(E)) {
      // A copy of a handle names the same shared object.
      if (C->getNumArgs() == 1 &&
          C->getConstructor()->isCopyOrMoveConstructor()) {
        E = C->getArg(0);
        continue;
      }
    } else if (const auto *B = dyn_cast<CXXBindTemporaryExpr>(E)) {
      E = B->getSubExpr();
      continue;
    } else if (const auto *F = dyn_cast<CXXFunctionalCastExpr>(E)) {
      E = F->getSubExpr();
      continue;
    } else if (const auto *U = dyn_cast<UnaryOperator>(E)) {
      if (U->getOpcode() == UO_AddrOf || U->getOpcode() == UO_Deref) {
        E = U->getSubExpr();
        continue;
      }
    }
    return E;
  }
}

ObjectPath PathTable::objectPathOf(const Expr *E, const ApiTable &Api,
                                   unsigned Depth) {
  ObjectPath P;
  if (!E || Depth > 8)
    return P;
  E = strip(E);
  if (const auto *TE = dyn_cast<CXXThisExpr>(E)) {
    P.Kind = ObjectPath::This;
    // `this->mu_` of two classes are two locks (and two kinds of lock).
    if (const CXXRecordDecl *RD = TE->getType()->getPointeeCXXRecordDecl())
      P.Root = RD->getCanonicalDecl();
    return P;
  }
  if (const auto *DRE = dyn_cast<DeclRefExpr>(E)) {
    const ValueDecl *D = DRE->getDecl();
    if (const auto *PVD = dyn_cast<ParmVarDecl>(D)) {
      P.Kind = ObjectPath::Param;
      P.Root = PVD;
      P.ParamIndex = PVD->getFunctionScopeIndex();
      return P;
    }
    if (const auto *VD = dyn_cast<VarDecl>(D)) {
      if (VD->hasGlobalStorage()) {
        P.Kind = ObjectPath::Global;
        P.Root = VD->getCanonicalDecl();
        return P;
      }
      // A local reference, pointer or handle copy is what it was bound to.
      QualType T = VD->getType();
      if (const Expr *Init = VD->getInit()) {
        if (T->isReferenceType() || T->isPointerType() ||
            (T->isRecordType() && T.isConstQualified()) || T->isRecordType()) {
          ObjectPath Bound = objectPathOf(Init, Api, Depth + 1);
          // Compiler-made variables (a range-for's iterator) have no name to
          // show.
          bool Hidden =
              Bound.Kind == ObjectPath::Local &&
              (Bound.Root->isImplicit() ||
               llvm::StringRef(cast<NamedDecl>(Bound.Root)->getNameAsString())
                   .starts_with("__"));
          if (Bound.Kind != ObjectPath::Unknown && !Hidden)
            return Bound;
        }
      }
      P.Kind = ObjectPath::Local;
      P.Root = VD;
      return P;
    }
    if (isa<BindingDecl>(D)) {
      P.Kind = ObjectPath::Local;
      P.Root = D;
      return P;
    }
    return P;
  }
  if (const auto *ME = dyn_cast<MemberExpr>(E)) {
    if (!isa<FieldDecl>(ME->getMemberDecl()) &&
        !isa<VarDecl>(ME->getMemberDecl()))
      return P;
    if (const auto *VD =
            dyn_cast<VarDecl>(ME->getMemberDecl())) { // A static member.
      P.Kind = ObjectPath::Global;
      P.Root = VD->getCanonicalDecl();
      return P;
    }
    P = objectPathOf(ME->getBase(), Api, Depth + 1);
    if (P.Kind == ObjectPath::Unknown)
      return P;
    P.Arrow.resize(P.Components.size(), false);
    P.Arrow.push_back(ME->isArrow());
    P.Members.resize(P.Components.size());
    P.Members.push_back(ME->getMemberDecl());
    P.Components.push_back(ME->getMemberDecl()->getNameAsString());
    return P;
  }
  if (const auto *ASE = dyn_cast<ArraySubscriptExpr>(E)) {
    P = objectPathOf(ASE->getBase(), Api, Depth + 1);
    if (P.Kind == ObjectPath::Unknown)
      return P;
    appendIndex(P, ASE->getIdx());
    return P;
  }
  if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(E)) {
    OverloadedOperatorKind K = OC->getOperator();
    if ((K == OO_Arrow || K == OO_Star) && OC->getNumArgs() == 1)
      return objectPathOf(OC->getArg(0), Api, Depth + 1);
    if (K == OO_Subscript && OC->getNumArgs() == 2) {
      P = objectPathOf(OC->getArg(0), Api, Depth + 1);
      if (P.Kind == ObjectPath::Unknown)
        return P;
      appendIndex(P, OC->getArg(1));
      return P;
    }
    return P;
  }
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(E)) {
    const CXXMethodDecl *MD = MC->getMethodDecl();
    if (!MD)
      return P;
    const ApiFunction *F = Api.lookup(MC);
    bool IsLockOf = F && (F->Roles & RoleLockOf);
    // An accessor returning a reference or pointer (`obj.mutex()`,
    // `v.get_lock()`) names a part of its object.
    if (IsLockOf ||
        (MC->getNumArgs() == 0 && (MD->getReturnType()->isReferenceType() ||
                                   MD->getReturnType()->isPointerType()))) {
      P = objectPathOf(MC->getImplicitObjectArgument(), Api, Depth + 1);
      if (P.Kind == ObjectPath::Unknown)
        return P;
      P.Members.resize(P.Components.size());
      P.Members.push_back(IsLockOf ? nullptr : MD);
      P.Components.push_back(MD->getNameAsString() + "()");
      return P;
    }
    return P;
  }
  if (const auto *CE = dyn_cast<CallExpr>(E)) {
    // A free function returning a reference (`the_queue()`) names one object.
    const FunctionDecl *FD = CE->getDirectCallee();
    if (FD && CE->getNumArgs() == 0 &&
        (FD->getReturnType()->isReferenceType() ||
         FD->getReturnType()->isPointerType())) {
      P.Kind = ObjectPath::CallResult;
      P.Root = FD->getCanonicalDecl();
    }
    return P;
  }
  return P;
}

PathId PathTable::substitute(PathId CalleePath, const CallExpr *Call,
                             const ApiTable &Api) {
  if (CalleePath == UnknownPath)
    return UnknownPath;
  ObjectPath P = Paths[CalleePath];
  ObjectPath Base;
  switch (P.Kind) {
  case ObjectPath::Global:
  case ObjectPath::CallResult:
    return CalleePath;
  case ObjectPath::Unknown:
  case ObjectPath::Local:
    return UnknownPath;
  case ObjectPath::Param: {
    unsigned Index = P.ParamIndex;
    // A method called as an operator passes its object as the first argument.
    if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call))
      if (isa_and_nonnull<CXXMethodDecl>(OC->getDirectCallee()))
        ++Index;
    if (Index >= Call->getNumArgs())
      return UnknownPath;
    Base = objectPathOf(Call->getArg(Index), Api);
    break;
  }
  case ObjectPath::This: {
    const Expr *Object = nullptr;
    if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call))
      Object = MC->getImplicitObjectArgument();
    else if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call);
             OC && OC->getNumArgs())
      Object = OC->getArg(0);
    if (!Object)
      return UnknownPath;
    Base = objectPathOf(Object, Api);
    // `this->m` in the callee is `obj.m` or `ptr->m` in the caller.
    if (!P.Arrow.empty())
      P.Arrow[0] = Object->IgnoreParenImpCasts()->getType()->isPointerType();
    break;
  }
  }
  if (Base.Kind == ObjectPath::Unknown)
    return UnknownPath;
  Base.Arrow.resize(Base.Components.size(), false);
  P.Arrow.resize(P.Components.size(), false);
  Base.Arrow.insert(Base.Arrow.end(), P.Arrow.begin(), P.Arrow.end());
  Base.ShownAs.resize(Base.Components.size());
  P.ShownAs.resize(P.Components.size());
  Base.ShownAs.insert(Base.ShownAs.end(), P.ShownAs.begin(), P.ShownAs.end());
  Base.Members.resize(Base.Components.size());
  P.Members.resize(P.Components.size());
  Base.Members.insert(Base.Members.end(), P.Members.begin(), P.Members.end());
  Base.Components.insert(Base.Components.end(), P.Components.begin(),
                         P.Components.end());
  return intern(Base);
}

} // namespace ipcheck
