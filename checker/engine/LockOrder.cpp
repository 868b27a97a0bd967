//===- LockOrder.cpp - The lock-order graph, within a file and across files
//===//

#include "engine/LockOrder.h"
#include "engine/ApiTable.h"
#include "engine/Reporter.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/Decl.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/Expr.h"
#include "clang/AST/ExprCXX.h"
#include "clang/Basic/SourceManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MD5.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <deque>
#include <functional>
#include <map>
#include <set>

using namespace clang;

namespace ipcheck {

// --- Names -------------------------------------------------------------------

/// The first string literal among the arguments of \p E (a call or a
/// construction), looking a few levels into each argument (`std::string("x")`).
static const StringLiteral *firstStringLiteral(const Stmt *E, unsigned Depth) {
  if (!E || Depth > 4)
    return nullptr;
  if (const auto *SL = dyn_cast<StringLiteral>(E))
    return SL;
  for (const Stmt *Child : E->children())
    if (const StringLiteral *SL = firstStringLiteral(Child, Depth + 1))
      return SL;
  return nullptr;
}

/// The name a variable's primitive was opened by: `sem_open("/jobs", ...)`,
/// `named_mutex m(open_or_create, "jobs")`, or a pointer into a named segment
/// (`static_cast<S*>(shm.buf())` with `SharedMemory shm("seg", ...)`).
static std::string namedOrigin(const VarDecl *VD, unsigned Depth = 0) {
  if (!VD || Depth > 4)
    return "";
  const Expr *Init = VD->getInit();
  while (Init) {
    Init = Init->IgnoreParenImpCasts();
    if (const auto *C = dyn_cast<ExplicitCastExpr>(Init))
      Init = C->getSubExpr();
    else if (const auto *EWC = dyn_cast<ExprWithCleanups>(Init))
      Init = EWC->getSubExpr();
    else if (const auto *B = dyn_cast<CXXBindTemporaryExpr>(Init))
      Init = B->getSubExpr();
    else if (const auto *M = dyn_cast<MaterializeTemporaryExpr>(Init))
      Init = M->getSubExpr();
    else
      break;
  }
  if (!Init)
    return "";
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Init)) {
    // A part of a named object: `shm.buf()`.
    const Expr *Obj = MC->getImplicitObjectArgument();
    if (const auto *DRE =
            Obj ? dyn_cast<DeclRefExpr>(Obj->IgnoreParenImpCasts()) : nullptr)
      if (std::string Name =
              namedOrigin(dyn_cast<VarDecl>(DRE->getDecl()), Depth + 1);
          !Name.empty())
        return Name + "." + MC->getMethodDecl()->getNameAsString() + "()";
    return "";
  }
  if (const auto *Construct = dyn_cast<CXXConstructExpr>(Init)) {
    if (Construct->getConstructor()->isCopyOrMoveConstructor())
      return "";
    for (const Expr *Arg : Construct->arguments())
      if (const StringLiteral *SL = firstStringLiteral(Arg, 0))
        return SL->getString().str();
    return "";
  }
  if (const auto *Call = dyn_cast<CallExpr>(Init))
    for (const Expr *Arg : Call->arguments())
      if (const StringLiteral *SL = firstStringLiteral(Arg, 0))
        return SL->getString().str();
  return "";
}

/// The function a local belongs to: a lambda's variables belong to the
/// function it is written in (they are captured from there).
static const FunctionDecl *owningFunction(const Decl *D) {
  const DeclContext *DC = D->getDeclContext();
  while (DC && !isa<FunctionDecl>(DC))
    DC = DC->getParent();
  const auto *FD = dyn_cast_or_null<FunctionDecl>(DC);
  if (const auto *MD = dyn_cast_or_null<CXXMethodDecl>(FD);
      MD && MD->getParent()->isLambda())
    return owningFunction(MD->getParent());
  return FD;
}

static std::string functionName(const Decl *D) {
  const FunctionDecl *FD = owningFunction(D);
  return FD ? FD->getQualifiedNameAsString() : "";
}

/// The function with its parameter types, so that overloads' locals differ.
static std::string functionIdentity(const FunctionDecl *FD) {
  if (!FD)
    return "";
  std::string Id = FD->getQualifiedNameAsString() + "(";
  for (unsigned I = 0; I < FD->getNumParams(); ++I)
    Id += (I ? "," : "") + FD->getParamDecl(I)->getType().getAsString();
  return Id + ")";
}

/// Which of the same-named locals of its function \p VD is, counted from 1 in
/// source order: a stable name for it that a line number would not be (the
/// key must not change when code above it moves).
static unsigned localOrdinal(const VarDecl *VD) {
  const FunctionDecl *FD = owningFunction(VD);
  const Stmt *Body = FD ? FD->getBody() : nullptr;
  unsigned Seen = 0;
  std::function<bool(const Stmt *)> Walk = [&](const Stmt *S) {
    if (!S)
      return false;
    if (const auto *DS = dyn_cast<DeclStmt>(S))
      for (const Decl *D : DS->decls())
        if (const auto *V = dyn_cast<VarDecl>(D);
            V && V->getDeclName() == VD->getDeclName()) {
          ++Seen;
          if (V == VD)
            return true;
        }
    if (const auto *L = dyn_cast<LambdaExpr>(S))
      return Walk(L->getBody());
    for (const Stmt *Child : S->children())
      if (Walk(Child))
        return true;
    return false;
  };
  return Walk(Body) ? Seen : 1;
}

