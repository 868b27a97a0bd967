//===- FunctionAnalysis.h - Locksets and shared reads over clang's CFG ----===//
//
// One forward dataflow over a function's CFG computes, at every point:
//   - the locks that must be held (merge: intersection), RAII guards included;
//   - the reads of shared state whose values may still be in use, each with the
//     locks held continuously since it was made;
//   - which local variables carry values derived from which reads.
// From that, every action on shared state (a write, a take, an acquire, an
// atomic read-modify-write) is recorded as an ActionFact with the reads of the
// same object that decide whether it runs (through control dependence) or what
// it writes (through data flow) and that no lock has protected since. Checks
// turn facts into findings; the same run yields the function's summary, which
// callers use in place of the call.
//
//===----------------------------------------------------------------------===//

#ifndef IPCHECK_ENGINE_FUNCTIONANALYSIS_H
#define IPCHECK_ENGINE_FUNCTIONANALYSIS_H

#include "engine/ApiTable.h"
#include "engine/ObjectPath.h"
#include "clang/Basic/SourceLocation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace clang {
class ASTContext;
class FunctionDecl;
class Stmt;
class SourceManager;
class VarDecl;
class FieldDecl;
class RecordDecl;
} // namespace clang

namespace ipcheck {

/// A read site: the statement that reads, and which of its reads (0: the call
/// itself; j + 1: the j-th read of the called function's summary).
using ReadKey = std::pair<const clang::Stmt *, unsigned>;

struct ReadSite {
  PathId Object = UnknownPath;
  clang::SourceLocation Loc;
  std::string Api; ///< `empty`, or the helper that reads.
};

/// An action on shared state, with the unprotected reads of the same object it
/// depends on.
struct ActionFact {
  enum FactKind {
    Call, ///< A call with a table role, or a helper whose summary acts.
    CompoundUpdate, ///< `+=`, `++`... through a reference to shared state.
  };
  FactKind Kind = Call;
  const clang::Stmt *Site = nullptr;
  clang::SourceLocation Loc;
  PathId Object = UnknownPath;
  std::string Api;
  unsigned Roles = 0;
  bool ViaHelper = false;
  std::vector<ReadKey> ControlReads; ///< Decide whether the action runs.
  std::vector<ReadKey> DataReads;    ///< Flow into what the action does.
  std::vector<PathId> HeldLocks;     ///< Locks that must be held here.
  /// A deciding read of the object was made again under a lock that is still
  /// held (double-checked locking): the earlier, unprotected check is
  /// superseded.
  bool Revalidated = false;
  /// The action's own result is tested or kept: an atomic read-modify-write
  /// that reports what it found validates itself.
  bool ResultChecked = false;
};

/// What a call to a function does, in terms of its parameters, `this` and
/// globals.
struct SummaryEffect {
  PathId Object = UnknownPath;
  unsigned Roles = 0;
  std::string Api;
  bool FlowsToReturn = false;
  /// An action the callee decides by its own read of the object: under a lock
  /// held at the call, check and action are both protected.
  bool CheckedInside = false;
};

/// One step of the way to an acquisition: a call of a helper of the file
/// (Callee named), or the acquisition itself (Callee empty).
struct WitnessStep {
  clang::SourceLocation Loc;
  std::string Callee;
  const clang::FunctionDecl *Function = nullptr; ///< The function it is in.
};
/// From a function down to an acquisition, outermost step first.
using WitnessPath = std::vector<WitnessStep>;

/// Locks taken at one point of a function, directly or inside a helper called
/// there, with the locks held just before: what lock-order and re-acquisition
/// checks need.
struct LockAcquisition {
  /// Several when taken together, in no order of their own (`std::lock(a, b)`,
  /// `std::scoped_lock lk(a, b)`).
  std::vector<PathId> Locks;
  /// A try-lock (or an acquisition whose success a branch tests): it never
  /// waits, so it cannot be the step that deadlocks.
  bool Try = false;
  /// Taken shared (a reader's `pthread_rwlock_rdlock`, `std::shared_lock`):
  /// its holder may take it so again.
  bool Shared = false;
  WitnessPath Path;
  std::vector<PathId> Held; ///< Must be held just before, in this function.
  /// Not in Held, but held on some way back around a loop to here (for sure
  /// on that way): taken again on the next iteration.
  std::vector<PathId> HeldAroundLoop;
  /// Not in Held, but held for sure the first time through the loops around
  /// here (taken before a loop, let go of inside it).
  std::vector<PathId> HeldFromBeforeLoop;
  /// Of Held, those some path took shared.
  std::vector<PathId> HeldShared;
  /// Locks the helper itself held when it acquired, restated in this
  /// function's terms, with the way to where each was taken.
  std::vector<std::pair<PathId, WitnessPath>> HeldInside;
};

/// How long a blocking call can wait.
enum class BlockBound {
  Immediate, ///< Returns at once (`block` false, a zero timeout).
  Timed,     ///< Up to a timeout (a non-zero or unknown one).
  Unbounded, ///< Until another process or thread acts.
};

/// A call that can wait for another process or thread — directly, or inside a
/// helper called here — with the locks held: what ipc-blocking-under-lock
/// needs. Taking a lock is not one (that is the lock-order checks' concern),
/// except a unit of a counting semaphore, which waits for a post from anyone.
struct BlockingCall {
  WitnessPath Path; ///< The call here, then the way to the blocking call.
  std::string Api;  ///< The blocking function (`get`, `pthread_cond_wait`).
  BlockBound Bound = BlockBound::Unbounded;
  std::vector<PathId> Held; ///< Must be held at the call, in this function.
  /// Locks the call lets go of while it waits (a condition wait's own lock).
  std::vector<PathId> Releases;
};

/// A lock a function acquires, for its callers.
struct TakeSite {
  PathId Lock = UnknownPath;
  bool Shared = false;
  WitnessPath Path; ///< Inside the function.
  /// Locks of the function's own held there (parameters, `this`, globals).
  std::vector<std::pair<PathId, WitnessPath>> HeldInside;
};

struct FunctionSummary {
  std::vector<PathId> Acquires; ///< Held at exit, not at entry.
  std::vector<PathId> Releases; ///< Let go without being taken first.
  std::vector<PathId> Takes;    ///< Acquired anywhere inside, even if let go.
  std::vector<TakeSite> TakeSites; ///< Where, for the blocking ones of Takes.
  std::vector<SummaryEffect> Reads;
  std::vector<SummaryEffect> Actions;
  bool Blocks = false;
  /// The calls inside that can wait for others (a few of them, one per API and
  /// bound), with paths inside the function and the locks of the function's
  /// own (parameters, `this`, globals) they let go of; Held is unused.
  std::vector<BlockingCall> BlockSites;
  bool empty() const {
    return Acquires.empty() && Releases.empty() && Takes.empty() &&
           TakeSites.empty() && Reads.empty() && Actions.empty() && !Blocks &&
           BlockSites.empty();
  }
};

/// A call to a function this unit has no body of (not a table's, not in a
/// system header): what it takes is known only to the unit that defines it,
/// so the merge of lock-order facts applies it there.
struct OpaqueCall {
  const clang::FunctionDecl *Callee = nullptr;
  clang::SourceLocation Loc;
  std::vector<PathId> Held; ///< Must be held at the call.
};

/// A call of the function to itself, with the locks held: a recursive call
/// sees no summary, so what it takes is the caller's to compare.
struct SelfCall {
  const clang::CallExpr *Call = nullptr;
  std::vector<PathId> Held; ///< Must be held at the call.
};

struct FunctionResult {
  const clang::FunctionDecl *Function = nullptr;
  bool Analyzed = false;
  std::vector<ActionFact> Facts;
  std::map<ReadKey, ReadSite> Reads;
  std::vector<LockAcquisition> Acquisitions;
  std::vector<BlockingCall> Blocking;
  std::vector<OpaqueCall> OpaqueCalls;
  std::vector<SelfCall> SelfCalls;
  FunctionSummary Summary;
};

/// Where \p Lock, held at \p At, was taken in \p Result's function: the
/// latest acquisition of it before \p At in the source (the function's entry
/// when there is none).
WitnessPath heldSite(const FunctionResult &Result, PathId Lock,
                     const LockAcquisition &At, const clang::SourceManager &SM);

/// The analyses of one translation unit: results are memoized per function and
/// summaries computed on demand, bottom-up; a recursive call sees an empty
/// summary.
class AnalysisContext {
public:
  AnalysisContext(clang::ASTContext &Ctx, const ApiTable &Api);
  ~AnalysisContext();

