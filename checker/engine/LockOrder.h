//===- LockOrder.h - The lock-order graph, within a file and across files -===//
//
// An edge A -> B says: somewhere, B is acquired (and may be waited for) while
// A must be held. A cycle of such edges is a potential deadlock: each thread or
// process of the cycle holds one lock and waits for the next. Locks are named
// by their declaration so that edges found in different translation units meet
// in one graph: each unit exports its edges (LockOrderFacts, one JSON-lines
// file per unit) and a merge finds the cycles among all of them.
//
//===----------------------------------------------------------------------===//

#ifndef IPCHECK_ENGINE_LOCKORDER_H
#define IPCHECK_ENGINE_LOCKORDER_H

#include "engine/FunctionAnalysis.h"
#include "engine/Reporter.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <map>
#include <string>
#include <vector>

namespace ipcheck {

/// How a lock is known beyond the function that takes it.
struct LockName {
  /// The identity: a global's qualified name (`ns::table_mu`), a member's
  /// class and name (`Account::mu`: every object of the class is one lock
  /// class), a named primitive's name (`named:/jobs` for `sem_open("/jobs")`),
  /// or, for what only this file can name (a `static` global, a local, a
  /// parameter), the same prefixed with the file (`/src/a.cpp#...`). Empty
  /// when the lock has no identity at all (`*this`).
  std::string Key;
  std::string Name; ///< The key as shown: without the file.
};

/// The name of the lock \p Path denotes; \p Unit is the main file's path.
LockName lockName(const ObjectPath &Path, llvm::StringRef Unit);

/// One edge of one translation unit, with where it was seen.
struct LockOrderEdge {
  LockName From, To;
  std::string FromShown, ToShown; ///< As the code names them there (`a.mu`).
  WitnessPath Held;               ///< Where From was taken.
  WitnessPath Acquired;           ///< Where To was taken while From was held.
  std::vector<std::string> Gate;  ///< Keys of the other locks held there.
};

/// The edges of every function of a translation unit: at each acquisition
/// that can wait, one edge from each lock held (directly, or inside the helper
/// that acquires) to each lock taken. Locks taken together add no edge between
/// them; a lock taken again while held (reentrant, or a re-acquisition that
/// ipc-lock-reacquire reports) adds none; nor does an acquisition silenced by
/// `// NOLINT(ipc-lock-order)`.
std::vector<LockOrderEdge>
collectLockOrder(AnalysisContext &Ctx,
                 llvm::ArrayRef<const clang::FunctionDecl *> Functions,
                 llvm::StringRef Unit);

/// A lock-order graph over keys, each edge with the distinct gate sets it was
/// seen with and, for each, the witness the caller numbered.
class LockOrderGraph {
public:
  unsigned node(llvm::StringRef Key);
  llvm::StringRef key(unsigned Node) const { return Keys[Node]; }
  size_t nodes() const { return Keys.size(); }
  /// Adds an occurrence of From -> To seen while the locks \p Gate (other than
  /// From) were held; the first witness of each gate set is kept. \p Group
  /// says where it was seen (the merge: which translation unit).
  void addEdge(unsigned From, unsigned To, std::vector<unsigned> Gate,
               unsigned Witness, unsigned Group = 0);

  struct CycleEdge {
    unsigned From, To, Witness;
  };
  using Cycle = std::vector<CycleEdge>; ///< Edges in order, closing the loop.

  struct Limits {
    unsigned CyclesPerComponent = 16;
    /// Edge visits of the searches per strongly connected component.
    size_t WorkPerComponent = size_t(1) << 22;
  };
  /// The cycles worth reporting: per strongly connected component (Tarjan),
  /// the shortest cycle through each of its edges (breadth-first), each once,
  /// at most CyclesPerComponent of them; a cycle is left out when every way of
  /// choosing one occurrence per edge has a lock in common to all (a gate lock:
  /// the edges cannot be taken at the same time). The witnesses chosen are of
  /// occurrences with no common lock.
  std::vector<Cycle> cycles(const Limits &L) const;
  std::vector<Cycle> cycles() const { return cycles(Limits()); }
  /// Components with more cycles than were reported (after cycles()).
  mutable unsigned Truncated = 0;

  /// Whether one group for which \p Counts holds has every edge of \p C
  /// with a choice of occurrences, all of that group, that no lock gates: the
  /// cycle that group alone forms (and, for a unit, its own compile reports).
  bool ungatedWithinOneGroup(const Cycle &C,
                             llvm::function_ref<bool(unsigned)> Counts) const;

private:
  struct Occurrence {
    std::vector<unsigned> Gate; ///< Sorted.
    unsigned Witness;
  };
  struct Edge {
    unsigned From, To;
    std::vector<Occurrence> Seen;
    /// The distinct gate sets of each group (sorted by group).
    std::map<unsigned, std::vector<std::vector<unsigned>>> GatesOf;
  };
  bool chooseUngated(const std::vector<unsigned> &Edges,
                     std::vector<unsigned> &Witnesses) const;