LockName lockName(const ObjectPath &P, llvm::StringRef Unit) {
  LockName N;
  int Last = -1;
  for (size_t I = 0; I < P.Components.size(); ++I)
    if (I < P.Members.size() && P.Members[I])
      Last = int(I);
  // What only this unit can name is keyed by the unit; the rest by the name.
  bool UnitOwn = false;
  std::string Key; // When it differs from the shown name (before the unit).
  if (Last >= 0) {
    const ValueDecl *Member = P.Members[Last];
    N.Name = ApiTable::qualifiedName(Member);
    if (isa<CXXMethodDecl>(Member))
      N.Name += "()";
    if (const auto *RD = dyn_cast<RecordDecl>(Member->getDeclContext()))
      UnitOwn = !RD->isExternallyVisible();
  } else {
    const auto *VD = dyn_cast_or_null<VarDecl>(P.Root);
    switch (P.Kind) {
    case ObjectPath::Global:
    case ObjectPath::Local: {
      if (std::string Named = namedOrigin(VD); !Named.empty()) {
        N.Name = "named:" + Named;
        break;
      }
      if (!VD)
        return N;
      if (P.Kind == ObjectPath::Global && !VD->isStaticLocal()) {
        N.Name = ApiTable::qualifiedName(VD);
        UnitOwn = !VD->isExternallyVisible();
        break;
      }
      // A local, or a static local: one object of the function. A static
      // local of an inline function (a header's) is one object in the whole
      // program; any other is this unit's own, like a plain local (lambdas and
      // threads of the function capture it by reference).
      const FunctionDecl *FD = owningFunction(VD);
      std::string Own = functionIdentity(FD) + "::" + VD->getNameAsString();
      if (unsigned Ordinal = localOrdinal(VD); Ordinal > 1)
        Own += "#" + std::to_string(Ordinal);
      if (VD->isStaticLocal()) {
        N.Name = functionName(VD) + "::" + VD->getNameAsString();
        UnitOwn = !(FD && FD->isExternallyVisible() &&
                    (FD->isInlined() || FD->isTemplateInstantiation()));
      } else {
        N.Name = VD->getNameAsString();
        UnitOwn = true;
      }
      Key = std::move(Own);
      break;
    }
    case ObjectPath::Param:
      if (!P.Root)
        return N;
      N.Name = cast<NamedDecl>(P.Root)->getNameAsString();
      Key = functionIdentity(owningFunction(P.Root)) + "(" + N.Name + ")";
      UnitOwn = true;
      break;
    case ObjectPath::CallResult:
      if (const auto *FD = dyn_cast_or_null<FunctionDecl>(P.Root)) {
        N.Name = ApiTable::qualifiedName(FD) + "()";
        UnitOwn = !FD->isExternallyVisible();
      }
      break;
    case ObjectPath::This:
    case ObjectPath::Unknown:
      return N;
    }
  }
  if (N.Name.empty())
    return N;
  std::string Rest;
  for (size_t I = Last + 1; I < P.Components.size(); ++I) {
    const std::string &C = P.Components[I];
    Rest += C.front() == '[' ? C : "." + C;
  }
  N.Name += Rest;
  N.Key = (Key.empty() ? N.Name : Key + Rest);
  if (UnitOwn)
    N.Key = Unit.str() + "#" + N.Key;
  return N;
}

// --- Edges of one translation unit
// --------------------------------------------

std::vector<LockOrderEdge>
collectLockOrder(AnalysisContext &Ctx,
                 llvm::ArrayRef<const FunctionDecl *> Functions,
                 llvm::StringRef Unit) {
  const SourceManager &SM = Ctx.AST.getSourceManager();
  std::vector<LockOrderEdge> Edges;
  llvm::DenseMap<PathId, LockName> Names;
  auto NameOf = [&](PathId P) -> const LockName & {
    auto It = Names.find(P);
    if (It == Names.end())
      It = Names.try_emplace(P, lockName(Ctx.Paths.get(P), Unit)).first;
    return It->second;
  };
  for (const FunctionDecl *FD : Functions) {
    const FunctionResult &R = Ctx.analyze(FD);
    if (!R.Analyzed)
      continue;
    for (const LockAcquisition &A : R.Acquisitions) {
      if (A.Try ||
          isSuppressedByNolint(SM, A.Path.front().Loc, "ipc-lock-order"))
        continue;
      std::vector<std::pair<PathId, WitnessPath>> Held;
      for (PathId H : A.Held)
        Held.push_back({H, heldSite(R, H, A, SM)});
      Held.insert(Held.end(), A.HeldInside.begin(), A.HeldInside.end());
      for (PathId L : A.Locks) {
        const LockName &To = NameOf(L);
        if (To.Key.empty() ||
            llvm::any_of(Held, [&](const auto &H) { return H.first == L; }))
          continue;
        for (const auto &[H, Where] : Held) {
          const LockName &From = NameOf(H);
          // Two objects of one class are one lock class: their order is
          // decided by data (an id, an address) that no declaration shows.
          if (From.Key.empty() || From.Key == To.Key)
            continue;
          LockOrderEdge E;
          E.From = From;
          E.To = To;
          E.FromShown = Ctx.Paths.display(H);
          E.ToShown = Ctx.Paths.display(L);
          E.Held = Where;
          E.Acquired = A.Path;
          for (const auto &Other : Held)
            if (Other.first != H) {
              const std::string &G = NameOf(Other.first).Key;
              if (!G.empty() && G != From.Key && !llvm::is_contained(E.Gate, G))
                E.Gate.push_back(G);
            }
          llvm::sort(E.Gate);
          Edges.push_back(std::move(E));
        }
      }
    }
  }
  return Edges;
}

