//===- ApiTable.cpp - Loading and querying the API tables -----------------===//

#include "engine/ApiTable.h"

#include "clang/AST/DeclCXX.h"
#include "clang/AST/DeclTemplate.h"
#include "clang/AST/ExprCXX.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/YAMLTraits.h"
#include <dlfcn.h>

using namespace clang;

namespace {
struct YamlFunction {
  std::string Name;
  std::vector<std::string> Roles;
  std::string Object;
  int Result = -1;
  int Lock = -1;
  int Timeout = -1;
  int BlockFlag = -1;
  int Attr = -1;
  bool Shared = false;
};
struct YamlLockKind {
  std::string Class;
  bool Reentrant = false;
  bool Counting = false;
  std::vector<std::string> ReentrantWhen;
};
struct YamlGuard {
  std::string Class;
  std::vector<std::string> Lock;
  std::vector<std::string> Unlock;
  bool Shared = false;
};
struct YamlTable {
  std::string Library;
  std::vector<YamlLockKind> Locks;
  std::vector<YamlGuard> Guards;
  std::vector<YamlFunction> Functions;
};
} // namespace

LLVM_YAML_IS_SEQUENCE_VECTOR(YamlFunction)
LLVM_YAML_IS_SEQUENCE_VECTOR(YamlLockKind)
LLVM_YAML_IS_SEQUENCE_VECTOR(YamlGuard)

namespace llvm {
namespace yaml {
template <> struct MappingTraits<YamlFunction> {
  static void mapping(IO &Io, YamlFunction &F) {
    Io.mapRequired("name", F.Name);
    Io.mapRequired("roles", F.Roles);
    Io.mapOptional("object", F.Object);
    Io.mapOptional("result", F.Result);
    Io.mapOptional("lock", F.Lock);
    Io.mapOptional("timeout", F.Timeout);
    Io.mapOptional("block_flag", F.BlockFlag);
    Io.mapOptional("attr", F.Attr);
    Io.mapOptional("shared", F.Shared);
  }
};
template <> struct MappingTraits<YamlLockKind> {
  static void mapping(IO &Io, YamlLockKind &L) {
    Io.mapRequired("class", L.Class);
    Io.mapOptional("reentrant", L.Reentrant);
    Io.mapOptional("counting", L.Counting);
    Io.mapOptional("reentrant_when", L.ReentrantWhen);
  }
};
template <> struct MappingTraits<YamlGuard> {
  static void mapping(IO &Io, YamlGuard &G) {
    Io.mapRequired("class", G.Class);
    Io.mapOptional("lock", G.Lock);
    Io.mapOptional("unlock", G.Unlock);
    Io.mapOptional("shared", G.Shared);
  }
};
template <> struct MappingTraits<YamlTable> {
  static void mapping(IO &Io, YamlTable &T) {
    Io.mapRequired("library", T.Library);
    Io.mapOptional("locks", T.Locks);
    Io.mapOptional("guards", T.Guards);
    Io.mapOptional("functions", T.Functions);
  }
};
} // namespace yaml
} // namespace llvm

