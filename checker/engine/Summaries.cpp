//===- Summaries.cpp - Memoized, on-demand function summaries -------------===//

#include "engine/FunctionAnalysis.h"
#include "engine/MainFile.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/Decl.h"
#include "clang/Basic/SourceManager.h"

using namespace clang;

namespace ipcheck {

AnalysisContext::AnalysisContext(ASTContext &Ctx, const ApiTable &Api)
    : AST(Ctx), Api(Api) {}
AnalysisContext::~AnalysisContext() = default;

const FunctionResult &AnalysisContext::analyze(const FunctionDecl *FD) {
  assert(FD && "analyzing a null function");
  const FunctionDecl *Def = FD;
  if (const FunctionDecl *D = FD->getDefinition())
    Def = D;
  auto It = Results.find(Def);
  if (It != Results.end())
    return *It->second;
  auto Result = std::make_unique<FunctionResult>();
  Result->Function = Def;
  InProgress.insert(Def);
  if (Def->hasBody() && !Def->isDependentContext())
    analyzeFunction(Def, *this, *Result);
  InProgress.erase(Def);
  return *Results.try_emplace(Def, std::move(Result)).first->second;
}

const ApiLockKind *AnalysisContext::lockKind(PathId Lock) const {
  const Decl *D = Paths.get(Lock).declaration();
  QualType T;
  if (const auto *FD = dyn_cast_or_null<FunctionDecl>(D))
    T = FD->getReturnType();
  else if (const auto *VD = dyn_cast_or_null<ValueDecl>(D))
    T = VD->getType();
  if (!T.isNull())
    if (const ApiLockKind *K = Api.lockKindOf(T))
      return K;
  return LockKinds.lookup(Lock);
}

bool AnalysisContext::isReportable(PathId Object) const {
  if (GenericObjects.count(Object) && !ObjectsUsedUnderLock.count(Object))
    return false;
  auto Field = FieldOfPath.find(Object);
  if (Field != FieldOfPath.end()) {
    const RecordDecl *Record = Field->second->getParent();
    // A lock beside the field and no evidence of what it guards: it guards all.
    if (RecordsWithLockMember.count(Record) &&
        !RecordsWithLockedAccess.count(Record))
      return true;
    return FieldsUsedUnderLock.count(Field->second) > 0;
  }
  const ObjectPath &P = Paths.get(Object);
  if (P.Kind != ObjectPath::Global || !P.Components.empty())
    return true;
  const auto *VD = dyn_cast_or_null<VarDecl>(P.Root);
  if (!VD || !VD->getType()->isScalarType())
    return true;
  return GlobalsUsedUnderLock.count(VD->getCanonicalDecl()) > 0;
}

const FunctionSummary *AnalysisContext::summaryFor(const FunctionDecl *Callee) {
  if (!Callee)
    return nullptr;
  const FunctionDecl *Def = Callee->getDefinition();
  if (!Def || !Def->hasBody() || Def->isDependentContext())
    return nullptr;
  // Summaries cover the code being checked: the main file. Library bodies are
  // either described by the tables or not the user's concern.
  const SourceManager &SM = AST.getSourceManager();
  if (!writtenInMainFile(Def, SM))
    return nullptr;
  // A recursive call sees no summary; so does a call chain deeper than any
  // hand-written code, which would otherwise exhaust the stack.
  if (InProgress.count(Def) || InProgress.size() > 48)
    return nullptr;
  const FunctionResult &R = analyze(Def);
  return R.Analyzed && !R.Summary.empty() ? &R.Summary : nullptr;
}

} // namespace ipcheck