// --- The graph and its cycles
// --------------------------------------------------

unsigned LockOrderGraph::node(llvm::StringRef Key) {
  auto [It, Inserted] = Ids.try_emplace(Key, Keys.size());
  if (Inserted)
    Keys.push_back(Key.str());
  return It->second;
}

void LockOrderGraph::addEdge(unsigned From, unsigned To,
                             std::vector<unsigned> Gate, unsigned Witness,
                             unsigned Group) {
  if (From == To)
    return;
  llvm::sort(Gate);
  Gate.erase(std::unique(Gate.begin(), Gate.end()), Gate.end());
  llvm::erase(Gate, From);
  auto [It, Inserted] = EdgeIds.try_emplace({From, To}, Edges.size());
  if (Inserted)
    Edges.push_back(Edge{From, To, {}, {}});
  Edge &E = Edges[It->second];
  // Enough distinct gate sets to find an ungated choice in practice.
  std::vector<std::vector<unsigned>> &Mine = E.GatesOf[Group];
  if (!llvm::is_contained(Mine, Gate) && (Mine.size() < 8 || Gate.empty()))
    Mine.push_back(Gate);
  for (const Occurrence &O : E.Seen)
    if (O.Gate == Gate)
      return;
  if (E.Seen.size() >= 8 && !Gate.empty())
    return;
  E.Seen.push_back(Occurrence{std::move(Gate), Witness});
}

/// Depth-first over one gate set per edge (\p Count of them for edge I,
/// \p GateOf(I, K) the K-th), keeping the locks common to the choices so
/// far; a choice whose common set is empty can deadlock. 1: found (\p Chosen
/// says which), 0: every choice shares a lock, -1: undecided (the budget ran
/// out).
static int chooseWithoutCommonLock(
    size_t N, llvm::function_ref<size_t(size_t)> Count,
    llvm::function_ref<const std::vector<unsigned> &(size_t, size_t)> GateOf,
    std::vector<unsigned> &Chosen) {
  size_t Budget = 4096;
  Chosen.assign(N, 0);
  std::function<bool(size_t, const std::vector<unsigned> *)> Search =
      [&](size_t I, const std::vector<unsigned> *Common) -> bool {
    if (Budget == 0)
      return false;
    --Budget;
    if (I == N)
      return Common && Common->empty();
    for (unsigned K = 0; K < Count(I); ++K) {
      const std::vector<unsigned> &Gate = GateOf(I, K);
      std::vector<unsigned> Next;
      if (Common)
        std::set_intersection(Common->begin(), Common->end(), Gate.begin(),
                              Gate.end(), std::back_inserter(Next));
      else
        Next = Gate;
      Chosen[I] = K;
      if (Next.empty()) { // Nothing in common already: the rest is free.
        for (size_t J = I + 1; J < N; ++J)
          Chosen[J] = 0;
        return true;
      }
      if (Search(I + 1, &Next))
        return true;
    }
    return false;
  };
  if (Search(0, nullptr))
    return 1;
  return Budget == 0 ? -1 : 0;
}

bool LockOrderGraph::chooseUngated(const std::vector<unsigned> &CycleEdges,
                                   std::vector<unsigned> &Witnesses) const {
  std::vector<unsigned> Chosen;
  int Found = chooseWithoutCommonLock(
      CycleEdges.size(),
      [&](size_t I) { return Edges[CycleEdges[I]].Seen.size(); },
      [&](size_t I, size_t K) -> const std::vector<unsigned> & {
        return Edges[CycleEdges[I]].Seen[K].Gate;
      },
      Chosen);
  if (Found == 0)
    return false;
  if (Found < 0) // Undecided: report rather than miss a deadlock.
    std::fill(Chosen.begin(), Chosen.end(), 0);
  Witnesses.clear();
  for (size_t I = 0; I < CycleEdges.size(); ++I)
    Witnesses.push_back(Edges[CycleEdges[I]].Seen[Chosen[I]].Witness);
  return true;
}

bool LockOrderGraph::ungatedWithinOneGroup(
    const Cycle &C, llvm::function_ref<bool(unsigned)> Counts) const {
  std::vector<const Edge *> Of;
  for (const CycleEdge &CE : C)
    Of.push_back(&Edges[EdgeIds.lookup({CE.From, CE.To})]);
  for (const auto &[Group, Unused] : Of.front()->GatesOf) {
    if (!Counts(Group) || !llvm::all_of(Of, [&, G = Group](const Edge *E) {
          return E->GatesOf.count(G);
        }))
      continue;
    std::vector<const std::vector<std::vector<unsigned>> *> Gates;
    for (const Edge *E : Of)
      Gates.push_back(&E->GatesOf.at(Group));
    std::vector<unsigned> Chosen;
    // Undecided counts as found: the group's own search reports it then.
    if (chooseWithoutCommonLock(
            Gates.size(), [&](size_t I) { return Gates[I]->size(); },
            [&](size_t I, size_t K) -> const std::vector<unsigned> & {
              return (*Gates[I])[K];
            },
            Chosen) != 0)
      return true;
  }
  return false;
}

