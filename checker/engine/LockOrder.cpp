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

static std::string functionName(const Decl *D) {
  const DeclContext *DC = D->getDeclContext();
  while (DC && !isa<FunctionDecl>(DC))
    DC = DC->getParent();
  if (const auto *FD = dyn_cast_or_null<FunctionDecl>(DC)) {
    // A lambda's variables belong to the function it is written in.
    if (const auto *MD = dyn_cast<CXXMethodDecl>(FD);
        MD && MD->getParent()->isLambda())
      return functionName(MD->getParent());
    return FD->getQualifiedNameAsString();
  }
  return "";
}

LockName lockName(const ObjectPath &P, llvm::StringRef Unit) {
  LockName N;
  int Last = -1;
  for (size_t I = 0; I < P.Components.size(); ++I)
    if (I < P.Members.size() && P.Members[I])
      Last = int(I);
  bool Local = false;
  if (Last >= 0) {
    const ValueDecl *Member = P.Members[Last];
    N.Name = ApiTable::qualifiedName(Member);
    if (isa<CXXMethodDecl>(Member))
      N.Name += "()";
    if (const auto *RD = dyn_cast<RecordDecl>(Member->getDeclContext()))
      Local = !RD->isExternallyVisible();
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
      if (P.Kind == ObjectPath::Global) {
        N.Name = ApiTable::qualifiedName(VD);
        if (VD->isStaticLocal())
          N.Name = functionName(VD) + "::" + N.Name;
        Local = !VD->isExternallyVisible();
      } else {
        // A local is one object in this file (lambdas capture it by
        // reference); its declaration's line tells same-named locals apart.
        N.Name = VD->getNameAsString();
        SourceManager &SM = VD->getASTContext().getSourceManager();
        N.Key = Unit.str() + "#" + functionName(VD) + "::" + N.Name + "@" +
                std::to_string(SM.getExpansionLineNumber(VD->getLocation()));
      }
      break;
    }
    case ObjectPath::Param:
      if (!P.Root)
        return N;
      N.Name = cast<NamedDecl>(P.Root)->getNameAsString();
      N.Key = Unit.str() + "#" + functionName(P.Root) + "(" + N.Name + ")";
      break;
    case ObjectPath::CallResult:
      if (const auto *FD = dyn_cast_or_null<FunctionDecl>(P.Root)) {
        N.Name = ApiTable::qualifiedName(FD) + "()";
        Local = !FD->isExternallyVisible();
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
  if (!N.Key.empty())
    N.Key += Rest;
  else if (Local)
    N.Key = Unit.str() + "#" + N.Name;
  else
    N.Key = N.Name;
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
                             std::vector<unsigned> Gate, unsigned Witness) {
  if (From == To)
    return;
  llvm::sort(Gate);
  Gate.erase(std::unique(Gate.begin(), Gate.end()), Gate.end());
  llvm::erase(Gate, From);
  auto [It, Inserted] = EdgeIds.try_emplace({From, To}, Edges.size());
  if (Inserted)
    Edges.push_back(Edge{From, To, {}});
  Edge &E = Edges[It->second];
  for (const Occurrence &O : E.Seen)
    if (O.Gate == Gate)
      return;
  // Enough distinct gate sets to find an ungated choice in practice.
  if (E.Seen.size() >= 8 && !Gate.empty())
    return;
  E.Seen.push_back(Occurrence{std::move(Gate), Witness});
}

bool LockOrderGraph::chooseUngated(const std::vector<unsigned> &CycleEdges,
                                   std::vector<unsigned> &Witnesses) const {
  // Depth-first over one occurrence per edge, keeping the locks common to the
  // choices so far; a choice whose common set is empty can deadlock.
  size_t Budget = 4096;
  std::vector<unsigned> Chosen(CycleEdges.size(), 0);
  std::function<bool(size_t, const std::vector<unsigned> *)> Search =
      [&](size_t I, const std::vector<unsigned> *Common) -> bool {
    if (Budget == 0)
      return false;
    --Budget;
    if (I == CycleEdges.size())
      return Common && Common->empty();
    const Edge &E = Edges[CycleEdges[I]];
    for (unsigned K = 0; K < E.Seen.size(); ++K) {
      std::vector<unsigned> Next;
      if (Common)
        std::set_intersection(Common->begin(), Common->end(),
                              E.Seen[K].Gate.begin(), E.Seen[K].Gate.end(),
                              std::back_inserter(Next));
      else
        Next = E.Seen[K].Gate;
      Chosen[I] = K;
      if (Next.empty()) { // Nothing in common already: the rest is free.
        for (size_t J = I + 1; J < CycleEdges.size(); ++J)
          Chosen[J] = 0;
        return true;
      }
      if (Search(I + 1, &Next))
        return true;
    }
    return false;
  };
  bool Found = Search(0, nullptr);
  if (!Found && Budget == 0) // Undecided: report rather than miss a deadlock.
    std::fill(Chosen.begin(), Chosen.end(), 0), Found = true;
  if (Found) {
    Witnesses.clear();
    for (size_t I = 0; I < CycleEdges.size(); ++I)
      Witnesses.push_back(Edges[CycleEdges[I]].Seen[Chosen[I]].Witness);
  }
  return Found;
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

LockOrderFact resolveEdge(const LockOrderEdge &Edge, const SourceManager &SM) {
  auto Resolve = [&](const WitnessPath &Path) {
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
  };
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

llvm::Error writeLockOrderFacts(llvm::StringRef Dir, llvm::StringRef Unit,
                                const std::vector<LockOrderFact> &Facts) {
  if (std::error_code EC = llvm::sys::fs::create_directories(Dir))
    return llvm::createStringError(EC, "cannot create facts directory '%s'",
                                   Dir.str().c_str());
  std::map<std::string, unsigned> Files;
  std::map<std::string, std::string> Locks; // key -> name
  llvm::json::Array Edges;
  for (const LockOrderFact &F : Facts) {
    Locks[F.From.Key] = F.From.Name;
    Locks[F.To.Key] = F.To.Name;
    llvm::json::Array Gate;
    for (const std::string &G : F.Gate)
      Gate.push_back(G);
    Edges.push_back(
        llvm::json::Object{{"from", F.From.Key},
                           {"to", F.To.Key},
                           {"from_shown", F.FromShown},
                           {"to_shown", F.ToShown},
                           {"gate", std::move(Gate)},
                           {"held", stepsToJson(F.Held, Files)},
                           {"acquired", stepsToJson(F.Acquired, Files)}});
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
  llvm::json::Object Root{{"format", FactsFormat},
                          {"version", FactsVersion},
                          {"unit", Unit},
                          {"files", std::move(FileList)},
                          {"locks", std::move(LockNames)},
                          {"edges", std::move(Edges)}};

  llvm::MD5 Hash;
  Hash.update(Unit);
  llvm::MD5::MD5Result Digest;
  Hash.final(Digest);
  llvm::SmallString<256> Final(Dir);
  llvm::sys::path::append(Final, llvm::sys::path::stem(Unit) + "-" +
                                     Digest.digest().str().substr(0, 16) +
                                     ".lockorder.json");
  llvm::SmallString<256> Temp;
  int FD;
  if (std::error_code EC =
          llvm::sys::fs::createUniqueFile(Final + ".tmp-%%%%%%%%", FD, Temp))
    return llvm::createStringError(EC, "cannot write lock-order facts to '%s'",
                                   Dir.str().c_str());
  {
    llvm::raw_fd_ostream OS(FD, /*shouldClose=*/true);
    OS << llvm::json::Value(std::move(Root)) << "\n";
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

llvm::Expected<std::vector<LockOrderFact>>
readLockOrderFacts(llvm::StringRef Path) {
  auto Fail = [&](const std::string &Why) {
    return llvm::createStringError(std::errc::invalid_argument,
                                   "cannot read lock-order facts '%s': %s",
                                   Path.str().c_str(), Why.c_str());
  };
  auto Buffer = llvm::MemoryBuffer::getFile(Path);
  if (!Buffer)
    return Fail(Buffer.getError().message());
  llvm::Expected<llvm::json::Value> Parsed =
      llvm::json::parse((*Buffer)->getBuffer());
  if (!Parsed)
    return Fail(llvm::toString(Parsed.takeError()));
  const llvm::json::Object *Root = Parsed->getAsObject();
  if (!Root || Root->getString("format") != FactsFormat)
    return Fail("not an ipcheck lock-order facts file");
  if (Root->getInteger("version") != FactsVersion)
    return Fail("unsupported version (expected " +
                std::to_string(FactsVersion) + ")");
  std::vector<std::string> Files;
  const llvm::json::Array *FileList = Root->getArray("files");
  const llvm::json::Object *Locks = Root->getObject("locks");
  const llvm::json::Array *Edges = Root->getArray("edges");
  if (!FileList || !Locks || !Edges)
    return Fail("missing 'files', 'locks' or 'edges'");
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
  std::vector<LockOrderFact> Facts;
  for (const llvm::json::Value &EV : *Edges) {
    const llvm::json::Object *E = EV.getAsObject();
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
    std::string Why;
    if (!stepsFromJson(E->get("held"), Files, F.Held, Why) ||
        !stepsFromJson(E->get("acquired"), Files, F.Acquired, Why))
      return Fail(Why);
    Facts.push_back(std::move(F));
  }
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
    if (llvm::StringRef(It->path()).ends_with(".lockorder.json"))
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
