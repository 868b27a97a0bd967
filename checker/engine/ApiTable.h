//===- ApiTable.h - What each library's functions do to shared state
//-------===//
//
// The checker knows no library by heart: everything it knows about `mp`, POSIX,
// the standard library or Boost.Interprocess comes from the YAML tables in
// models/api/. Supporting a new library means adding a table.
//
//===----------------------------------------------------------------------===//

#ifndef IPCHECK_ENGINE_APITABLE_H
#define IPCHECK_ENGINE_APITABLE_H

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Error.h"
#include <string>
#include <vector>

namespace clang {
class QualType;
class CallExpr;
class CXXRecordDecl;
class FunctionDecl;
class CXXConstructExpr;
class Decl;
} // namespace clang

namespace ipcheck {

/// What a call does to the shared object it names. A function can have several.
enum ApiRole : unsigned {
  RoleAcquire = 1u << 0,
  RoleTryAcquire = 1u << 1,
  RoleRelease = 1u << 2,
  RoleBlock = 1u << 3,
  RoleRead = 1u << 4,
  RoleWrite = 1u << 5,
  RoleAtomicRMW = 1u << 6,
  RoleCompareExchange = 1u << 7,
  RoleReference = 1u << 8,
  RoleLockOf = 1u << 9,
  RoleWait = 1u << 10,
  RoleFetch = 1u << 11,
  RoleWriteBack = 1u << 12,
  /// Waits at most a timeout the call is given (`sem_timedwait`,
  /// `condition_variable::wait_for`): not blocking indefinitely, but still a
  /// wait (ipc-blocking-under-lock's StrictTimeouts).
  RoleTimedBlock = 1u << 13,
  /// Initializes the object (a lock) with the attributes in argument `attr`.
  RoleInit = 1u << 14,
  /// Says whether the object's next blocking call returns at once
  /// (`Connection::poll`).
  RoleReady = 1u << 15,
  // Lifecycles of processes, threads and pools (bits apart from the lock
  // roles).
  RoleStart = 1u << 20, ///< Starts a process or thread that must be joined.
  RoleStartWorkers = 1u << 21, ///< Starts processes the object owns (a pool).
  RoleMainGuard = 1u << 22,    ///< `mp::init`: must run before any start.
  RoleJoin = 1u << 23,         ///< Waits for the end of what was started.
  RoleDetach = 1u << 24,       ///< Gives up the duty to join, on purpose.
  RoleAsync = 1u << 25,     ///< Hands out a result that may still be pending.
  RoleCollect = 1u << 26,   ///< Waits for a pending result.
  RoleClose = 1u << 27,     ///< Accepts no more work (a pool's close).
  RoleTerminate = 1u << 28, ///< Ends started work without waiting for it.
};

/// The roles that change shared state or lock ownership: what a stale check can
/// wrongly decide.
constexpr unsigned ActionRoles =
    RoleWrite | RoleAtomicRMW | RoleAcquire | RoleRelease | RoleWriteBack;

/// Which argument names the shared object of a call.
enum : int {
  ObjectImplicit =
      -1, ///< The object of a method, or the first argument of a free function.
  ObjectAllArgs = -2, ///< Every argument (std::lock(a, b)).
};

/// One function or method of a table.
struct ApiFunction {
  std::string
      Name; ///< Qualified, without template arguments: `mp::Value::get`.
  std::string Library;
  unsigned Roles = 0;
  int Object = ObjectImplicit;
  int ResultArg = -1; ///< A read that returns its value through this argument.
  int LockArg = -1;   ///< For a wait: the argument holding the lock let go (-1:
                      ///< the object).
  /// A blocking call's timeout in seconds (or another unit: only its sign and
  /// zero matter): negative waits without a limit, zero returns at once.
  int TimeoutArg = -1;
  /// A blocking call's `block` flag: false returns at once.
  int BlockFlagArg = -1;
  int AttrArg = -1; ///< For an init: the argument with the attributes.
  /// A shared (reader) acquisition: the holder may take the lock so again.
  bool Shared = false;
};

/// An RAII guard class: its constructor acquires the locks passed to it, its
/// destructor releases them, and the named members release and re-acquire.
struct ApiGuard {
  std::string Class;
  std::vector<std::string> LockMembers;
  std::vector<std::string> UnlockMembers;
  bool Shared = false; ///< Takes its locks shared (`std::shared_lock`).
};

struct ApiLockKind {
  std::string Class;
  /// Its holder may take it again (`std::recursive_mutex`).
  bool Reentrant = false;
  /// A counting semaphore: nobody owns a unit, so taking one waits for a post
  /// from anyone (an event, not a lock's release) and taking it twice is no
  /// self-deadlock.
  bool Counting = false;
  /// Names (macros, enumerators) that make an object of this kind reentrant
  /// when they appear in its initializer or in a call on the attributes it is
  /// initialized with (`PTHREAD_MUTEX_RECURSIVE`).
  std::vector<std::string> ReentrantWhen;
};

/// All tables loaded for a run, with the lookups the analyses need.
class ApiTable {
public:
  /// Loads one table, adding to what is loaded.
  llvm::Error loadFile(llvm::StringRef Path);
  /// Loads one table from text (tests, embedded tables).
  llvm::Error loadText(llvm::StringRef Text, llvm::StringRef Name);
  /// Loads every `*.yaml` of a directory.
  llvm::Error loadDirectory(llvm::StringRef Dir);