std::vector<LockOrderGraph::Cycle>
LockOrderGraph::cycles(const Limits &Lim) const {
  Truncated = 0;
  const unsigned N = Keys.size();
  std::vector<std::vector<unsigned>> Out(N); // Edge ids by source node.
  for (unsigned I = 0; I < Edges.size(); ++I)
    Out[Edges[I].From].push_back(I);

  // Tarjan's strongly connected components, iteratively.
  std::vector<int> Index(N, -1), Low(N, 0), Component(N, -1);
  std::vector<bool> OnStack(N, false);
  std::vector<unsigned> Stack;
  int Next = 0, Components = 0;
  for (unsigned Root = 0; Root < N; ++Root) {
    if (Index[Root] >= 0)
      continue;
    std::vector<std::pair<unsigned, unsigned>> Frames{{Root, 0}};
    Index[Root] = Low[Root] = Next++;
    Stack.push_back(Root);
    OnStack[Root] = true;
    while (!Frames.empty()) {
      auto &[V, Pos] = Frames.back();
      if (Pos < Out[V].size()) {
        unsigned W = Edges[Out[V][Pos++]].To;
        if (Index[W] < 0) {
          Index[W] = Low[W] = Next++;
          Stack.push_back(W);
          OnStack[W] = true;
          Frames.push_back({W, 0});
        } else if (OnStack[W]) {
          Low[V] = std::min(Low[V], Index[W]);
        }
        continue;
      }
      if (Low[V] == Index[V]) {
        unsigned W;
        do {
          W = Stack.back();
          Stack.pop_back();
          OnStack[W] = false;
          Component[W] = Components;
        } while (W != V);
        ++Components;
      }
      unsigned Done = V;
      Frames.pop_back();
      if (!Frames.empty())
        Low[Frames.back().first] =
            std::min(Low[Frames.back().first], Low[Done]);
    }
  }

  std::vector<std::vector<unsigned>> EdgesOf(Components);
  for (unsigned I = 0; I < Edges.size(); ++I)
    if (Component[Edges[I].From] == Component[Edges[I].To])
      EdgesOf[Component[Edges[I].From]].push_back(I);

  std::vector<Cycle> Result;
  std::vector<int> Via(N, -1); // BFS: the edge that reached a node.
  std::vector<unsigned> Touched;
  for (int C = 0; C < Components; ++C) {
    if (EdgesOf[C].empty())
      continue;
    // Edges in a stable order: by the keys they join.
    std::vector<unsigned> Order = EdgesOf[C];
    llvm::sort(Order, [&](unsigned A, unsigned B) {
      return std::tie(Keys[Edges[A].From], Keys[Edges[A].To]) <
             std::tie(Keys[Edges[B].From], Keys[Edges[B].To]);
    });
    std::set<std::vector<unsigned>> Seen; // Cycles as rotated edge lists.
    size_t Work = Lim.WorkPerComponent;
    unsigned Found = 0;
    for (unsigned First : Order) {
      if (Work == 0 || Found == Lim.CyclesPerComponent) {
        ++Truncated;
        break;
      }
      // The shortest way back from First's target to its source.
      unsigned Source = Edges[First].From, Target = Edges[First].To;
      for (unsigned T : Touched)
        Via[T] = -1;
      Touched.clear();
      std::deque<unsigned> Queue{Target};
      Via[Target] = int(First);
      Touched.push_back(Target);
      bool Reached = false;
      while (!Queue.empty() && !Reached && Work) {
        unsigned V = Queue.front();
        Queue.pop_front();
        for (unsigned E : Out[V]) {
          if (Work)
            --Work;
          unsigned W = Edges[E].To;
          if (Component[W] != C || Via[W] >= 0)
            continue;
          Via[W] = int(E);
          Touched.push_back(W);
          if (W == Source) {
            Reached = true;
            break;
          }
          Queue.push_back(W);
        }
      }
      if (!Reached)
        continue;
      std::vector<unsigned> Path; // Edge ids, Source ... back to Source.
      for (unsigned V = Source; V != Target; V = Edges[Via[V]].From)
        Path.push_back(Via[V]);
      Path.push_back(First);
      std::reverse(Path.begin(), Path.end());
      // Path starts with First; canonical form starts with the least edge.
      std::vector<unsigned> Canonical = Path;
      std::rotate(Canonical.begin(),
                  std::min_element(Canonical.begin(), Canonical.end()),
                  Canonical.end());
      if (!Seen.insert(Canonical).second)
        continue;
      std::vector<unsigned> Witnesses;
      if (!chooseUngated(Path, Witnesses))
        continue; // Every choice shares a gate lock.
      Cycle Cy;
      for (size_t I = 0; I < Path.size(); ++I)
        Cy.push_back({Edges[Path[I]].From, Edges[Path[I]].To, Witnesses[I]});
      Result.push_back(std::move(Cy));
      ++Found;
    }
  }
  return Result;
}

// --- Facts files
// -----------------------------------------------------------------

static std::string absolutePath(const SourceManager &SM, FileID FID) {
  OptionalFileEntryRef Entry = SM.getFileEntryRefForID(FID);
  if (!Entry)
    return "";
  llvm::SmallString<256> Path(Entry->getFileEntry().tryGetRealPathName());
  if (Path.empty()) {
    Path = Entry->getName();
    llvm::sys::fs::make_absolute(Path);
  }
  llvm::sys::path::remove_dots(Path, true);
  return std::string(Path);
}

std::string mainFilePath(const SourceManager &SM) {
  return absolutePath(SM, SM.getMainFileID());
}

