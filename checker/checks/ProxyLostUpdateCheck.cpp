//===- ProxyLostUpdateCheck.cpp - ipc-proxy-lost-update -------------------===//

#include "checks/ProxyLostUpdateCheck.h"
#include "engine/LocalObjects.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/DeclCXX.h"
#include "clang/AST/DeclTemplate.h"
#include "clang/AST/ExprCXX.h"
#include "clang/AST/ParentMap.h"
#include "clang/AST/StmtCXX.h"
#include "clang/Basic/SourceManager.h"
#include "clang/Lex/Lexer.h"
#include <map>
#include <set>

using namespace clang;

namespace ipcheck {
namespace {

/// The proxy a fetch or write-back is made through, and the call's own
/// arguments (the key), whether it is a method call or an operator.
struct ProxyCall {
  const Expr *Proxy = nullptr;
  llvm::SmallVector<const Expr *, 4> Args;
};

ProxyCall proxyCallOf(const CallExpr *Call) {
  ProxyCall P;
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call)) {
    P.Proxy = MC->getImplicitObjectArgument();
    P.Args.append(MC->arg_begin(), MC->arg_end());
  } else if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call);
             OC && OC->getNumArgs() > 0 &&
             isa<CXXMethodDecl>(OC->getCalleeDecl())) {
    P.Proxy = OC->getArg(0);
    P.Args.append(OC->arg_begin() + 1, OC->arg_end());
  }
  return P;
}

/// The arguments of a call as passed to its parameters: the object of a
/// member operator is not one.
llvm::SmallVector<std::pair<const Expr *, const ParmVarDecl *>, 4>
argumentsOf(const CallExpr *Call) {
  llvm::SmallVector<std::pair<const Expr *, const ParmVarDecl *>, 4> Out;
  const FunctionDecl *FD = Call->getDirectCallee();
  unsigned Skip = 0;
  if (isa<CXXOperatorCallExpr>(Call) && FD && isa<CXXMethodDecl>(FD))
    Skip = 1;
  for (unsigned I = Skip; I < Call->getNumArgs(); ++I) {
    unsigned P = I - Skip;
    Out.push_back({Call->getArg(I), FD && P < FD->getNumParams()
                                        ? FD->getParamDecl(P)
                                        : nullptr});
  }
  return Out;
}

bool isNonConstLValueRef(QualType T) {
  if (const auto *R = T->getAs<LValueReferenceType>())
    return !R->getPointeeType().isConstQualified();
  if (const auto *P = T->getAs<PointerType>())
    return !P->getPointeeType().isConstQualified() &&
           !P->getPointeeType()->isFunctionType();
  return false;
}

/// Whether \p E is the variable \p V itself, not a reference into it.
bool namesItself(const Expr *E, const ValueDecl *V) {
  const auto *DRE = dyn_cast_or_null<DeclRefExpr>(stripTemporaries(E));
  return DRE && V && DRE->getDecl() == V;
}

struct Copy {
  const CallExpr *Fetch = nullptr;
  std::set<const Stmt *> Changes;
  bool operator==(const Copy &O) const {
    return Fetch == O.Fetch && Changes == O.Changes;
  }
};

using State = std::map<const ValueDecl *, Copy>;

struct Change {
  SourceLocation Loc;
  std::string What;
};

class LostUpdateAnalyzer {
public:
  LostUpdateAnalyzer(const FunctionDecl *FD, AnalysisContext &Ctx,
                     llvm::StringRef CheckName, std::vector<Finding> &Findings,
                     llvm::DenseMap<std::pair<const FunctionDecl *, unsigned>,
                                    bool> &WriteBackMemo)
      : FD(FD), Ctx(Ctx), Locals(FD), CheckName(CheckName), Findings(Findings),
        WriteBackMemo(WriteBackMemo) {}

