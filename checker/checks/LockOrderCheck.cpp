//===- LockOrderCheck.cpp - ipc-lock-order --------------------------------===//

#include "checks/LockOrderCheck.h"
#include "engine/LockOrder.h"

#include "clang/AST/ASTContext.h"
#include "clang/Basic/SourceManager.h"

namespace ipcheck {

void LockOrderCheck::checkTranslationUnit(
    AnalysisContext &Ctx, llvm::ArrayRef<const clang::FunctionDecl *> Functions,
    std::vector<Finding> &Findings) {
  const clang::SourceManager &SM = Ctx.AST.getSourceManager();
  std::vector<LockOrderEdge> Edges =
      collectLockOrder(Ctx, Functions, mainFilePath(SM));
  LockOrderGraph Graph;
  // Where two edges are seen with the same gate, the shorter witness is kept.
  std::vector<unsigned> Order(Edges.size());
  for (unsigned I = 0; I < Order.size(); ++I)
    Order[I] = I;
  llvm::sort(Order, [&](unsigned A, unsigned B) {
    return std::make_pair(Edges[A].Held.size() + Edges[A].Acquired.size(), A) <
           std::make_pair(Edges[B].Held.size() + Edges[B].Acquired.size(), B);
  });
  for (unsigned I : Order) {
    const LockOrderEdge &E = Edges[I];
    std::vector<unsigned> Gate;
    for (const std::string &G : E.Gate)
      Gate.push_back(Graph.node(G));
    Graph.addEdge(Graph.node(E.From.Key), Graph.node(E.To.Key), Gate, I);
  }
  for (LockOrderGraph::Cycle &Cycle : Graph.cycles()) {
    // Reported at the acquisition that comes last in the file: reading from
    // the top, that is where the order seen so far is inverted.
    size_t Primary = 0;
    for (size_t I = 1; I < Cycle.size(); ++I)
      if (SM.isBeforeInTranslationUnit(
              Edges[Cycle[Primary].Witness].Acquired.front().Loc,
              Edges[Cycle[I].Witness].Acquired.front().Loc))
        Primary = I;
    std::rotate(Cycle.begin(), Cycle.begin() + Primary, Cycle.end());
    std::vector<CycleEdgeView> Views;
    std::vector<std::string> Names;
    for (const LockOrderGraph::CycleEdge &CE : Cycle) {
      const LockOrderEdge &E = Edges[CE.Witness];
      CycleEdgeView V{E.FromShown, E.ToShown, {}, {}};
      for (const WitnessStep &S : E.Held)
        V.HeldCallees.push_back(S.Callee);
      for (const WitnessStep &S : E.Acquired)
        V.AcquiredCallees.push_back(S.Callee);
      Views.push_back(std::move(V));
      Names.push_back(E.From.Name);
    }
    CycleText Text = describeCycle(Views, Names);
    const LockOrderEdge &First = Edges[Cycle.front().Witness];
    Finding F;
    F.Check = std::string(name());
    F.Loc = First.Acquired.front().Loc;
    F.Function = First.Acquired.front().Function;
    F.Message = Text.Message;
    F.PrimaryStep = Text.PrimaryStep;
    for (const CycleText::Note &N : Text.Notes) {
      const LockOrderEdge &E = Edges[Cycle[N.Edge].Witness];
      const WitnessStep &S = N.HeldSide ? E.Held[N.Step] : E.Acquired[N.Step];
      FindingNote Note;
      Note.Loc = S.Loc;
      Note.Message = N.Message;
      Note.Flow = N.Edge;
      F.Notes.push_back(std::move(Note));
    }
    Findings.push_back(std::move(F));
  }
}

} // namespace ipcheck