static std::vector<LockOrderFact::Step> resolvePath(const WitnessPath &Path,
                                                    const SourceManager &SM) {
  std::vector<LockOrderFact::Step> Steps;
  for (const WitnessStep &W : Path) {
    LockOrderFact::Step S;
    SourceLocation E = SM.getExpansionLoc(W.Loc);
    S.File = absolutePath(SM, SM.getFileID(E));
    S.Line = SM.getExpansionLineNumber(E);
    S.Column = SM.getExpansionColumnNumber(E);
    S.Callee = W.Callee;
    if (W.Function)
      S.Function = W.Function->getQualifiedNameAsString();
    Steps.push_back(std::move(S));
  }
  return Steps;
}

std::string functionLinkName(const FunctionDecl *FD) {
  std::string Id = FD->getQualifiedNameAsString() + "(";
  for (unsigned I = 0; I < FD->getNumParams(); ++I)
    Id += (I ? "," : "") +
          FD->getParamDecl(I)->getType().getCanonicalType().getAsString();
  Id += ")";
  if (const auto *MD = dyn_cast<CXXMethodDecl>(FD); MD && MD->isConst())
    Id += " const";
  return Id;
}

void collectCrossUnitFacts(AnalysisContext &Ctx,
                           llvm::ArrayRef<const FunctionDecl *> Functions,
                           LockOrderFacts &Out) {
  const SourceManager &SM = Ctx.AST.getSourceManager();
  for (const FunctionDecl *FD : Functions) {
    const FunctionResult &R = Ctx.analyze(FD);
    if (!R.Analyzed)
      continue;
    // A lambda or a file-local function is called from this unit only.
    bool Visible = FD->isExternallyVisible();
    if (const auto *MD = dyn_cast<CXXMethodDecl>(FD);
        MD && MD->getParent()->isLambda())
      Visible = false;
    std::string Self = Visible ? functionLinkName(FD) : "";
    // A caller needs each lock once: the first place it is taken.
    std::set<std::string> Taken;
    if (Visible)
      for (const TakeSite &T : R.Summary.TakeSites) {
        // A parameter stands for what each caller passes, which the merge
        // does not know; a `static` of this unit is still one object.
        const ObjectPath &P = Ctx.Paths.get(T.Lock);
        LockName N = lockName(P, Out.Unit);
        bool OfParam = P.Kind == ObjectPath::Param &&
                       llvm::none_of(P.Members, [](const ValueDecl *M) {
                         return M != nullptr;
                       });
        if (N.Key.empty() || OfParam ||
            isSuppressedByNolint(SM, T.Path.front().Loc, "ipc-lock-order") ||
            !Taken.insert(N.Key).second)
          continue;
        Out.Takes.push_back(
            {Self, N, Ctx.Paths.display(T.Lock), resolvePath(T.Path, SM)});
      }
    for (const OpaqueCall &C : R.OpaqueCalls) {
      if ((C.Held.empty() && !Visible) ||
          isSuppressedByNolint(SM, C.Loc, "ipc-lock-order"))
        continue;
      LockOrderCall Call;
      Call.Caller = Self;
      Call.Callee = functionLinkName(C.Callee);
      Call.CalleeShown = C.Callee->getNameAsString();
      Call.Site =
          resolvePath({WitnessStep{C.Loc, Call.CalleeShown, FD}}, SM).front();
      LockAcquisition At;
      At.Path = {WitnessStep{C.Loc, "", FD}};
      for (PathId H : C.Held) {
        LockName N = lockName(Ctx.Paths.get(H), Out.Unit);
        if (N.Key.empty())
          continue;
        Call.HeldLocks.push_back(
            {N, Ctx.Paths.display(H), resolvePath(heldSite(R, H, At, SM), SM)});
      }
      if (Call.HeldLocks.empty() && !Visible)
        continue;
      Out.Calls.push_back(std::move(Call));
    }
  }
}

LockOrderFact resolveEdge(const LockOrderEdge &Edge, const SourceManager &SM) {
  auto Resolve = [&](const WitnessPath &Path) { return resolvePath(Path, SM); };
  LockOrderFact F;
  F.From = Edge.From;
  F.To = Edge.To;
  F.FromShown = Edge.FromShown;
  F.ToShown = Edge.ToShown;
  F.Held = Resolve(Edge.Held);
  F.Acquired = Resolve(Edge.Acquired);
  F.Gate = Edge.Gate;
  return F;
}

static constexpr llvm::StringLiteral FactsFormat = "ipcheck-lock-order-facts";
static constexpr int FactsVersion = 1;
static constexpr llvm::StringLiteral FactsSuffix = ".lockorder.jsonl";

static llvm::json::Value stepsToJson(const std::vector<LockOrderFact::Step> &S,
                                     std::map<std::string, unsigned> &Files) {
  llvm::json::Array A;
  for (const LockOrderFact::Step &Step : S) {
    unsigned File = Files.try_emplace(Step.File, Files.size()).first->second;
    llvm::json::Object O{{"file", File},
                         {"line", Step.Line},
                         {"column", Step.Column},
                         {"function", Step.Function}};
    if (!Step.Callee.empty())
      O["callee"] = Step.Callee;
    A.push_back(std::move(O));
  }
  return A;
}

std::string lockOrderFactsFileName(llvm::StringRef Unit) {
  llvm::MD5 Hash;
  Hash.update(Unit);
  llvm::MD5::MD5Result Digest;
  Hash.final(Digest);
  return (llvm::sys::path::stem(Unit) + "-" +
          Digest.digest().str().substr(0, 16) + FactsSuffix)
      .str();
}