  void run();

private:
  unsigned roles(const CallExpr *Call) const {
    const ApiFunction *F = Ctx.Api.lookup(Call);
    return F ? F->Roles : 0;
  }
  bool isFetch(const Expr *E) const {
    const auto *Call = dyn_cast_or_null<CallExpr>(stripTemporaries(E));
    return Call && (roles(Call) & RoleFetch) && Call->getType()->isRecordType();
  }
  const CallExpr *fetchOf(const Expr *E) const {
    return isFetch(E) ? cast<CallExpr>(stripTemporaries(E)) : nullptr;
  }
  bool writesBackParam(const FunctionDecl *Callee, unsigned Index,
                       unsigned Depth);
  void sourcesOf(const Expr *E,
                 llvm::SmallVectorImpl<const ValueDecl *> &Out) const;

  void transfer(const CFGElement &E, State &St, bool Final);
  void transferStmt(const Stmt *S, State &St, bool Final);
  void transferCall(const CallExpr *Call, State &St, bool Final);
  void changed(const ValueDecl *V, const Stmt *Site, SourceLocation Loc,
               std::string What, State &St);
  void moveInto(const ValueDecl *From, const ValueDecl *To, State &St);
  void directChange(const Expr *Object, const Stmt *Site, SourceLocation Loc,
                    llvm::StringRef What, bool Final);
  void died(const ValueDecl *V, SourceLocation Where, State &St, bool Final);
  void report(const ValueDecl *V, const Copy &C, SourceLocation Where);
  std::string text(const Expr *E) const;
  std::string proxyName(const Expr *Proxy) const;
  std::string apiName(const CallExpr *Call) const;
  std::string writeBackMethod(const CallExpr *Fetch, unsigned Args) const;
  bool hasMethod(const Expr *Proxy, llvm::StringRef Name) const;
  std::optional<FixItHint> writeBackFix(const ValueDecl *V, const Copy &C);

  const FunctionDecl *FD;
  AnalysisContext &Ctx;
  LocalObjects Locals;
  llvm::StringRef CheckName;
  std::vector<Finding> &Findings;
  llvm::DenseMap<std::pair<const FunctionDecl *, unsigned>, bool>
      &WriteBackMemo;
  std::map<const Stmt *, Change> Changes;
  std::set<const ValueDecl *> WrittenBack;
  std::set<std::pair<const ValueDecl *, const Stmt *>> Reported;
  std::set<const Stmt *> ReportedDirect;
  std::unique_ptr<ParentMap> Parents;
};

std::string LostUpdateAnalyzer::text(const Expr *E) const {
  const SourceManager &SM = Ctx.AST.getSourceManager();
  CharSourceRange R = CharSourceRange::getTokenRange(E->getSourceRange());
  if (E->getBeginLoc().isMacroID() || E->getEndLoc().isMacroID())
    return "";
  return Lexer::getSourceText(R, SM, Ctx.AST.getLangOpts()).str();
}

std::string LostUpdateAnalyzer::proxyName(const Expr *Proxy) const {
  PathId P = Ctx.Paths.pathOf(Proxy, Ctx.Api);
  if (P != UnknownPath)
    return Ctx.Paths.display(P);
  std::string T = text(Proxy);
  return T.empty() ? "the proxy" : T;
}

std::string LostUpdateAnalyzer::apiName(const CallExpr *Call) const {
  const FunctionDecl *Callee = Call->getDirectCallee();
  return Callee ? Callee->getNameAsString() : "call";
}

bool LostUpdateAnalyzer::hasMethod(const Expr *Proxy,
                                   llvm::StringRef Name) const {
  const CXXRecordDecl *RD = Proxy->getType()->getPointeeCXXRecordDecl();
  if (!RD)
    RD = Proxy->getType()->getAsCXXRecordDecl();
  if (!RD)
    return false;
  for (const Decl *D : RD->decls())
    if (const auto *ND = dyn_cast<NamedDecl>(D))
      if (ND->getIdentifier() && ND->getName() == Name)
        return true;
  return false;
}