namespace ipcheck {

static std::optional<ApiRole> parseRole(llvm::StringRef Name) {
  return llvm::StringSwitch<std::optional<ApiRole>>(Name)
      .Case("acquire", RoleAcquire)
      .Case("try_acquire", RoleTryAcquire)
      .Case("release", RoleRelease)
      .Case("block", RoleBlock)
      .Case("read", RoleRead)
      .Case("write", RoleWrite)
      .Case("rmw", RoleAtomicRMW)
      .Case("cas", RoleCompareExchange)
      .Case("reference", RoleReference)
      .Case("lock_of", RoleLockOf)
      .Case("wait", RoleWait)
      .Case("fetch", RoleFetch)
      .Case("writeback", RoleWriteBack)
      .Case("timed_block", RoleTimedBlock)
      .Case("init", RoleInit)
      .Case("ready", RoleReady)
      .Case("start", RoleStart)
      .Case("start_workers", RoleStartWorkers)
      .Case("main_guard", RoleMainGuard)
      .Case("join", RoleJoin)
      .Case("detach", RoleDetach)
      .Case("async", RoleAsync)
      .Case("collect", RoleCollect)
      .Case("close", RoleClose)
      .Case("terminate", RoleTerminate)
      .Default(std::nullopt);
}

llvm::Error ApiTable::loadText(llvm::StringRef Text, llvm::StringRef Name) {
  YamlTable Table;
  llvm::yaml::Input In(Text);
  In >> Table;
  if (In.error())
    return llvm::createStringError(In.error(), "cannot parse API table '%s'",
                                   Name.str().c_str());
  for (const YamlFunction &F : Table.Functions) {
    ApiFunction Fn;
    Fn.Name = F.Name;
    Fn.Library = Table.Library;
    for (const std::string &R : F.Roles) {
      std::optional<ApiRole> Role = parseRole(R);
      if (!Role)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "API table '%s': unknown role '%s' for '%s'", Name.str().c_str(),
            R.c_str(), F.Name.c_str());
      Fn.Roles |= *Role;
    }
    if (F.Object == "all")
      Fn.Object = ObjectAllArgs;
    else if (!F.Object.empty() && F.Object != "this" &&
             llvm::StringRef(F.Object).getAsInteger(10, Fn.Object))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "API table '%s': bad object '%s' for '%s'",
                                     Name.str().c_str(), F.Object.c_str(),
                                     F.Name.c_str());
    LibraryRoles[Table.Library] |= Fn.Roles;
    Fn.ResultArg = F.Result;
    Fn.LockArg = F.Lock;
    Fn.TimeoutArg = F.Timeout;
    Fn.BlockFlagArg = F.BlockFlag;
    Fn.AttrArg = F.Attr;
    Fn.Shared = F.Shared;
    llvm::StringRef Qualified(Fn.Name);
    size_t Sep = Qualified.rfind("::");
    if (Sep != llvm::StringRef::npos)
      Classes.insert(Qualified.substr(0, Sep));
    Functions[Fn.Name] = std::move(Fn);
  }
  for (const YamlGuard &G : Table.Guards)
    Guards[G.Class] = ApiGuard{G.Class, G.Lock, G.Unlock, G.Shared};
  for (const YamlLockKind &L : Table.Locks)
    LockKinds[L.Class] =
        ApiLockKind{L.Class, L.Reentrant, L.Counting, L.ReentrantWhen};
  Libraries.push_back(Table.Library);
  DeclCache.clear();
  return llvm::Error::success();
}

llvm::Error ApiTable::loadFile(llvm::StringRef Path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> Buffer =
      llvm::MemoryBuffer::getFile(Path);
  if (!Buffer)
    return llvm::createStringError(
        Buffer.getError(), "cannot read API table '%s'", Path.str().c_str());
  return loadText((*Buffer)->getBuffer(), Path);
}

llvm::Error ApiTable::loadDirectory(llvm::StringRef Dir) {
  std::error_code EC;
  std::vector<std::string> Files;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC))
    if (llvm::sys::path::extension(It->path()) == ".yaml")
      Files.push_back(It->path());
  if (EC)
    return llvm::createStringError(EC, "cannot list API tables in '%s'",
                                   Dir.str().c_str());
  llvm::sort(Files);
  for (const std::string &F : Files)
    if (llvm::Error E = loadFile(F))
      return E;
  return llvm::Error::success();
}

