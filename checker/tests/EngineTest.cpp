//===- EngineTest.cpp - Unit tests of the analysis engine -----------------===//

#include "engine/ApiTable.h"
#include "engine/Driver.h"
#include "engine/FunctionAnalysis.h"
#include "engine/LockOrder.h"
#include "engine/Reporter.h"

#include "clang/AST/ASTContext.h"
#include "clang/AST/Decl.h"
#include "clang/Frontend/ASTUnit.h"
#include "clang/Tooling/Tooling.h"
#include "gtest/gtest.h"
#include <functional>

using namespace clang;

namespace ipcheck {
namespace {

const char *const Table = R"(
library: test
locks:
  - { class: 'lib::Mutex' }
guards:
  - { class: 'lib::Guard' }
functions:
  - { name: 'lib::Mutex::lock', roles: [acquire] }
  - { name: 'lib::Mutex::unlock', roles: [release] }
  - { name: 'lib::Box::get', roles: [read] }
  - { name: 'lib::Box::put', roles: [write] }
)";

const char *const Header = R"(
namespace lib {
struct Mutex { void lock(); void unlock(); };
struct Guard { explicit Guard(Mutex&); ~Guard(); };
struct BoxBase { int get() const; };
struct Box : BoxBase { void put(int); };
}
)";

/// Parses \p Code after the test library's declarations and analyzes function
/// \p Name.
class EngineTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(static_cast<bool>(Api.loadText(Table, "test")));
  }

  const FunctionResult &analyze(const std::string &Code, llvm::StringRef Name) {
    Unit = tooling::buildASTFromCodeWithArgs(std::string(Header) + Code,
                                             {"-std=c++17"});
    EXPECT_TRUE(Unit);
    Context = std::make_unique<AnalysisContext>(Unit->getASTContext(), Api);
    for (Decl *D : Unit->getASTContext().getTranslationUnitDecl()->decls())
      if (auto *FD = dyn_cast<FunctionDecl>(D); FD && FD->getName() == Name)
        return Context->analyze(FD);
    ADD_FAILURE() << "no function " << Name.str();
    static FunctionResult Empty;
    return Empty;
  }

  ApiTable Api;
  std::unique_ptr<ASTUnit> Unit;
  std::unique_ptr<AnalysisContext> Context;
};

TEST_F(EngineTest, MethodsAreFoundThroughTheObjectsBaseClasses) {
  const FunctionResult &R =
      analyze("void f(lib::Box& b) { b.put(b.get()); }", "f");
  ASSERT_TRUE(R.Analyzed);
  ASSERT_EQ(R.Facts.size(), 1u);
  EXPECT_EQ(R.Facts[0].Api, "put");
  EXPECT_EQ(R.Facts[0].DataReads.size(), 1u);
}

TEST_F(EngineTest, AGuardProtectsUntilItsScopeEnds) {
  const FunctionResult &R = analyze(R"(
    lib::Mutex m;
    void f(lib::Box& b) {
      int n;
      { lib::Guard g(m); n = b.get(); }
      b.put(n);
    })",
                                    "f");
  ASSERT_EQ(R.Facts.size(), 2u);
  EXPECT_EQ(R.Facts[0].Api, "Guard")
      << "a guard's construction is an acquisition";
  EXPECT_EQ(R.Facts[0].Roles, unsigned(RoleAcquire));
  EXPECT_TRUE(R.Facts[1].HeldLocks.empty());
  EXPECT_EQ(R.Facts[1].DataReads.size(), 1u)
      << "the read is no longer protected at the put";
}

TEST_F(EngineTest, OneLockAcrossBothHalvesProtects) {
  const FunctionResult &R = analyze("lib::Mutex m; void f(lib::Box& b) { "
                                    "m.lock(); b.put(b.get()); m.unlock(); }",
                                    "f");
  ASSERT_EQ(R.Facts.size(), 3u); // lock, put, unlock
  for (const ActionFact &F : R.Facts)
    EXPECT_TRUE(F.DataReads.empty()) << F.Api;
}

TEST_F(EngineTest, BranchesDecideOnlyUntilTheyJoin) {
  const FunctionResult &R = analyze(R"(
    void log();
    void f(lib::Box& b) {
      if (b.get() > 0) b.put(1);
      b.put(2);
    })",
                                    "f");
  ASSERT_EQ(R.Facts.size(), 2u);
  EXPECT_EQ(R.Facts[0].ControlReads.size() + R.Facts[1].ControlReads.size(),
            1u);
}

TEST_F(EngineTest, DifferentObjectsHaveDifferentIdentities) {
  const FunctionResult &R = analyze(
      "void f(lib::Box& a, lib::Box& b) { if (a.get()) b.put(1); }", "f");
  ASSERT_EQ(R.Facts.size(), 1u);
  EXPECT_TRUE(R.Facts[0].ControlReads.empty());
}

