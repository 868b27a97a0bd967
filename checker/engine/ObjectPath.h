//===- ObjectPath.h - The identity of a lock or a shared object -----------===//
//
// Two expressions name the same lock or shared object when their canonical
// forms agree: the same global or static variable, the same parameter, the same
// member of the same base (`this->m`, `obj.m`), the lock of the same Value
// (`v.get_lock()`), a reference or handle copy resolved to what it was bound
// to.
//
//===----------------------------------------------------------------------===//

#ifndef IPCHECK_ENGINE_OBJECTPATH_H
#define IPCHECK_ENGINE_OBJECTPATH_H

#include "llvm/ADT/StringMap.h"
#include <string>
#include <vector>

namespace clang {
class Decl;
class ValueDecl;
class Expr;
class CallExpr;
class FunctionDecl;
} // namespace clang

namespace ipcheck {

class ApiTable;

/// An interned object identity; 0 means "unknown", which never equals anything.
using PathId = unsigned;
constexpr PathId UnknownPath = 0;

struct ObjectPath {
  enum RootKind { Unknown, Global, Local, Param, This, CallResult };
  RootKind Kind = Unknown;
  /// The variable, parameter or called function; for `this`, its class.
  const clang::Decl *Root = nullptr;
  unsigned ParamIndex = 0;
  std::vector<std::string> Components; ///< `m`, `[0]`, `get_lock()`.
  std::vector<bool> Arrow; ///< Shown as `p->m`; not part of the identity.
  std::vector<std::string> ShownAs; ///< `[i]` for a component keyed `[]`.
  /// The declaration each component names: a field, or an accessor method
  /// (`obj.mutex()`); null or missing for an element or a table's `lock_of`.
  /// Not part of the identity: it says which class a lock belongs to.
  std::vector<const clang::ValueDecl *> Members;

  std::string key() const;
  /// The declaration the object is: the variable or parameter, or the field
  /// or accessor of the last component; null for an element, a table's
  /// `lock_of`, or `*this`.
  const clang::Decl *declaration() const;
  /// How the object is named in a diagnostic: `q`, `obj.mu`, `count`,
  /// `v.get_lock()`.
  std::string display() const;
};

/// All identities met in one translation unit.
class PathTable {
public:
  PathTable();
  PathId intern(const ObjectPath &Path);
  const ObjectPath &get(PathId Id) const { return Paths[Id]; }
  std::string display(PathId Id) const {
    return Id ? Paths[Id].display() : "<unknown>";
  }

  /// The identity of what \p E denotes, or UnknownPath.
  PathId pathOf(const clang::Expr *E, const ApiTable &Api);
  ObjectPath objectPathOf(const clang::Expr *E, const ApiTable &Api,
                          unsigned Depth = 0);

  /// Restates \p CalleePath (relative to the callee's parameters and `this`) in
  /// the caller's terms at \p Call; UnknownPath when it cannot be.
  PathId substitute(PathId CalleePath, const clang::CallExpr *Call,
                    const ApiTable &Api);

private:
  std::vector<ObjectPath> Paths;
  llvm::StringMap<PathId> Ids;
};

} // namespace ipcheck

#endif