  std::vector<std::string> Keys;
  llvm::StringMap<unsigned> Ids;
  std::vector<Edge> Edges;
  llvm::DenseMap<std::pair<unsigned, unsigned>, unsigned> EdgeIds;
};

/// An edge as stored in a facts file: resolved to files and lines.
struct LockOrderFact {
  struct Step {
    std::string File; ///< Absolute.
    unsigned Line = 0, Column = 0;
    std::string Callee;   ///< A helper called here; empty: the acquisition.
    std::string Function; ///< Qualified name of the function it is in.
  };
  LockName From, To;
  std::string FromShown, ToShown;
  std::vector<Step> Held, Acquired;
  std::vector<std::string> Gate;
};

/// A lock a function of the unit takes (a summary's take site), for callers
/// in other units: only locks with a program-wide key.
struct LockOrderTake {
  std::string Function; ///< functionLinkName() of the function.
  LockName Lock;
  std::string Shown;
  std::vector<LockOrderFact::Step> Path; ///< Inside the function.
};

/// A call to a function defined in another unit, with the locks held there:
/// at the merge, each lock the callee takes is ordered after each held one.
struct LockOrderCall {
  /// The calling function when other units can call it (for what it takes
  /// through this call), else empty.
  std::string Caller;
  std::string Callee; ///< functionLinkName() of the callee.
  std::string CalleeShown;
  LockOrderFact::Step Site;
  struct Held {
    LockName Lock;
    std::string Shown;
    std::vector<LockOrderFact::Step> Where; ///< Where it was taken.
  };
  std::vector<Held> HeldLocks; ///< Those with a key.
};

/// What one translation unit exports: its edges, what its functions take and
/// what it calls elsewhere, and whether its own compile reported the cycles
/// its edges form alone (ipc-lock-order was enabled there), so that the merge
/// does not report those a second time.
struct LockOrderFacts {
  std::string Unit; ///< The main file's absolute path.
  bool ReportsOwnCycles = false;
  std::vector<LockOrderFact> Edges;
  std::vector<LockOrderTake> Takes;
  std::vector<LockOrderCall> Calls;
};

/// A function's name across units: qualified name and canonical parameter
/// types (`ns::f(int *)`, `S::g() const`), the same in every unit that
/// declares it.
std::string functionLinkName(const clang::FunctionDecl *FD);

/// Adds to \p Out what the unit's \p Functions take and the calls they make
/// to functions defined elsewhere (see LockOrderTake, LockOrderCall).
void collectCrossUnitFacts(
    AnalysisContext &Ctx, llvm::ArrayRef<const clang::FunctionDecl *> Functions,
    LockOrderFacts &Out);

/// The main file's absolute path: the unit's name in keys and facts files.
std::string mainFilePath(const clang::SourceManager &SM);
/// \p Edge in files and lines (absolute paths).
LockOrderFact resolveEdge(const LockOrderEdge &Edge,
                          const clang::SourceManager &SM);

/// The facts file name of the unit \p Unit: `<stem>-<hash of Unit>.lockorder`
/// + `.jsonl`; the same unit always gets the same file, two units never one.
std::string lockOrderFactsFileName(llvm::StringRef Unit);
/// Writes \p Facts into \p Dir (created if missing) through a temporary file
/// renamed into place, so that parallel compiles and readers never see half a
/// file. The format is JSON lines: a header line (format, version, unit, the
/// number of edges, the files and lock names), then one line per edge.
llvm::Error writeLockOrderFacts(llvm::StringRef Dir,
                                const LockOrderFacts &Facts);
/// Reads one facts file. An error is one line, `<path>:<line>[:<col>]: ...`,
/// for a file that is not facts, of another version, malformed or truncated.
llvm::Expected<LockOrderFacts> readLockOrderFacts(llvm::StringRef Path);
/// The facts files of \p Dir, sorted.
llvm::Expected<std::vector<std::string>>
listLockOrderFacts(llvm::StringRef Dir);

/// What the merge of facts files found.
struct LockOrderMergeResult {
  /// The cycles, as findings of ipc-lock-order at level `warning`, paths
  /// relative to the root, sorted by place; cycles that one unit forms alone
  /// and reports itself are left out.
  std::vector<ReportedFinding> Findings;
  std::vector<std::string> Errors; ///< One per file that could not be read.
  size_t Units = 0, Edges = 0;
  unsigned TruncatedComponents = 0; ///< Components with cycles left out.
};
/// Reads \p Paths (every file; an unreadable one is an error and the others
/// are still merged) and finds the cycles of their edges together: each cycle
/// once, starting at its least lock (by key), with a witness per edge.
LockOrderMergeResult mergeLockOrderFacts(llvm::ArrayRef<std::string> Paths,
                                         llvm::StringRef Root);

/// The text of a finding about a cycle: its message and its notes, one witness
/// per edge (flow i is edge i's: where its first lock was taken, then the
/// way to where the second was taken while it was held). The finding itself
/// is at edge 0's acquisition.
struct CycleText {
  struct Note {
    unsigned Edge;
    bool HeldSide; ///< A step of Held, else of Acquired.
    unsigned Step;
    std::string Message;
  };
  std::string Message;
  std::vector<Note> Notes;  ///< In order; Notes[i] is in flow Notes[i].Edge.
  unsigned PrimaryStep = 0; ///< Where the finding goes among flow 0's steps.
};

/// \p Edges: for each edge of the cycle, in order from the one reported,
/// the shown names and the callees of its steps.
struct CycleEdgeView {
  std::string FromShown, ToShown;
  std::vector<std::string> HeldCallees, AcquiredCallees;
};
CycleText describeCycle(llvm::ArrayRef<CycleEdgeView> Edges,
                        llvm::ArrayRef<std::string> NodeNames);

} // namespace ipcheck

#endif