  /// Analyzes \p FD (once). A function without a body, or that touches no known
  /// API, gives a result with Analyzed false.
  const FunctionResult &analyze(const clang::FunctionDecl *FD);
  /// The summary of a callee, or null when it has none worth applying.
  const FunctionSummary *summaryFor(const clang::FunctionDecl *Callee);

  clang::ASTContext &AST;
  const ApiTable &Api;
  PathTable Paths;
  /// Plain global variables accessed somewhere with a lock held: evidence that
  /// they are shared and meant to be guarded (as in Eraser's lockset
  /// inference).
  llvm::DenseSet<const clang::VarDecl *> GlobalsUsedUnderLock;
  /// The same for plain fields beside a lock: once some field of a record is
  /// accessed under a lock in the file, only the fields so accessed count as
  /// guarded (the lock is then known not to guard the others).
  llvm::DenseSet<const clang::FieldDecl *> FieldsUsedUnderLock;
  llvm::DenseSet<const clang::RecordDecl *> RecordsWithLockedAccess;
  llvm::DenseSet<const clang::RecordDecl *> RecordsWithLockMember;
  llvm::DenseMap<PathId, const clang::FieldDecl *> FieldOfPath;
  /// Objects of classes no table describes, met through their methods, and
  /// those of them the file uses under a lock (only these count as shared).
  llvm::DenseSet<PathId> GenericObjects;
  llvm::DenseSet<PathId> ObjectsUsedUnderLock;
  /// The kind of each lock met, from the type of the expressions that name it
  /// (and, for a helper's lock restated in a caller, from the helper's): for
  /// the locks whose declaration the path does not name (`v.get_lock()`, an
  /// element).
  llvm::DenseMap<PathId, const ApiLockKind *> LockKinds;
  /// The kind of \p Lock: from the type of the variable, field or accessor
  /// its path ends in (`this->mu_` of two classes is one path), else from
  /// LockKinds; null if unknown.
  const ApiLockKind *lockKind(PathId Lock) const;

  /// Whether findings on \p Object may be reported: a plain global scalar only
  /// when some code in the file accesses it under a lock.
  bool isReportable(PathId Object) const;

private:
  llvm::DenseMap<const clang::FunctionDecl *, std::unique_ptr<FunctionResult>>
      Results;
  llvm::DenseSet<const clang::FunctionDecl *> InProgress;
};

/// Runs the dataflow for one function (used by AnalysisContext).
void analyzeFunction(const clang::FunctionDecl *FD, AnalysisContext &Ctx,
                     FunctionResult &Out);

} // namespace ipcheck

#endif