llvm::Error writeLockOrderFacts(llvm::StringRef Dir,
                                const LockOrderFacts &Facts) {
  if (std::error_code EC = llvm::sys::fs::create_directories(Dir))
    return llvm::createStringError(EC, "cannot create facts directory '%s'",
                                   Dir.str().c_str());
  std::map<std::string, unsigned> Files;
  std::map<std::string, std::string> Locks; // key -> name
  std::vector<llvm::json::Value> Edges;
  for (const LockOrderFact &F : Facts.Edges) {
    Locks[F.From.Key] = F.From.Name;
    Locks[F.To.Key] = F.To.Name;
    llvm::json::Array Gate;
    for (const std::string &G : F.Gate) {
      Gate.push_back(G);
      Locks.try_emplace(G, G);
    }
    Edges.push_back(
        llvm::json::Object{{"from", F.From.Key},
                           {"to", F.To.Key},
                           {"from_shown", F.FromShown},
                           {"to_shown", F.ToShown},
                           {"gate", std::move(Gate)},
                           {"held", stepsToJson(F.Held, Files)},
                           {"acquired", stepsToJson(F.Acquired, Files)}});
  }
  for (const LockOrderTake &T : Facts.Takes) {
    Locks[T.Lock.Key] = T.Lock.Name;
    Edges.push_back(llvm::json::Object{{"kind", "take"},
                                       {"function", T.Function},
                                       {"lock", T.Lock.Key},
                                       {"shown", T.Shown},
                                       {"path", stepsToJson(T.Path, Files)}});
  }
  for (const LockOrderCall &C : Facts.Calls) {
    llvm::json::Array Held;
    for (const LockOrderCall::Held &H : C.HeldLocks) {
      Locks[H.Lock.Key] = H.Lock.Name;
      Held.push_back(
          llvm::json::Object{{"lock", H.Lock.Key},
                             {"shown", H.Shown},
                             {"where", stepsToJson(H.Where, Files)}});
    }
    Edges.push_back(llvm::json::Object{{"kind", "call"},
                                       {"caller", C.Caller},
                                       {"callee", C.Callee},
                                       {"callee_shown", C.CalleeShown},
                                       {"site", stepsToJson({C.Site}, Files)},
                                       {"held", std::move(Held)}});
  }
  std::vector<std::string> FileNames(Files.size());
  for (const auto &[Path, Id] : Files)
    FileNames[Id] = Path;
  llvm::json::Array FileList;
  for (std::string &Path : FileNames)
    FileList.push_back(std::move(Path));
  llvm::json::Object LockNames;
  for (const auto &[Key, Name] : Locks)
    LockNames[Key] = Name;
  llvm::json::Object Header{{"format", FactsFormat},
                            {"version", FactsVersion},
                            {"unit", Facts.Unit},
                            {"reports_own_cycles", Facts.ReportsOwnCycles},
                            {"edges", int64_t(Facts.Edges.size())},
                            {"takes", int64_t(Facts.Takes.size())},
                            {"calls", int64_t(Facts.Calls.size())},
                            {"files", std::move(FileList)},
                            {"locks", std::move(LockNames)}};

  llvm::SmallString<256> Final(Dir);
  llvm::sys::path::append(Final, lockOrderFactsFileName(Facts.Unit));
  llvm::SmallString<256> Temp;
  int FD;
  if (std::error_code EC =
          llvm::sys::fs::createUniqueFile(Final + ".tmp-%%%%%%%%", FD, Temp))
    return llvm::createStringError(EC, "cannot write lock-order facts to '%s'",
                                   Dir.str().c_str());
  {
    llvm::raw_fd_ostream OS(FD, /*shouldClose=*/true);
    OS << llvm::json::Value(std::move(Header)) << "\n";
    for (llvm::json::Value &E : Edges)
      OS << E << "\n";
    OS.flush();
    if (OS.has_error()) {
      std::error_code EC = OS.error();
      OS.clear_error();
      llvm::sys::fs::remove(Temp);
      return llvm::createStringError(EC, "cannot write '%s'", Temp.c_str());
    }
  }
  if (std::error_code EC = llvm::sys::fs::rename(Temp, Final)) {
    llvm::sys::fs::remove(Temp);
    return llvm::createStringError(EC, "cannot rename '%s' to '%s'",
                                   Temp.c_str(), Final.c_str());
  }
  return llvm::Error::success();
}

static bool stepsFromJson(const llvm::json::Value *V,
                          const std::vector<std::string> &Files,
                          std::vector<LockOrderFact::Step> &Out,
                          std::string &Why) {
  const llvm::json::Array *A = V ? V->getAsArray() : nullptr;
  if (!A || A->empty()) {
    Why = "an edge has no steps";
    return false;
  }
  for (const llvm::json::Value &S : *A) {
    const llvm::json::Object *O = S.getAsObject();
    std::optional<int64_t> File = O ? O->getInteger("file") : std::nullopt;
    std::optional<int64_t> Line = O ? O->getInteger("line") : std::nullopt;
    std::optional<int64_t> Col = O ? O->getInteger("column") : std::nullopt;
    if (!File || !Line || !Col || *File < 0 || size_t(*File) >= Files.size() ||
        *Line < 0 || *Col < 0) {
      Why = "a step lacks a valid file, line or column";
      return false;
    }
    LockOrderFact::Step Step;
    Step.File = Files[*File];
    Step.Line = unsigned(*Line);
    Step.Column = unsigned(*Col);
    if (std::optional<llvm::StringRef> C = O->getString("callee"))
      Step.Callee = C->str();
    if (std::optional<llvm::StringRef> F = O->getString("function"))
      Step.Function = F->str();
    Out.push_back(std::move(Step));
  }
  return true;
}