  /// The entry for a call, or null if the callee is not in a table. Methods are
  /// found through the class of the object (so that `std::atomic<int>::load`,
  /// declared in a base class, is found as `std::atomic::load`) and through the
  /// class that declares them.
  const ApiFunction *lookup(const clang::CallExpr *Call) const;
  const ApiFunction *lookupName(llvm::StringRef QualifiedName) const;
  /// The entry of the constructor a construction calls (`std::thread::thread`),
  /// or null; copies and moves are never in a table.
  const ApiFunction *lookup(const clang::CXXConstructExpr *Construct) const;

  /// Whether some table describes methods of \p Class (or of a base).
  bool knowsClass(const clang::CXXRecordDecl *Class) const;

  /// The guard description for a class, or null.
  const ApiGuard *lookupGuard(const clang::CXXRecordDecl *Class) const;
  /// The lock kind of a class (through a typedef or reference), or null.
  const ApiLockKind *lookupLockKind(const clang::CXXRecordDecl *Class) const;
  const ApiLockKind *lookupLockKindName(llvm::StringRef Name) const;
  /// Every lock kind of the tables.
  std::vector<const ApiLockKind *> lockKinds() const {
    std::vector<const ApiLockKind *> Kinds;
    for (const auto &Entry : LockKinds)
      Kinds.push_back(&Entry.second);
    return Kinds;
  }
  /// The lock kind of an object of type \p T (through references, a pointer,
  /// typedefs and base classes), or null.
  const ApiLockKind *lockKindOf(clang::QualType T) const;

  /// Whether some function of \p Library has one of \p Roles (does this
  /// library have a main guard?).
  bool libraryHasRole(llvm::StringRef Library, unsigned Roles) const {
    auto It = LibraryRoles.find(Library);
    return It != LibraryRoles.end() && (It->second & Roles);
  }

  bool empty() const { return Functions.empty() && Guards.empty(); }
  size_t size() const { return Functions.size(); }
  std::vector<std::string> libraries() const { return Libraries; }

  /// `ns::Class` of a record, without template arguments and inline namespaces.
  static std::string qualifiedName(const clang::Decl *D);

private:
  const ApiFunction *lookupMethod(const clang::CXXRecordDecl *Class,
                                  llvm::StringRef Method, unsigned Depth) const;

  llvm::StringMap<ApiFunction> Functions;
  llvm::StringMap<ApiGuard> Guards;
  llvm::StringMap<ApiLockKind> LockKinds;
  std::vector<std::string> Libraries;
  llvm::StringMap<unsigned> LibraryRoles;
  llvm::StringSet<> Classes; ///< Qualified names with a method in a table.
  mutable llvm::DenseMap<const clang::FunctionDecl *, const ApiFunction *>
      DeclCache;
};

/// The directory of the tables shipped with ipcheck, found relative to the
/// binary that contains \p AddressInBinary: `<prefix>/share/ipcheck/api` when
/// installed, the source tree's models/api in a build tree.
std::string defaultApiDirectory(void *AddressInBinary);

} // namespace ipcheck

#endif