/// The name of the proxy's write-back method that takes the fetch's arguments
/// and the value (`set` for `get(k)`), or empty.
std::string LostUpdateAnalyzer::writeBackMethod(const CallExpr *Fetch,
                                                unsigned Args) const {
  ProxyCall P = proxyCallOf(Fetch);
  const CXXRecordDecl *RD = P.Proxy->getType()->getPointeeCXXRecordDecl();
  if (!RD)
    RD = P.Proxy->getType()->getAsCXXRecordDecl();
  if (!RD)
    return "";
  for (const Decl *D : RD->decls()) {
    const FunctionDecl *M = nullptr;
    if (const auto *FT = dyn_cast<FunctionTemplateDecl>(D))
      M = FT->getTemplatedDecl();
    else
      M = dyn_cast<CXXMethodDecl>(D);
    if (!M || !M->getIdentifier() || M->getNumParams() != Args + 1)
      continue;
    const ApiFunction *F = Ctx.Api.lookupName(ApiTable::qualifiedName(M));
    if (F && (F->Roles & RoleWriteBack))
      return M->getName().str();
  }
  return "";
}

bool LostUpdateAnalyzer::writesBackParam(const FunctionDecl *Callee,
                                         unsigned Index, unsigned Depth) {
  if (!Callee)
    return false;
  const FunctionDecl *Def = Callee->getDefinition();
  if (!Def || !Def->hasBody() || Index >= Def->getNumParams() || Depth > 4)
    return false;
  auto Key = std::make_pair(Def, Index);
  auto It = WriteBackMemo.find(Key);
  if (It != WriteBackMemo.end())
    return It->second;
  WriteBackMemo[Key] = false; // Recursion sees no write-back.
  const ParmVarDecl *Param = Def->getParamDecl(Index);
  LocalObjects L(Def);
  bool Found = false;
  llvm::SmallVector<const Stmt *, 32> Work{Def->getBody()};
  while (!Work.empty() && !Found) {
    const Stmt *S = Work.pop_back_val();
    if (!S)
      continue;
    if (const auto *Call = dyn_cast<CallExpr>(S)) {
      bool WB = roles(Call) & RoleWriteBack;
      auto Args = argumentsOf(Call);
      for (unsigned I = 0; I < Args.size() && !Found; ++I) {
        llvm::SmallVector<const ValueDecl *, 2> Sources;
        sourcesOf(Args[I].first, Sources);
        for (const ValueDecl *Src : Sources)
          if (L.resolve(Src) == Param &&
              (WB || writesBackParam(Call->getDirectCallee(), I, Depth + 1)))
            Found = true;
      }
    }
    for (const Stmt *Child : S->children())
      Work.push_back(Child);
  }
  WriteBackMemo[Key] = Found;
  return Found;
}

/// The locals whose value \p E carries: `v`, `std::move(v)`, `{k, v}`,
/// `Wrapper{v}`.
void LostUpdateAnalyzer::sourcesOf(
    const Expr *E, llvm::SmallVectorImpl<const ValueDecl *> &Out) const {
  if (!E)
    return;
  E = stripTemporaries(E);
  if (const auto *CE = dyn_cast<CXXConstructExpr>(E)) {
    for (const Expr *A : CE->arguments())
      sourcesOf(A, Out);
    return;
  }
  if (const auto *IL = dyn_cast<InitListExpr>(E)) {
    for (const Expr *A : IL->inits())
      sourcesOf(A, Out);
    return;
  }
  if (const auto *SIL = dyn_cast<CXXStdInitializerListExpr>(E)) {
    sourcesOf(SIL->getSubExpr(), Out);
    return;
  }
  if (const auto *Call = dyn_cast<CallExpr>(E); Call && isCastLikeCall(Call)) {
    sourcesOf(Call->getArg(0), Out);
    return;
  }
  // Only the whole object carries its changes: a member or an element copied
  // out does not.
  if (const auto *DRE = dyn_cast<DeclRefExpr>(E))
    if (const ValueDecl *V = Locals.ownerOf(DRE))
      Out.push_back(V);
}