std::string ApiTable::qualifiedName(const Decl *D) {
  llvm::SmallVector<llvm::StringRef, 6> Parts;
  std::string Own;
  if (isa<CXXConversionDecl>(D)) {
    Own = "operator T"; // Tables name conversions independently of the type.
  } else if (const auto *ND = dyn_cast<NamedDecl>(D)) {
    Own = ND->getDeclName().isIdentifier() ? ND->getName().str()
                                           : ND->getNameAsString();
  }
  for (const DeclContext *DC = D->getDeclContext(); DC; DC = DC->getParent()) {
    if (const auto *NS = dyn_cast<NamespaceDecl>(DC)) {
      if (NS->isInline() || NS->isAnonymousNamespace())
        continue;
      Parts.push_back(NS->getName());
    } else if (const auto *RD = dyn_cast<RecordDecl>(DC)) {
      if (RD->getIdentifier())
        Parts.push_back(RD->getName());
      else if (const TypedefNameDecl *TD = RD->getTypedefNameForAnonDecl())
        Parts.push_back(TD->getName());
    }
  }
  std::string Result;
  for (auto It = Parts.rbegin(); It != Parts.rend(); ++It) {
    Result += *It;
    Result += "::";
  }
  if (Own.empty())
    if (const auto *RD = dyn_cast<RecordDecl>(D))
      if (const TypedefNameDecl *TD = RD->getTypedefNameForAnonDecl())
        Own = TD->getName().str();
  return Result + Own;
}

const ApiFunction *ApiTable::lookupName(llvm::StringRef QualifiedName) const {
  auto It = Functions.find(QualifiedName);
  return It == Functions.end() ? nullptr : &It->second;
}

const ApiFunction *ApiTable::lookupMethod(const CXXRecordDecl *Class,
                                          llvm::StringRef Method,
                                          unsigned Depth) const {
  if (!Class || Depth > 6)
    return nullptr;
  if (const ApiFunction *F =
          lookupName(qualifiedName(Class) + "::" + Method.str()))
    return F;
  if (!Class->hasDefinition())
    return nullptr;
  for (const CXXBaseSpecifier &Base : Class->bases())
    if (const ApiFunction *F = lookupMethod(
            Base.getType()->getAsCXXRecordDecl(), Method, Depth + 1))
      return F;
  return nullptr;
}

static const CXXRecordDecl *recordOf(QualType T) {
  if (T.isNull())
    return nullptr;
  T = T.getNonReferenceType();
  if (const auto *PT = T->getAs<PointerType>())
    T = PT->getPointeeType();
  return T->getAsCXXRecordDecl();
}

const ApiFunction *ApiTable::lookup(const CallExpr *Call) const {
  const FunctionDecl *FD = Call->getDirectCallee();
  if (!FD)
    return nullptr;
  const auto *MD = dyn_cast<CXXMethodDecl>(FD);
  if (!MD) {
    auto It = DeclCache.find(FD);
    if (It != DeclCache.end())
      return It->second;
    if (FD->getIdentifier() && Functions.empty())
      return nullptr;
    const ApiFunction *F = lookupName(qualifiedName(FD));
    DeclCache[FD] = F;
    return F;
  }
  const Expr *Object = nullptr;
  if (const auto *MC = dyn_cast<CXXMemberCallExpr>(Call))
    Object = MC->getImplicitObjectArgument();
  else if (const auto *OC = dyn_cast<CXXOperatorCallExpr>(Call);
           OC && OC->getNumArgs() > 0)
    Object = OC->getArg(0);
  std::string Method = isa<CXXConversionDecl>(MD) ? std::string("operator T")
                       : MD->getDeclName().isIdentifier()
                           ? MD->getName().str()
                           : MD->getNameAsString();
  // The object's own class, before any conversion to the base that declares the
  // method.
  const CXXRecordDecl *ObjectClass =
      Object ? recordOf(Object->IgnoreParenImpCasts()->getType()) : nullptr;
  if (ObjectClass && ObjectClass != MD->getParent())
    if (const ApiFunction *F = lookupMethod(ObjectClass, Method, 0))
      return F;
  auto It = DeclCache.find(FD);
  if (It != DeclCache.end())
    return It->second;
  const ApiFunction *F = lookupMethod(MD->getParent(), Method, 0);
  DeclCache[FD] = F;
  return F;
}

