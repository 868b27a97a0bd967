//===- LocalObjects.h - Which local object an expression is part of -------===//
//
// The lifecycle checks follow objects that a function owns — a copy fetched
// from a proxy, a started process, a pool — through the expressions that reach
// them: members, elements, accessors (`v[0]`, `v.front()`, `v.begin()`),
// dereferences, and the local references and iterators bound to them (a range-
// for's loop variable is a reference into its range). They also need each
// function's CFG with the end of every local's lifetime marked, and where a
// path leaves a scope.
//
//===----------------------------------------------------------------------===//

#ifndef IPCHECK_ENGINE_LOCALOBJECTS_H
#define IPCHECK_ENGINE_LOCALOBJECTS_H

#include "clang/Analysis/CFG.h"
#include "clang/Basic/SourceLocation.h"
#include "llvm/ADT/DenseMap.h"
#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace clang {
class ASTContext;
class CallExpr;
class CXXMethodDecl;
class Expr;
class FunctionDecl;
class Stmt;
class ValueDecl;
class VarDecl;
} // namespace clang

namespace ipcheck {

/// Strips parentheses, implicit casts, temporaries' bindings and cleanups.
const clang::Expr *stripTemporaries(const clang::Expr *E);

/// Whether \p M changes its object: a non-const method with no const overload
/// of the same name (`push_back`, `insert`, `std::map::operator[]`, `=`). A
/// non-const method that has one (`vector::operator[]`, `begin`, `front`,
/// `find`) is an accessor: what is done with its result decides.
bool isMutatingMethod(const clang::CXXMethodDecl *M);
bool isAccessorMethod(const clang::CXXMethodDecl *M);

/// `std::move`, `std::forward`, `std::as_const`: the argument itself.
bool isCastLikeCall(const clang::CallExpr *Call);
/// A standard function that returns a reference into its first argument:
/// `std::get<1>(pair)`.
bool isFreeAccessor(const clang::CallExpr *Call);

/// Whether \p E names a local pointer or iterator itself (`++it`, `p = q`),
/// not what it points to.
bool namesIterator(const clang::Expr *E);

/// The local objects of one function body.
class LocalObjects {
public:
  explicit LocalObjects(const clang::FunctionDecl *FD);

  /// The innermost expression that an lvalue \p E is part of: `v` for
  /// `v.items[0].name`, `d.get(k)` for `d.get(k).front()`.
  static const clang::Expr *rootExpr(const clang::Expr *E);

  /// The variable (or parameter) \p E is part of, through local references
  /// and iterators bound into it; null when it is part of none (a
  /// temporary, a call's result).
  const clang::ValueDecl *ownerOf(const clang::Expr *E) const;

  /// Resolves a local reference or iterator to what it was bound into.
  const clang::ValueDecl *resolve(const clang::ValueDecl *D) const;

  /// Whether \p D is a local that owns its object: not static, not a
  /// reference except one bound to a temporary (`auto &&r = f();`).
  static bool ownsObject(const clang::ValueDecl *D);

private:
  llvm::DenseMap<const clang::ValueDecl *, const clang::ValueDecl *> Alias;
};

/// clang's CFG for \p FD with implicit destructors and lifetime ends, or null.
std::unique_ptr<clang::CFG> buildLifetimeCFG(const clang::FunctionDecl *FD,
                                             clang::ASTContext &Ctx);

/// Where a path that ends \p B leaves its scope: the `return`, `throw`,
/// `break`, `continue` or closing brace; invalid if unknown.
clang::SourceLocation exitLocation(const clang::CFGBlock *B);

/// Where the automatic destructor or lifetime end \p E happens.
clang::SourceLocation scopeExitLocation(const clang::CFGElement &E);

/// The variable whose lifetime \p E ends (a destructor or lifetime end), or
/// null.
const clang::VarDecl *endedVariable(const clang::CFGElement &E);

/// Blocks in reverse post-order: a forward dataflow that visits them in this
/// order settles loops before the code after them.
std::vector<const clang::CFGBlock *> reversePostOrder(const clang::CFG &G);

/// Runs a forward dataflow over \p G to its fixed point (or a budget
/// proportional to its size) and returns each block's exit state, by block ID.
/// \p Step computes a block's exit state given the exit states so far (it
/// joins its predecessors' itself); blocks not reached from the entry keep a
/// default State.
template <class State, class StepFn>
std::vector<State> forwardFixedPoint(const clang::CFG &G, StepFn &&Step) {
  std::vector<const clang::CFGBlock *> Order = reversePostOrder(G);
  std::vector<unsigned> Rank(G.getNumBlockIDs(), ~0u);
  for (unsigned I = 0; I < Order.size(); ++I)
    Rank[Order[I]->getBlockID()] = I;
  std::vector<State> Out(G.getNumBlockIDs());
  std::vector<bool> Done(G.getNumBlockIDs(), false);
  std::set<std::pair<unsigned, const clang::CFGBlock *>> Work;
  for (const clang::CFGBlock *B : Order)
    Work.insert({Rank[B->getBlockID()], B});
  unsigned Budget = 32 * G.getNumBlockIDs() + 64;
  while (!Work.empty() && Budget--) {
    const clang::CFGBlock *B = Work.begin()->second;
    Work.erase(Work.begin());
    State St = Step(B, Out);
    if (Done[B->getBlockID()] && St == Out[B->getBlockID()])
      continue;
    Done[B->getBlockID()] = true;
    Out[B->getBlockID()] = std::move(St);
    for (auto S = B->succ_begin(); S != B->succ_end(); ++S)
      if (const clang::CFGBlock *Succ = S->getReachableBlock())
        if (Rank[Succ->getBlockID()] != ~0u)
          Work.insert({Rank[Succ->getBlockID()], Succ});
  }
  return Out;
}

} // namespace ipcheck

#endif