void LostUpdateAnalyzer::changed(const ValueDecl *V, const Stmt *Site,
                                 SourceLocation Loc, std::string What,
                                 State &St) {
  auto It = St.find(V);
  if (It == St.end())
    return;
  It->second.Changes.insert(Site);
  Changes.try_emplace(Site, Change{Loc, std::move(What)});
}

void LostUpdateAnalyzer::moveInto(const ValueDecl *From, const ValueDecl *To,
                                  State &St) {
  auto It = St.find(From);
  if (It == St.end() || From == To)
    return;
  Copy C = It->second;
  St.erase(It);
  if (!To || !LocalObjects::ownsObject(To))
    return; // Handed to code outside: not followed.
  Copy &Into = St[To];
  if (!Into.Fetch)
    Into.Fetch = C.Fetch;
  Into.Changes.insert(C.Changes.begin(), C.Changes.end());
}

void LostUpdateAnalyzer::directChange(const Expr *Object, const Stmt *Site,
                                      SourceLocation Loc, llvm::StringRef What,
                                      bool Final) {
  const CallExpr *Fetch = fetchOf(LocalObjects::rootExpr(Object));
  if (!Final || !Fetch || !ReportedDirect.insert(Site).second)
    return;
  ProxyCall P = proxyCallOf(Fetch);
  if (!P.Proxy)
    return;
  std::string Proxy = proxyName(P.Proxy);
  Finding F;
  F.Check = std::string(CheckName);
  F.Loc = Loc;
  F.Function = FD;
  F.Message = "'" + What.str() + "' changes a temporary copy fetched from '" +
              Proxy + "' by '" + apiName(Fetch) + "': the change is lost";
  std::string WB = writeBackMethod(Fetch, P.Args.size());
  std::string Advice =
      WB.empty() ? "change a local copy and write it back"
                 : "change a local copy and write it back with '" + WB + "'";
  if (hasMethod(P.Proxy, "update_with"))
    Advice += ", or change the value in the manager with 'update_with'";
  FindingNote N{Fetch->getExprLoc(), Advice, {}};
  // A suggestion, not applied by -fixit (it belongs to a note): the local copy
  // and the write-back around the statement.
  F.Notes.push_back(std::move(N));
  Findings.push_back(std::move(F));
}