TEST_F(EngineTest, SummariesCarryReadsToTheCaller) {
  const FunctionResult &R = analyze(R"(
    static int peek(lib::Box& b) { return b.get(); }
    void f(lib::Box& box) { box.put(peek(box) + 1); })",
                                    "f");
  ASSERT_EQ(R.Facts.size(), 1u);
  ASSERT_EQ(R.Facts[0].DataReads.size(), 1u);
  EXPECT_EQ(R.Reads.at(R.Facts[0].DataReads[0]).Api, "peek");
}

TEST_F(EngineTest, RecursionTerminates) {
  const FunctionResult &R = analyze(
      "void f(lib::Box& b, int n) { if (n) f(b, n - 1); b.put(b.get()); }",
      "f");
  EXPECT_TRUE(R.Analyzed);
}

/// The keys of the lock-order edges of every function of \p Code, as
/// `from -> to` lines, for the unit `/src/u.cpp`.
class LockOrderKeysTest : public EngineTest {
protected:
  std::vector<std::string> keys(const std::string &Code) {
    Unit = tooling::buildASTFromCodeWithArgs(std::string(Header) + Code,
                                             {"-std=c++17"});
    EXPECT_TRUE(Unit);
    Context = std::make_unique<AnalysisContext>(Unit->getASTContext(), Api);
    std::vector<const FunctionDecl *> Functions;
    std::function<void(const DeclContext *)> Collect =
        [&](const DeclContext *DC) {
          for (const Decl *D : DC->decls()) {
            if (const auto *FD = dyn_cast<FunctionDecl>(D); FD && FD->hasBody())
              Functions.push_back(FD);
            if (const auto *NS = dyn_cast<NamespaceDecl>(D))
              Collect(NS);
          }
        };
    Collect(Unit->getASTContext().getTranslationUnitDecl());
    std::vector<std::string> Keys;
    for (const LockOrderEdge &E :
         collectLockOrder(*Context, Functions, "/src/u.cpp"))
      Keys.push_back(E.From.Key + " -> " + E.To.Key);
    return Keys;
  }
};

TEST_F(LockOrderKeysTest, KeysAreNamesExceptWhatOnlyTheUnitCanName) {
  std::vector<std::string> Keys = keys(R"(
    namespace app {
    lib::Mutex g1, g2;
    static lib::Mutex s1;
    struct Account { lib::Mutex mu; };
    inline void shared_static() {
      static lib::Mutex sm; lib::Guard a(sm); lib::Guard b(g1);
    }
    void own_static() {
      static lib::Mutex sm; lib::Guard a(sm); lib::Guard b(g1);
    }
    void locals(Account &acct) {
      { lib::Mutex m; lib::Guard a(m); lib::Guard b(g2); }
      { lib::Mutex m; lib::Guard a(m); lib::Guard b(g2); }
      lib::Guard c(acct.mu); lib::Guard d(s1);
    }
    void locals(int) { lib::Mutex m; lib::Guard a(m); lib::Guard b(g2); }
    })");
  EXPECT_EQ(Keys, (std::vector<std::string>{
                      "app::shared_static()::sm -> app::g1",
                      "/src/u.cpp#app::own_static()::sm -> app::g1",
                      "/src/u.cpp#app::locals(Account &)::m -> app::g2",
                      "/src/u.cpp#app::locals(Account &)::m#2 -> app::g2",
                      "app::Account::mu -> /src/u.cpp#app::s1",
                      "/src/u.cpp#app::locals(int)::m -> app::g2",
                  }))
      << "a global or member by its qualified name; a static global, a "
         "local and a non-inline function's static local by the unit, the "
         "function's signature and the how-manieth of its name, no line";
}

TEST(LockOrderGraph, AUnitFormsACycleAloneOnlyWithItsOwnUngatedEdges) {
  // Unit 0 takes a -> b and b -> a, both inside gate c: no deadlock there.
  // Unit 1 takes b -> a with no gate: with unit 0's a -> b, a deadlock that
  // needs both units, which only the merge sees.
  LockOrderGraph G;
  unsigned A = G.node("a"), B = G.node("b"), C = G.node("c");
  G.addEdge(A, B, {C}, 0, /*Group=*/0);
  G.addEdge(B, A, {C}, 1, /*Group=*/0);
  G.addEdge(B, A, {}, 2, /*Group=*/1);
  std::vector<LockOrderGraph::Cycle> Cycles = G.cycles();
  ASSERT_EQ(Cycles.size(), 1u);
  std::vector<unsigned> Witnesses;
  for (const LockOrderGraph::CycleEdge &E : Cycles[0])
    Witnesses.push_back(E.Witness);
  llvm::sort(Witnesses);
  EXPECT_EQ(Witnesses, (std::vector<unsigned>{0, 2}))
      << "the witnesses are a choice with no lock in common";
  auto Every = [](unsigned) { return true; };
  EXPECT_FALSE(G.ungatedWithinOneGroup(Cycles[0], Every));

  G.addEdge(A, B, {}, 3, /*Group=*/1); // Now unit 1 has the whole cycle.
  Cycles = G.cycles();
  ASSERT_EQ(Cycles.size(), 1u);
  EXPECT_TRUE(G.ungatedWithinOneGroup(Cycles[0], Every));
  EXPECT_FALSE(G.ungatedWithinOneGroup(Cycles[0], [](unsigned Group) {
    return Group != 1;
  })) << "a unit that does not report its own cycles leaves them to the merge";
}