/// One line of JSON, or what is wrong with it and at which column.
static std::optional<llvm::json::Value>
parseLine(llvm::StringRef Line, std::string &Column, std::string &What) {
  llvm::Expected<llvm::json::Value> V = llvm::json::parse(Line);
  if (V)
    return std::move(*V);
  // llvm::json says "[line:col, byte=N]: what"; the line is always 1 here.
  std::string Message = llvm::toString(V.takeError());
  llvm::StringRef M(Message);
  What = Message;
  if (M.consume_front("[")) {
    auto [Where, Said] = M.split("]: ");
    Column = ":" + Where.split(':').second.split(',').first.str();
    What = Said.str();
  }
  return std::nullopt;
}

llvm::Expected<LockOrderFacts> readLockOrderFacts(llvm::StringRef Path) {
  unsigned LineNo = 1;
  // clang's form, `<path>:<line>[:<col>]: error: ...`, for editors and CI.
  auto Fail = [&](const std::string &Why, const std::string &Column = "") {
    return llvm::createStringError(
        std::errc::invalid_argument,
        "%s:%u%s: error: invalid lock-order facts: %s", Path.str().c_str(),
        LineNo, Column.c_str(), Why.c_str());
  };
  auto Buffer = llvm::MemoryBuffer::getFile(Path);
  if (!Buffer) {
    return llvm::createStringError(
        Buffer.getError(), "%s: error: cannot read lock-order facts: %s",
        Path.str().c_str(), Buffer.getError().message().c_str());
  }
  llvm::StringRef Rest = (*Buffer)->getBuffer();
  auto NextLine = [&]() {
    auto [Line, After] = Rest.split('\n');
    Rest = After;
    return Line;
  };
  llvm::StringRef HeaderLine = NextLine();
  if (HeaderLine.trim().empty())
    return Fail("empty file, not ipcheck lock-order facts");
  std::string Column, What;
  std::optional<llvm::json::Value> Parsed = parseLine(HeaderLine, Column, What);
  if (!Parsed)
    return Fail("the header is not JSON: " + What, Column);
  const llvm::json::Object *Root = Parsed->getAsObject();
  if (!Root || Root->getString("format") != FactsFormat)
    return Fail("not an ipcheck lock-order facts file (no format \"" +
                FactsFormat.str() + "\")");
  std::optional<int64_t> Version = Root->getInteger("version");
  if (Version != FactsVersion)
    return Fail("unsupported version " +
                (Version ? std::to_string(*Version) : std::string("(none)")) +
                " (this ipcheck reads version " + std::to_string(FactsVersion) +
                "; export the facts again)");
  LockOrderFacts Facts;
  std::optional<llvm::StringRef> Unit = Root->getString("unit");
  std::optional<int64_t> Count = Root->getInteger("edges");
  const llvm::json::Array *FileList = Root->getArray("files");
  const llvm::json::Object *Locks = Root->getObject("locks");
  if (!Unit || !Count || *Count < 0 || !FileList || !Locks)
    return Fail("the header lacks 'unit', 'edges', 'files' or 'locks'");
  Facts.Unit = Unit->str();
  Facts.ReportsOwnCycles =
      Root->getBoolean("reports_own_cycles").value_or(false);
  std::vector<std::string> Files;
  for (const llvm::json::Value &F : *FileList) {
    std::optional<llvm::StringRef> S = F.getAsString();
    if (!S)
      return Fail("a file name is not a string");
    Files.push_back(S->str());
  }
  auto Name = [&](llvm::StringRef Key) {
    std::optional<llvm::StringRef> N = Locks->getString(Key);
    return LockName{Key.str(), N ? N->str() : Key.str()};
  };
  int64_t Takes = Root->getInteger("takes").value_or(0);
  int64_t Calls = Root->getInteger("calls").value_or(0);
  Facts.Edges.reserve(*Count);
  while (!Rest.empty()) {
    llvm::StringRef Line = NextLine();
    ++LineNo;
    if (Line.trim().empty())
      continue;
    std::optional<llvm::json::Value> EV = parseLine(Line, Column, What);
    if (!EV)
      return Fail("a truncated or corrupt line: " + What, Column);
    const llvm::json::Object *E = EV->getAsObject();
    std::optional<llvm::StringRef> Kind =
        E ? E->getString("kind") : std::nullopt;
    std::string Why;
    if (Kind == "take") {
      LockOrderTake T;
      std::optional<llvm::StringRef> Function = E->getString("function");
      std::optional<llvm::StringRef> Lock = E->getString("lock");
      if (!Function || !Lock || Lock->empty())
        return Fail("a take lacks 'function' or 'lock'");
      T.Function = Function->str();
      T.Lock = Name(*Lock);
      T.Shown = E->getString("shown").value_or(T.Lock.Name).str();
      if (!stepsFromJson(E->get("path"), Files, T.Path, Why))
        return Fail(Why);
      Facts.Takes.push_back(std::move(T));
      continue;
    }
    if (Kind == "call") {
      LockOrderCall C;
      std::optional<llvm::StringRef> Callee = E->getString("callee");
      std::vector<LockOrderFact::Step> Site;
      if (!Callee || !stepsFromJson(E->get("site"), Files, Site, Why))
        return Fail("a call lacks 'callee' or 'site'");
      C.Caller = E->getString("caller").value_or("").str();
      C.Callee = Callee->str();
      C.CalleeShown = E->getString("callee_shown").value_or(*Callee).str();
      C.Site = Site.front();
      if (const llvm::json::Array *Held = E->getArray("held"))
        for (const llvm::json::Value &HV : *Held) {
          const llvm::json::Object *H = HV.getAsObject();
          std::optional<llvm::StringRef> Lock =
              H ? H->getString("lock") : std::nullopt;
          if (!Lock || Lock->empty())
            return Fail("a call's held lock lacks 'lock'");
          LockOrderCall::Held Entry;
          Entry.Lock = Name(*Lock);
          Entry.Shown = H->getString("shown").value_or(Entry.Lock.Name).str();
          if (!stepsFromJson(H->get("where"), Files, Entry.Where, Why))
            return Fail(Why);
          C.HeldLocks.push_back(std::move(Entry));
        }
      Facts.Calls.push_back(std::move(C));
      continue;
    }
    if (Facts.Edges.size() == size_t(*Count))
      return Fail("more edges than the " + std::to_string(*Count) +
                  " the header announces");
    std::optional<llvm::StringRef> From =
        E ? E->getString("from") : std::nullopt;
    std::optional<llvm::StringRef> To = E ? E->getString("to") : std::nullopt;
    if (!From || !To || From->empty() || To->empty())
      return Fail("an edge lacks 'from' or 'to'");
    LockOrderFact F;
    F.From = Name(*From);
    F.To = Name(*To);
    F.FromShown = E->getString("from_shown").value_or(F.From.Name).str();
    F.ToShown = E->getString("to_shown").value_or(F.To.Name).str();
    if (const llvm::json::Array *Gate = E->getArray("gate"))
      for (const llvm::json::Value &G : *Gate)
        if (std::optional<llvm::StringRef> S = G.getAsString())
          F.Gate.push_back(S->str());
    if (!stepsFromJson(E->get("held"), Files, F.Held, Why) ||
        !stepsFromJson(E->get("acquired"), Files, F.Acquired, Why))
      return Fail(Why);
    Facts.Edges.push_back(std::move(F));
  }
  if (Facts.Edges.size() != size_t(*Count) ||
      Facts.Takes.size() != size_t(Takes) ||
      Facts.Calls.size() != size_t(Calls))
    return Fail("truncated: the header announces " + std::to_string(*Count) +
                " edges, " + std::to_string(Takes) + " takes and " +
                std::to_string(Calls) + " calls, the file has " +
                std::to_string(Facts.Edges.size()) + ", " +
                std::to_string(Facts.Takes.size()) + " and " +
                std::to_string(Facts.Calls.size()));
  return Facts;
}