void LostUpdateAnalyzer::transferCall(const CallExpr *Call, State &St,
                                      bool Final) {
  if (isCastLikeCall(Call))
    return; // `std::move(x)`: where the result goes decides.
  unsigned Roles = roles(Call);
  auto Args = argumentsOf(Call);
  if (Roles & RoleWriteBack) {
    ProxyCall P = proxyCallOf(Call);
    PathId Target = P.Proxy ? Ctx.Paths.pathOf(P.Proxy, Ctx.Api) : UnknownPath;
    for (auto [Arg, Param] : Args) {
      llvm::SmallVector<const ValueDecl *, 2> Sources;
      sourcesOf(Arg, Sources);
      for (const ValueDecl *V : Sources) {
        auto It = St.find(V);
        if (It == St.end())
          continue;
        ProxyCall Origin = proxyCallOf(It->second.Fetch);
        PathId From = Origin.Proxy ? Ctx.Paths.pathOf(Origin.Proxy, Ctx.Api)
                                   : UnknownPath;
        if (Target == UnknownPath || From == UnknownPath || Target == From) {
          It->second.Changes.clear();
          WrittenBack.insert(V);
        }
      }
    }
    return;
  }
  if (Roles)
    return; // Other proxy and library calls neither change nor keep the copy.

  // The object of a member call or member operator.
  const Expr *Object = nullptr;
  const CXXMethodDecl *Method = nullptr;
  SourceLocation Loc = Call->getExprLoc();
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call)) {
    Object = MC->getImplicitObjectArgument();
    Method = MC->getMethodDecl();
  } else if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call);
             OC && OC->getNumArgs() > 0) {
    Method = dyn_cast_or_null<CXXMethodDecl>(OC->getDirectCallee());
    if (Method)
      Object = OC->getArg(0);
    Loc = OC->getOperatorLoc();
  }
  const ValueDecl *Owner = Object ? Locals.ownerOf(Object) : nullptr;
  bool WholeObject = Object && Owner && namesItself(Object, Owner);

  // `v = d.get(k)` fetches anew; `v = w` takes over what `w` carries; any
  // other assignment replaces the copy with a value of the function's own.
  if (Method && WholeObject &&
      (Method->isCopyAssignmentOperator() ||
       Method->isMoveAssignmentOperator()) &&
      !Args.empty()) {
    if (const CallExpr *Fetch = fetchOf(Args[0].first)) {
      if (LocalObjects::ownsObject(Owner))
        St[Owner] = Copy{Fetch, {}};
      return;
    }
    llvm::SmallVector<const ValueDecl *, 2> Sources;
    sourcesOf(Args[0].first, Sources);
    St.erase(Owner);
    for (const ValueDecl *V : Sources)
      moveInto(V, Owner, St);
    return;
  }

  // `++it` moves an iterator; it changes nothing it points to.
  bool Mutating = Method && isMutatingMethod(Method) && !namesIterator(Object);
  if (Mutating) {
    std::string What = Method->getNameAsString();
    if (Owner)
      changed(Owner, Call, Loc, What, St);
    else
      directChange(Object, Call, Loc, What, Final);
  }

  for (unsigned I = 0; I < Args.size(); ++I) {
    auto [Arg, Param] = Args[I];
    llvm::SmallVector<const ValueDecl *, 2> Sources;
    sourcesOf(Arg, Sources);
    for (const ValueDecl *V : Sources) {
      if (!St.count(V) || V == Owner)
        continue;
      if (writesBackParam(Call->getDirectCallee(), I, 0)) {
        St[V].Changes.clear();
        WrittenBack.insert(V);
        continue;
      }
      if (Mutating) {
        // `w.push_back(std::move(v))`: `w` carries the copy on.
        moveInto(V, Owner, St);
        continue;
      }
      QualType PT = Param ? Param->getType() : QualType();
      if (isFreeAccessor(Call))
        continue; // `std::get<1>(pair)`: what is done with the result decides.
      if (!PT.isNull() && isNonConstLValueRef(PT)) {
        const FunctionDecl *Callee = Call->getDirectCallee();
        changed(V, Call, Arg->getExprLoc(),
                Callee ? Callee->getNameAsString() : "call", St);
      } else if ((!PT.isNull() && PT->isRValueReferenceType()) ||
                 (isa<CallExpr>(stripTemporaries(Arg)) &&
                  isCastLikeCall(cast<CallExpr>(stripTemporaries(Arg))))) {
        St.erase(V); // Moved into code the function does not see.
      }
    }
  }
}