TEST(GlobList, LastMatchWinsAsInClangTidy) {
  GlobList G("*,-ipc-*,ipc-check-then-act");
  EXPECT_TRUE(G.contains("ipc-check-then-act"));
  EXPECT_FALSE(G.contains("ipc-nonatomic-update"));
  EXPECT_TRUE(G.contains("other"));
}

TEST(Fingerprint, IgnoresWhitespaceButNotTheCheck) {
  EXPECT_EQ(fingerprint("c", "f.cpp", "  q.get();", "fn", "m"),
            fingerprint("c", "f.cpp", "q.get();  ", "fn", "m"));
  EXPECT_NE(fingerprint("c", "f.cpp", "q.get();", "fn", "m"),
            fingerprint("d", "f.cpp", "q.get();", "fn", "m"));
}

TEST(ApiTable, RejectsUnknownRoles) {
  ApiTable T;
  llvm::Error E = T.loadText(
      "library: x\nfunctions:\n  - { name: f, roles: [fly] }\n", "x");
  EXPECT_TRUE(static_cast<bool>(E));
  llvm::consumeError(std::move(E));
}

TEST(ApiTable, ShippedTablesLoad) {
  ApiTable T;
  EXPECT_FALSE(static_cast<bool>(T.loadDirectory(IPCHECK_SOURCE_API_DIR)));
  EXPECT_NE(T.lookupName("mp::Queue::get"), nullptr);
  EXPECT_NE(T.lookupName("pthread_mutex_lock"), nullptr);
  EXPECT_NE(T.lookupName("std::atomic::fetch_add"), nullptr);
  EXPECT_NE(T.lookupName("boost::interprocess::message_queue::receive"),
            nullptr);
}

TEST(ApiTable, ReadsWaitAndReentrancyAttributes) {
  ApiTable T;
  ASSERT_FALSE(static_cast<bool>(T.loadText(R"(
library: acme
locks:
  - { class: 'acme::Mutex', reentrant_when: [ACME_RECURSIVE] }
  - { class: 'acme::Sem', counting: true }
guards:
  - { class: 'acme::ReaderGuard', shared: true }
functions:
  - { name: 'acme::Chan::get', roles: [block], block_flag: 0, timeout: 1 }
  - { name: 'acme::Chan::get_for', roles: [timed_block] }
  - { name: 'acme_mutex_init', roles: [init], attr: 1 }
  - { name: 'acme::Mutex::lock_shared', roles: [acquire], shared: true }
)",
                                            "acme")));
  const ApiFunction *Get = T.lookupName("acme::Chan::get");
  ASSERT_NE(Get, nullptr);
  EXPECT_EQ(Get->BlockFlagArg, 0);
  EXPECT_EQ(Get->TimeoutArg, 1);
  EXPECT_EQ(T.lookupName("acme::Chan::get_for")->Roles,
            unsigned(RoleTimedBlock));
  EXPECT_EQ(T.lookupName("acme_mutex_init")->AttrArg, 1);
  EXPECT_TRUE(T.lookupName("acme::Mutex::lock_shared")->Shared);
  EXPECT_TRUE(T.lookupLockKindName("acme::Sem")->Counting);
  EXPECT_EQ(T.lookupLockKindName("acme::Mutex")->ReentrantWhen,
            std::vector<std::string>{"ACME_RECURSIVE"});
  EXPECT_FALSE(T.lookupLockKindName("acme::Mutex")->Reentrant);
}

TEST(RunConfig, CheckOptionsAreValidated) {
  RunConfig Config;
  EXPECT_FALSE(static_cast<bool>(
      Config.setCheckOption("ipc-blocking-under-lock.StrictTimeouts=true")));
  for (const char *Bad : {"ipc-blocking-under-lock.StrictTimeouts=yes",
                          "ipc-blocking-under-lock.NoSuchOption=true",
                          "ipc-no-such-check.StrictTimeouts=true",
                          "ipc-blocking-under-lock.StrictTimeouts", "=true",
                          "ipc-check-then-act.StrictTimeouts=true"}) {
    llvm::Error E = Config.setCheckOption(Bad);
    EXPECT_TRUE(static_cast<bool>(E)) << Bad;
    llvm::consumeError(std::move(E));
  }
}

} // namespace
} // namespace ipcheck