llvm::Expected<std::vector<std::string>>
listLockOrderFacts(llvm::StringRef Dir) {
  if (!llvm::sys::fs::is_directory(Dir))
    return llvm::createStringError(std::errc::not_a_directory,
                                   "facts directory '%s' does not exist",
                                   Dir.str().c_str());
  std::vector<std::string> Paths;
  std::error_code EC;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC))
    if (llvm::StringRef(It->path()).ends_with(FactsSuffix))
      Paths.push_back(It->path());
  if (EC)
    return llvm::createStringError(EC, "cannot list facts directory '%s'",
                                   Dir.str().c_str());
  llvm::sort(Paths);
  return Paths;
}

// --- Text
// ------------------------------------------------------------------------

CycleText describeCycle(llvm::ArrayRef<CycleEdgeView> Edges,
                        llvm::ArrayRef<std::string> NodeNames) {
  CycleText T;
  std::string Loop;
  for (const std::string &N : NodeNames)
    Loop += "'" + N + "' -> ";
  Loop += "'" + NodeNames.front() + "'";
  const CycleEdgeView &First = Edges.front();
  std::string How = First.AcquiredCallees.front().empty()
                        ? "'" + First.ToShown + "' is acquired"
                        : "'" + First.ToShown + "' is acquired through '" +
                              First.AcquiredCallees.front() + "'";
  T.Message = "lock order cycle " + Loop + ": " + How + " while '" +
              First.FromShown + "' is held (potential deadlock)";
  for (unsigned E = 0; E < Edges.size(); ++E) {
    const CycleEdgeView &V = Edges[E];
    std::string X = "'" + V.FromShown + "'", Y = "'" + V.ToShown + "'";
    for (unsigned S = 0; S < V.HeldCallees.size(); ++S)
      T.Notes.push_back({E, true, S,
                         V.HeldCallees[S].empty()
                             ? X + " is acquired here"
                             : "'" + V.HeldCallees[S] +
                                   "' is called here and acquires " + X});
    for (unsigned S = 0; S < V.AcquiredCallees.size(); ++S) {
      const std::string &Callee = V.AcquiredCallees[S];
      if (E == 0 && S == 0) {
        T.PrimaryStep = T.Notes.size();
        continue;
      }
      std::string While = S == 0 ? " while " + X + " is held" : "";
      T.Notes.push_back({E, false, S,
                         Callee.empty() ? Y + " is acquired here" + While
                                        : "'" + Callee + "' is called here" +
                                              While + " and acquires " + Y});
    }
  }
  return T;
}

} // namespace ipcheck