void LostUpdateAnalyzer::transferStmt(const Stmt *S, State &St, bool Final) {
  if (const auto *DS = dyn_cast<DeclStmt>(S)) {
    for (const Decl *D : DS->decls()) {
      const auto *VD = dyn_cast<VarDecl>(D);
      if (!VD || !VD->getInit() || !LocalObjects::ownsObject(VD) ||
          Locals.resolve(VD) != VD)
        continue; // References and iterators into objects are not copies.
      St.erase(VD);
      if (const CallExpr *Fetch = fetchOf(VD->getInit())) {
        if (!VD->getType().getNonReferenceType().isConstQualified())
          St[VD] = Copy{Fetch, {}};
        continue;
      }
      llvm::SmallVector<const ValueDecl *, 2> Sources;
      sourcesOf(VD->getInit(), Sources);
      for (const ValueDecl *V : Sources)
        if (V != VD)
          moveInto(V, VD, St);
    }
    return;
  }
  if (const auto *Call = dyn_cast<CallExpr>(S)) {
    transferCall(Call, St, Final);
    return;
  }
  if (const auto *CE = dyn_cast<CXXConstructExpr>(S)) {
    // Arguments by non-const reference to a constructor change them.
    const CXXConstructorDecl *Ctor = CE->getConstructor();
    for (unsigned I = 0;
         Ctor && I < CE->getNumArgs() && I < Ctor->getNumParams(); ++I)
      if (isNonConstLValueRef(Ctor->getParamDecl(I)->getType()))
        if (const ValueDecl *V = Locals.ownerOf(CE->getArg(I)))
          changed(V, CE, CE->getArg(I)->getExprLoc(),
                  Ctor->getParent()->getNameAsString(), St);
    return;
  }
  if (const auto *BO = dyn_cast<BinaryOperator>(S)) {
    if (!BO->isAssignmentOp())
      return;
    const ValueDecl *Owner = Locals.ownerOf(BO->getLHS());
    bool Whole = namesItself(BO->getLHS(), Owner);
    if (namesIterator(BO->getLHS()))
      Owner = nullptr;
    if (Owner && !Whole)
      changed(Owner, BO, BO->getOperatorLoc(), BO->getOpcodeStr().str(), St);
    llvm::SmallVector<const ValueDecl *, 2> Sources;
    sourcesOf(BO->getRHS(), Sources);
    for (const ValueDecl *V : Sources)
      if (V != Owner)
        moveInto(V, Whole ? Owner : nullptr, St);
    return;
  }
  if (const auto *UO = dyn_cast<UnaryOperator>(S)) {
    if (!UO->isIncrementDecrementOp())
      return;
    const ValueDecl *Owner = Locals.ownerOf(UO->getSubExpr());
    if (Owner && !namesItself(UO->getSubExpr(), Owner) &&
        !namesIterator(UO->getSubExpr()))
      changed(Owner, UO, UO->getOperatorLoc(),
              UnaryOperator::getOpcodeStr(UO->getOpcode()).str(), St);
    return;
  }
  if (const auto *RS = dyn_cast<ReturnStmt>(S)) {
    llvm::SmallVector<const ValueDecl *, 2> Sources;
    sourcesOf(RS->getRetValue(), Sources);
    for (const ValueDecl *V : Sources)
      St.erase(V); // The caller has it now.
    return;
  }
  if (const auto *LE = dyn_cast<LambdaExpr>(S)) {
    for (const LambdaCapture &C : LE->captures())
      if (C.capturesVariable() && C.getCaptureKind() == LCK_ByRef)
        St.erase(Locals.resolve(C.getCapturedVar()));
    return;
  }
}

void LostUpdateAnalyzer::died(const ValueDecl *V, SourceLocation Where,
                              State &St, bool Final) {
  auto It = St.find(V);
  if (It == St.end())
    return;
  if (Final && !It->second.Changes.empty())
    report(V, It->second, Where);
  St.erase(It);
}

void LostUpdateAnalyzer::transfer(const CFGElement &E, State &St, bool Final) {
  if (auto S = E.getAs<CFGStmt>()) {
    transferStmt(S->getStmt(), St, Final);
    return;
  }
  if (const VarDecl *V = endedVariable(E))
    died(V, scopeExitLocation(E), St, Final);
}

