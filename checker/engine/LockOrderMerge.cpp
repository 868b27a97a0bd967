//===- LockOrderMerge.cpp - Lock-order cycles across translation units ----===//
//
// `ipcheck --merge-facts=DIR`: the edges every unit exported, in one graph.
// A cycle that one unit forms alone, and whose compile ran ipc-lock-order,
// was reported there already and is left out here.
//
//===----------------------------------------------------------------------===//

#include "engine/LockOrder.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Path.h"
#include <tuple>

namespace ipcheck {

static std::string relativeTo(llvm::StringRef Path, llvm::StringRef Root) {
  if (Root.empty())
    return Path.str();
  std::string Prefix = Root.str();
  if (!llvm::StringRef(Prefix).ends_with("/"))
    Prefix += "/";
  llvm::StringRef P = Path;
  if (P.consume_front(Prefix))
    return P.str();
  return Path.str();
}

LockOrderMergeResult mergeLockOrderFacts(llvm::ArrayRef<std::string> Paths,
                                         llvm::StringRef Root) {
  LockOrderMergeResult Result;
  std::vector<LockOrderFacts> Units;
  Units.reserve(Paths.size());
  for (const std::string &Path : Paths) {
    llvm::Expected<LockOrderFacts> Facts = readLockOrderFacts(Path);
    if (!Facts) {
      Result.Errors.push_back(llvm::toString(Facts.takeError()));
      continue;
    }
    Units.push_back(std::move(*Facts));
  }
  Result.Units = Units.size();

  struct Ref {
    unsigned Unit, Edge;
  };
  std::vector<Ref> Witnesses;
  LockOrderGraph Graph;
  for (unsigned U = 0; U < Units.size(); ++U) {
    const std::vector<LockOrderFact> &Edges = Units[U].Edges;
    // As in a unit's own check: of two witnesses of an edge, the shorter.
    std::vector<unsigned> Order(Edges.size());
    for (unsigned I = 0; I < Order.size(); ++I)
      Order[I] = I;
    llvm::sort(Order, [&](unsigned A, unsigned B) {
      return std::make_pair(Edges[A].Held.size() + Edges[A].Acquired.size(),
                            A) <
             std::make_pair(Edges[B].Held.size() + Edges[B].Acquired.size(), B);
    });
    for (unsigned I : Order) {
      const LockOrderFact &E = Edges[I];
      std::vector<unsigned> Gate;
      for (const std::string &G : E.Gate)
        Gate.push_back(Graph.node(G));
      Graph.addEdge(Graph.node(E.From.Key), Graph.node(E.To.Key),
                    std::move(Gate), Witnesses.size(), U);
      Witnesses.push_back({U, I});
    }
  }

  // Calls into other units: the caller's held locks before everything the
  // callee takes, directly or through its own calls into other units (a few
  // levels deep), with the call as the first step of the witness.
  struct Take {
    LockName Lock;
    std::string Shown;
    std::vector<LockOrderFact::Step> Path;
  };
  llvm::StringMap<std::vector<Take>> TakesOf;
  auto AddTake = [&](llvm::StringRef Function, Take T) {
    std::vector<Take> &Mine = TakesOf[Function];
    if (llvm::any_of(Mine,
                     [&](const Take &O) { return O.Lock.Key == T.Lock.Key; }))
      return false;
    Mine.push_back(std::move(T));
    return true;
  };
  for (const LockOrderFacts &U : Units)
    for (const LockOrderTake &T : U.Takes)
      AddTake(T.Function, {T.Lock, T.Shown, T.Path});
  auto Through = [](const LockOrderCall &C,
                    const std::vector<LockOrderFact::Step> &Inner) {
    std::vector<LockOrderFact::Step> Path{C.Site};
    Path.front().Callee = C.CalleeShown;
    Path.insert(Path.end(), Inner.begin(), Inner.end());
    return Path;
  };
  for (unsigned Depth = 0; Depth < 4; ++Depth) {
    bool Grew = false;
    for (const LockOrderFacts &U : Units)
      for (const LockOrderCall &C : U.Calls) {
        if (C.Caller.empty() || C.Caller == C.Callee)
          continue;
        auto It = TakesOf.find(C.Callee);
        if (It == TakesOf.end())
          continue;
        std::vector<Take> Inner = It->second; // AddTake may grow the map.
        for (const Take &T : Inner)
          Grew |= AddTake(C.Caller, {T.Lock, T.Shown, Through(C, T.Path)});
      }
    if (!Grew)
      break;
  }
  std::vector<LockOrderFact> Composed;
  std::vector<unsigned> ComposedUnit;
  for (unsigned U = 0; U < Units.size(); ++U)
    for (const LockOrderCall &C : Units[U].Calls) {
      auto It = TakesOf.find(C.Callee);
      if (C.HeldLocks.empty() || It == TakesOf.end())
        continue;
      for (const Take &T : It->second)
        for (const LockOrderCall::Held &H : C.HeldLocks) {
          if (H.Lock.Key == T.Lock.Key)
            continue;
          LockOrderFact F;
          F.From = H.Lock;
          F.To = T.Lock;
          F.FromShown = H.Shown;
          F.ToShown = T.Shown;
          F.Held = H.Where;
          F.Acquired = Through(C, T.Path);
          for (const LockOrderCall::Held &Other : C.HeldLocks)
            if (Other.Lock.Key != H.Lock.Key)
              F.Gate.push_back(Other.Lock.Key);
          Composed.push_back(std::move(F));
          ComposedUnit.push_back(U);
        }
    }
  for (unsigned I = 0; I < Composed.size(); ++I) {
    const LockOrderFact &E = Composed[I];
    std::vector<unsigned> Gate;
    for (const std::string &G : E.Gate)
      Gate.push_back(Graph.node(G));
    // A group of its own: no unit's compile saw this edge.
    Graph.addEdge(Graph.node(E.From.Key), Graph.node(E.To.Key), std::move(Gate),
                  Witnesses.size(), Units.size() + ComposedUnit[I]);
    Witnesses.push_back({~0u, I});
  }
  Result.Edges = Witnesses.size();

  std::vector<LockOrderGraph::Cycle> Cycles = Graph.cycles();
  Result.TruncatedComponents = Graph.Truncated;
  auto FactOf = [&](const LockOrderGraph::CycleEdge &CE) -> const auto & {
    const Ref &R = Witnesses[CE.Witness];
    return R.Unit == ~0u ? Composed[R.Edge] : Units[R.Unit].Edges[R.Edge];
  };
  for (LockOrderGraph::Cycle &Cycle : Cycles) {
    if (Graph.ungatedWithinOneGroup(Cycle, [&](unsigned U) {
          return U < Units.size() && Units[U].ReportsOwnCycles;
        }))
      continue;
    // One rotation whatever the order of the files: from the least lock.
    auto Least = llvm::min_element(Cycle, [&](const auto &A, const auto &B) {
      return Graph.key(A.From) < Graph.key(B.From);
    });
    std::rotate(Cycle.begin(), Least, Cycle.end());

    std::vector<CycleEdgeView> Views;
    std::vector<std::string> Names;
    std::string Where; // Each edge's acquisition: file and function.
    for (const LockOrderGraph::CycleEdge &CE : Cycle) {
      const LockOrderFact &E = FactOf(CE);
      CycleEdgeView V{E.FromShown, E.ToShown, {}, {}};
      for (const LockOrderFact::Step &S : E.Held)
        V.HeldCallees.push_back(S.Callee);
      for (const LockOrderFact::Step &S : E.Acquired)
        V.AcquiredCallees.push_back(S.Callee);
      Views.push_back(std::move(V));
      Names.push_back(E.From.Name);
      Where += relativeTo(E.Acquired.front().File, Root) + "|" +
               E.Acquired.front().Function + ";";
    }
    CycleText Text = describeCycle(Views, Names);
    auto Locate = [&](const LockOrderFact::Step &S, std::string Message) {
      ReportedFinding::Location L;
      L.File = relativeTo(S.File, Root);
      L.Line = S.Line;
      L.Column = S.Column;
      L.Message = std::move(Message);
      return L;
    };
    const LockOrderFact::Step &First = FactOf(Cycle.front()).Acquired.front();
    ReportedFinding F;
    F.Check = "ipc-lock-order";
    F.Level = "warning";
    F.Primary = Locate(First, Text.Message);
    F.PrimaryStep = Text.PrimaryStep;
    F.Function = First.Function;
    for (const CycleText::Note &N : Text.Notes) {
      const LockOrderFact &E = FactOf(Cycle[N.Edge]);
      F.Notes.push_back(
          Locate(N.HeldSide ? E.Held[N.Step] : E.Acquired[N.Step], N.Message));
      F.Notes.back().Flow = N.Edge;
    }
    // Not the lines: the files and functions of the acquisitions and the
    // locks named in the message, so that the finding keeps its identity
    // when code moves.
    F.Fingerprint = fingerprint(F.Check, F.Primary.File, Where, F.Function,
                                F.Primary.Message);
    Result.Findings.push_back(std::move(F));
  }
  llvm::sort(Result.Findings,
             [](const ReportedFinding &A, const ReportedFinding &B) {
               return std::tie(A.Primary.File, A.Primary.Line, A.Primary.Column,
                               A.Primary.Message) <
                      std::tie(B.Primary.File, B.Primary.Line, B.Primary.Column,
                               B.Primary.Message);
             });
  return Result;
}

} // namespace ipcheck