const ApiFunction *ApiTable::lookup(const CXXConstructExpr *Construct) const {
  const CXXConstructorDecl *Ctor = Construct->getConstructor();
  if (!Ctor || Ctor->isCopyOrMoveConstructor() || Functions.empty())
    return nullptr;
  auto It = DeclCache.find(Ctor);
  if (It != DeclCache.end())
    return It->second;
  const ApiFunction *F = lookupName(qualifiedName(Ctor));
  DeclCache[Ctor] = F;
  return F;
}

bool ApiTable::knowsClass(const CXXRecordDecl *Class) const {
  if (!Class)
    return false;
  if (Classes.count(qualifiedName(Class)))
    return true;
  if (!Class->hasDefinition())
    return false;
  for (const CXXBaseSpecifier &Base : Class->bases())
    if (knowsClass(Base.getType()->getAsCXXRecordDecl()))
      return true;
  return false;
}

const ApiGuard *ApiTable::lookupGuard(const CXXRecordDecl *Class) const {
  if (!Class)
    return nullptr;
  auto It = Guards.find(qualifiedName(Class));
  return It == Guards.end() ? nullptr : &It->second;
}

const ApiLockKind *ApiTable::lookupLockKindName(llvm::StringRef Name) const {
  auto It = LockKinds.find(Name);
  return It == LockKinds.end() ? nullptr : &It->second;
}

const ApiLockKind *ApiTable::lookupLockKind(const CXXRecordDecl *Class) const {
  return Class ? lookupLockKindName(qualifiedName(Class)) : nullptr;
}

static const ApiLockKind *lockKindOfRecord(const ApiTable &Api,
                                           const CXXRecordDecl *Class,
                                           unsigned Depth) {
  if (!Class || Depth > 6)
    return nullptr;
  if (const ApiLockKind *K = Api.lookupLockKind(Class))
    return K;
  if (!Class->hasDefinition())
    return nullptr;
  for (const CXXBaseSpecifier &Base : Class->bases())
    if (const ApiLockKind *K = lockKindOfRecord(
            Api, Base.getType()->getAsCXXRecordDecl(), Depth + 1))
      return K;
  return nullptr;
}

const ApiLockKind *ApiTable::lockKindOf(QualType T) const {
  if (T.isNull() || LockKinds.empty())
    return nullptr;
  T = T.getNonReferenceType();
  if (const auto *PT = T->getAs<PointerType>())
    T = PT->getPointeeType();
  // C types are known by their typedef (`pthread_mutex_t`, `sem_t`): walk the
  // sugar down to the record.
  QualType Cur = T;
  for (unsigned Depth = 0; Depth < 8; ++Depth) {
    const auto *TT = Cur->getAs<TypedefType>();
    if (!TT)
      break;
    if (const ApiLockKind *K = lookupLockKindName(TT->getDecl()->getName()))
      return K;
    Cur = TT->desugar();
  }
  return lockKindOfRecord(*this, T->getAsCXXRecordDecl(), 0);
}

std::string defaultApiDirectory(void *AddressInBinary) {
  Dl_info Info;
  if (AddressInBinary && dladdr(AddressInBinary, &Info) && Info.dli_fname) {
    llvm::SmallString<256> Binary;
    if (!llvm::sys::fs::real_path(Info.dli_fname, Binary)) {
      llvm::StringRef Dir = llvm::sys::path::parent_path(Binary);
      for (int Up = 0; Up < 3 && !Dir.empty(); ++Up) {
        Dir = llvm::sys::path::parent_path(Dir);
        llvm::SmallString<256> Candidate(Dir);
        llvm::sys::path::append(Candidate, IPCHECK_INSTALL_API_DIR);
        if (llvm::sys::fs::is_directory(Candidate))
          return std::string(Candidate);
      }
    }
  }
  return IPCHECK_SOURCE_API_DIR;
}

} // namespace ipcheck