std::optional<FixItHint> LostUpdateAnalyzer::writeBackFix(const ValueDecl *V,
                                                          const Copy &C) {
  const auto *VD = dyn_cast<VarDecl>(V);
  if (!VD || VD->isImplicit() || !VD->getIdentifier())
    return std::nullopt;
  ProxyCall P = proxyCallOf(C.Fetch);
  if (!P.Proxy)
    return std::nullopt;
  std::string Method = writeBackMethod(C.Fetch, P.Args.size());
  std::string Proxy = text(P.Proxy);
  if (Method.empty() || (Proxy.empty() && !isa<CXXThisExpr>(P.Proxy)))
    return std::nullopt;
  std::string Call = Proxy.empty() ? Method : Proxy + "." + Method;
  if (P.Proxy->getType()->isPointerType())
    Call = Proxy + "->" + Method;
  Call += "(";
  for (const Expr *A : P.Args) {
    std::string T = text(A);
    if (T.empty())
      return std::nullopt;
    Call += T + ", ";
  }
  Call += VD->getName().str() + ");";

  // After the statement, in the copy's own block, that holds the last change.
  const SourceManager &SM = Ctx.AST.getSourceManager();
  const Stmt *Last = nullptr;
  for (const Stmt *S : C.Changes)
    if (!Last ||
        SM.isBeforeInTranslationUnit(Last->getBeginLoc(), S->getBeginLoc()))
      Last = S;
  if (!Parents)
    Parents = std::make_unique<ParentMap>(FD->getBody());
  const Stmt *Scope = nullptr;
  for (const Stmt *S = Parents->getParent(Last); S; S = Parents->getParent(S))
    if (const auto *DS = dyn_cast<DeclStmt>(S);
        DS && llvm::is_contained(DS->decls(), VD)) {
      Scope = Parents->getParent(DS);
      break;
    }
  // The declaring block is an ancestor of every use; find it from the decl.
  if (!Scope) {
    std::function<const Stmt *(const Stmt *)> Find =
        [&](const Stmt *S) -> const Stmt * {
      if (!S)
        return nullptr;
      if (const auto *DS = dyn_cast<DeclStmt>(S))
        if (llvm::is_contained(DS->decls(), VD))
          return Parents->getParent(DS);
      for (const Stmt *Child : S->children())
        if (const Stmt *R = Find(Child))
          return R;
      return nullptr;
    };
    Scope = Find(FD->getBody());
  }
  if (!Scope || !isa<CompoundStmt>(Scope))
    return std::nullopt;
  const Stmt *Top = Last;
  while (Top && Parents->getParent(Top) != Scope)
    Top = Parents->getParent(Top);
  if (!Top || Top->getEndLoc().isMacroID())
    return std::nullopt;
  const LangOptions &LO = Ctx.AST.getLangOpts();
  // Past the semicolon that ends the statement, if it has one outside its
  // range (an expression statement, a loop whose body is one).
  SourceLocation After =
      Lexer::findLocationAfterToken(Top->getEndLoc(), tok::semi, SM, LO,
                                    /*SkipTrailingWhitespaceAndNewLine=*/false);
  if (After.isInvalid())
    After = Lexer::getLocForEndOfToken(Top->getEndLoc(), 0, SM, LO);
  if (After.isInvalid())
    return std::nullopt;
  // The indentation of the statement it follows.
  std::pair<FileID, unsigned> Pos =
      SM.getDecomposedLoc(SM.getExpansionLoc(Top->getBeginLoc()));
  llvm::StringRef Buffer = SM.getBufferData(Pos.first);
  unsigned LineStart = Pos.second;
  while (LineStart > 0 && Buffer[LineStart - 1] != '\n')
    --LineStart;
  unsigned Indent = LineStart;
  while (Indent < Buffer.size() &&
         (Buffer[Indent] == ' ' || Buffer[Indent] == '\t'))
    ++Indent;
  return FixItHint::CreateInsertion(
      After, "\n" + Buffer.substr(LineStart, Indent - LineStart).str() + Call);
}

void LostUpdateAnalyzer::report(const ValueDecl *V, const Copy &C,
                                SourceLocation Where) {
  const SourceManager &SM = Ctx.AST.getSourceManager();
  const Stmt *First = nullptr;
  for (const Stmt *S : C.Changes)
    if (!First ||
        SM.isBeforeInTranslationUnit(Changes[S].Loc, Changes[First].Loc))
      First = S;
  if (!First || !Reported.insert({V, First}).second)
    return;
  ProxyCall P = proxyCallOf(C.Fetch);
  std::string Proxy = P.Proxy ? proxyName(P.Proxy) : "the proxy";
  const Change &Ch = Changes[First];
  Finding F;
  F.Check = std::string(CheckName);
  F.Loc = Ch.Loc;
  F.Function = FD;
  bool Named = !V->isImplicit() && V->getIdentifier();
  if (!Named) {
    F.Message = "'" + Ch.What +
                "' changes an element of a temporary copy fetched from '" +
                Proxy + "' by '" + apiName(C.Fetch) + "': the change is lost";
    F.Notes.push_back({C.Fetch->getExprLoc(),
                       "the copy is fetched here and is never written back",
                       {}});
    Findings.push_back(std::move(F));
    return;
  }
  std::string Name = V->getNameAsString();
  F.Message = "'" + Ch.What + "' changes '" + Name +
              "', a copy fetched from '" + Proxy + "' by '" + apiName(C.Fetch) +
              "', which is " +
              (WrittenBack.count(V) ? "not written back on every path"
                                    : "never written back");
  F.Notes.push_back({C.Fetch->getExprLoc(),
                     "'" + Name + "' is fetched from '" + Proxy + "' here",
                     {}});
  if (Where.isValid())
    F.Notes.push_back(
        {Where,
         "'" + Name + "' goes out of scope here without being written back",
         {}});
  if (std::optional<FixItHint> Fix = writeBackFix(V, C))
    F.Fixes.push_back(std::move(*Fix));
  Findings.push_back(std::move(F));
}

void LostUpdateAnalyzer::run() {
  std::unique_ptr<CFG> G = buildLifetimeCFG(FD, Ctx.AST);
  if (!G)
    return;
  auto InState = [&](const CFGBlock *B, const std::vector<State> &Out) {
    State In;
    for (auto P = B->pred_begin(); P != B->pred_end(); ++P)
      if (const CFGBlock *Pred = P->getReachableBlock())
        for (const auto &[V, C] : Out[Pred->getBlockID()]) {
          Copy &Into = In[V];
          if (!Into.Fetch)
            Into.Fetch = C.Fetch;
          Into.Changes.insert(C.Changes.begin(), C.Changes.end());
        }
    return In;
  };
  std::vector<State> Out = forwardFixedPoint<State>(
      *G, [&](const CFGBlock *B, const std::vector<State> &Out) {
        State St = InState(B, Out);
        for (const CFGElement &E : *B)
          transfer(E, St, /*Final=*/false);
        return St;
      });
  // One final pass reports, from the fixed point.
  const CFGBlock &Exit = G->getExit();
  for (const CFGBlock *B : reversePostOrder(*G)) {
    State St = InState(B, Out);
    for (const CFGElement &E : *B)
      transfer(E, St, /*Final=*/true);
    bool ToExit = false;
    for (auto S = B->succ_begin(); S != B->succ_end(); ++S)
      ToExit |= S->getReachableBlock() == &Exit;
    if (ToExit)
      for (auto &[V, C] : St)
        if (!C.Changes.empty())
          report(V, C, exitLocation(B));
  }
}

bool mentionsFetch(const Stmt *S, const ApiTable &Api) {
  if (!S)
    return false;
  if (const auto *Call = dyn_cast<CallExpr>(S))
    if (const ApiFunction *F = Api.lookup(Call); F && (F->Roles & RoleFetch))
      return true;
  for (const Stmt *Child : S->children())
    if (mentionsFetch(Child, Api))
      return true;
  return false;
}

} // namespace

void ProxyLostUpdateCheck::checkTranslationUnit(
    AnalysisContext &Ctx, llvm::ArrayRef<const FunctionDecl *> Functions,
    std::vector<Finding> &Findings) {
  llvm::DenseMap<std::pair<const FunctionDecl *, unsigned>, bool> Memo;
  for (const FunctionDecl *FD : Functions)
    if (FD->hasBody() && mentionsFetch(FD->getBody(), Ctx.Api))
      LostUpdateAnalyzer(FD, Ctx, name(), Findings, Memo).run();
}

} // namespace ipcheck
