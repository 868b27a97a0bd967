// mp::Process under every start method: the behaviours CPython's test_multiprocessing checks
// for processes (lifecycle, exit codes, join timeouts, sentinels, names, arguments).
#include "mp/process.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mp/connection.h"
#include "mp/detail/segment.h"
#include "mp/errors.h"
#include "proc_self.h"

namespace mp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Fork {
  static constexpr auto kTag = kFork;
};
struct Spawn {
  static constexpr auto kTag = kSpawn;
};
struct Thread {
  static constexpr auto kTag = kThread;
};
struct Forkserver {
  static constexpr auto kTag = kForkserver;
};

struct ModeNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, Fork>) return "Fork";
    if constexpr (std::is_same_v<T, Spawn>) return "Spawn";
    if constexpr (std::is_same_v<T, Forkserver>) return "Forkserver";
    return "Thread";
  }
};

template <class Mode>
class ProcessTest : public testing::Test {
 protected:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
  static constexpr bool kIsThread = std::is_same_v<Mode, Thread>;
  // Spawn and forkserver children are fresh images: plain-function targets only.
  static constexpr bool kIsSpawn = std::is_same_v<Mode, Spawn> || std::is_same_v<Mode, Forkserver>;
  static constexpr bool kIsForkserver = std::is_same_v<Mode, Forkserver>;
};

using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(ProcessTest, Modes, ModeNames);

// ---- targets (plain functions, so that spawn can find them) ----

void do_nothing() {}
void exit_with(int code) { std::exit(code); }
void throw_runtime_error(std::string message) { throw std::runtime_error(message); }
// exit(code) in a process, a plain return in a thread (where exit would end the program).
void exit_with_or_return(int code) {
  if (current_process().pid != parent_process()->pid) std::exit(code);
}
void sleep_for_seconds(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}
void raise_signal(int sig) { std::raise(sig); }

struct Job {
  std::string title;
  std::vector<int> weights;
  double factor = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(title, weights, factor);
  }
};

void check_arguments(const std::string& text, std::vector<int> numbers, Job job, int n) {
  bool ok = text == "hello" && numbers == std::vector<int>{1, 2, 3} && job.title == "build" &&
            job.weights == std::vector<int>{7, 8} && job.factor == 1.5 && n == 42;
  if (!ok) throw std::runtime_error("arguments did not arrive intact");
}

void store_in_segment(detail::SegmentRef ref, int value) {
  static_cast<std::atomic<int>*>(ref.data())->store(value);
}

void check_identity(std::string expected_name, bool expected_daemon) {
  ProcessInfo me = current_process();
  if (me.name != expected_name) throw std::runtime_error("name is " + me.name);
  if (me.daemon != expected_daemon) throw std::runtime_error("daemon flag is wrong");
  auto parent = parent_process();
  if (!parent) throw std::runtime_error("no parent process");
  if (parent->name != "MainProcess") throw std::runtime_error("parent is " + parent->name);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- lifecycle and exit codes ----

TYPED_TEST(ProcessTest, ExitCodeIsZeroWhenTargetReturns) {
  auto p = this->ctx().Process(do_nothing);
  EXPECT_FALSE(p.exitcode().has_value());
  p.start();
  EXPECT_TRUE(p.join());
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ProcessTest, ExitCodeOfExitN) {
  if constexpr (TestFixture::kIsThread) GTEST_SKIP() << "exit() in a thread ends the program";
  auto p = this->ctx().Process(exit_with, 7);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 7);
}

TYPED_TEST(ProcessTest, UncaughtExceptionGivesExitCodeOneAndReportsIt) {
  testing::internal::CaptureStderr();
  auto p = this->ctx().Process(throw_runtime_error, std::string("boom in child"));
  p.start();
  p.join();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_NE(err.find("std::runtime_error"), std::string::npos) << err;
  EXPECT_NE(err.find("boom in child"), std::string::npos) << err;
  EXPECT_NE(err.find(p.name()), std::string::npos) << err;
}

TYPED_TEST(ProcessTest, ExitCodeIsMinusSignalWhenKilledBySignal) {
  if constexpr (TestFixture::kIsThread) GTEST_SKIP() << "a signal ends the whole program";
  auto p = this->ctx().Process(raise_signal, SIGUSR1);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGUSR1);
}

TYPED_TEST(ProcessTest, TerminateGivesMinusSigterm) {
  auto p = this->ctx().Process(sleep_for_seconds, 0.5);
  p.start();
  if constexpr (TestFixture::kIsThread) {
    EXPECT_THROW(p.terminate(), ProcessError);
    EXPECT_THROW(p.kill(), ProcessError);
    p.join();
  } else {
    p.terminate();
    EXPECT_TRUE(p.join(10));
    EXPECT_EQ(p.exitcode(), -SIGTERM);
  }
}

TYPED_TEST(ProcessTest, TerminateReachesAChildStartedWithSigtermBlocked) {
  if constexpr (TestFixture::kIsThread) GTEST_SKIP() << "a thread cannot be stopped";
  if constexpr (!TestFixture::kIsSpawn)
    GTEST_SKIP() << "a forked child keeps the mask, as in Python";
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  auto p = this->ctx().Process(sleep_for_seconds, 30.0);
  p.start();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  p.terminate();
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), -SIGTERM);
}

TYPED_TEST(ProcessTest, KillGivesMinusSigkill) {
  if constexpr (TestFixture::kIsThread) GTEST_SKIP() << "a thread cannot be killed";
  auto p = this->ctx().Process(sleep_for_seconds, 30.0);
  p.start();
  p.kill();
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), -SIGKILL);
}

TYPED_TEST(ProcessTest, JoinZeroReturnsAtOnce) {
  auto p = this->ctx().Process(sleep_for_seconds, 0.5);
  p.start();
  auto start = Clock::now();
  EXPECT_FALSE(p.join(0));
  EXPECT_LT(seconds_since(start), 0.1);
  EXPECT_FALSE(p.exitcode().has_value());
  EXPECT_TRUE(p.join());
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ProcessTest, ExitCodePollsTheChildWithoutJoin) {
  auto p = this->ctx().Process(sleep_for_seconds, 0.1);
  p.start();
  auto deadline = Clock::now() + 10s;
  while (!p.exitcode() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
}

TYPED_TEST(ProcessTest, JoinWithTimeoutWaitsAboutTheTimeout) {
  auto p = this->ctx().Process(sleep_for_seconds, 2.0);
  p.start();
  auto start = Clock::now();
  EXPECT_FALSE(p.join(0.2));
  double waited = seconds_since(start);
  EXPECT_GE(waited, 0.19);
  EXPECT_LT(waited, 1.5);
  EXPECT_TRUE(p.join());
}

TYPED_TEST(ProcessTest, IsAliveTransitions) {
  auto p = this->ctx().Process(sleep_for_seconds, 0.3);
  EXPECT_FALSE(p.is_alive());
  p.start();
  EXPECT_TRUE(p.is_alive());
  p.join();
  EXPECT_FALSE(p.is_alive());
}

TYPED_TEST(ProcessTest, SentinelBecomesReadableAtExit) {
  auto p = this->ctx().Process(sleep_for_seconds, 0.3);
  p.start();
  pollfd fd{p.sentinel(), POLLIN, 0};
  EXPECT_EQ(::poll(&fd, 1, 0), 0);
  EXPECT_EQ(::poll(&fd, 1, 10000), 1);
  EXPECT_TRUE(p.join(0));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ProcessTest, PidIsSetByStart) {
  auto p = this->ctx().Process(do_nothing);
  EXPECT_EQ(p.pid(), 0);
  p.start();
  if constexpr (TestFixture::kIsThread) {
    EXPECT_EQ(p.pid(), ::getpid());
  } else {
    EXPECT_GT(p.pid(), 0);
    EXPECT_NE(p.pid(), ::getpid());
  }
  p.join();
}

// ---- names, daemon flag, current and parent process ----

TYPED_TEST(ProcessTest, DefaultNamesCountUp) {
  auto a = this->ctx().Process(do_nothing);
  auto b = this->ctx().Process(do_nothing);
  a.start();
  b.start();
  EXPECT_EQ(a.name().rfind("Process-", 0), 0u) << a.name();
  EXPECT_NE(a.name(), b.name());
  a.join();
  b.join();
}

TYPED_TEST(ProcessTest, ChildSeesItsNameDaemonFlagAndParent) {
  auto p = this->ctx().Process(ProcessOptions{"worker-7", true}, check_identity,
                               std::string("worker-7"), true);
  EXPECT_EQ(p.name(), "worker-7");
  EXPECT_TRUE(p.daemon());
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

void check_authkey(std::string expected) {
  if (authkey() != expected) throw std::runtime_error("the child has another authkey");
}

TYPED_TEST(ProcessTest, ChildInheritsTheAuthkey) {
  set_authkey("a shared secret");
  auto p = this->ctx().Process(check_authkey, std::string("a shared secret"));
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(CurrentProcess, AuthkeyIsRandomAndSettable) {
  set_authkey("");  // as at program start: none yet
  EXPECT_EQ(authkey().size(), 32u);
  EXPECT_EQ(authkey(), authkey());
  set_authkey("abc");
  EXPECT_EQ(authkey(), "abc");
}

TEST(CurrentProcess, MainProcessHasNoParent) {
  EXPECT_EQ(current_process().name, "MainProcess");
  EXPECT_EQ(current_process().pid, ::getpid());
  EXPECT_FALSE(parent_process().has_value());
}

TYPED_TEST(ProcessTest, ActiveChildrenListsRunningChildrenOnly) {
  auto p = this->ctx().Process(sleep_for_seconds, 0.5);
  p.start();
  auto running = active_children();
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].name, p.name());
  p.join();
  EXPECT_TRUE(active_children().empty());
}

// ---- arguments ----

TYPED_TEST(ProcessTest, ChildReceivesItsArguments) {
  Job job{"build", {7, 8}, 1.5};
  auto p = this->ctx().Process(check_arguments, std::string("hello"), std::vector<int>{1, 2, 3},
                               job, 42);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

struct Extent {  // trivially copyable, no cereal function: travels as its bytes
  int width;
  double height;
};

void check_plain_struct_argument(Extent extent, std::vector<Extent> more) {
  if (extent.width != 3 || extent.height != 1.5 || more.size() != 2 || more[1].width != 7)
    throw std::runtime_error("wrong arguments");
}

TYPED_TEST(ProcessTest, PlainStructArgumentsReachTheChild) {
  auto p = this->ctx().Process(check_plain_struct_argument, Extent{3, 1.5},
                               std::vector<Extent>{{5, 0.5}, {7, 2.5}});
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

void add_to_own_copy(int& n, const std::string& text) {
  n += static_cast<int>(text.size());
  if (n != 5) throw std::runtime_error("wrong arguments");
}

TYPED_TEST(ProcessTest, ReferenceParametersBindToTheChildsCopies) {
  int n = 2;
  auto p = this->ctx().Process(add_to_own_copy, n, std::string("abc"));
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(n, 2);  // the child changed its copy
}

TYPED_TEST(ProcessTest, SegmentBackedArgumentIsSharedWithChild) {
  auto [ref, counter] = detail::make_shared_object<std::atomic<int>>("test-counter", 0);
  auto p = this->ctx().Process(store_in_segment, ref, 42);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(counter->load(), 42);
}

TYPED_TEST(ProcessTest, CaptureLessLambdaIsATarget) {
  auto p = this->ctx().Process(
      [](int n) {
        if (n != 5) throw std::runtime_error("wrong n");
      },
      5);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ProcessTest, CapturingLambdaRunsUnderForkAndThread) {
  if constexpr (TestFixture::kIsSpawn) {
    int captured = 1;
    auto lambda = [captured] { (void)captured; };
    // get_context(kSpawn).Process(lambda) does not compile (static_assert); this is why:
    static_assert(!detail::kIsSpawnable<decltype(lambda)>);
    static_assert(detail::kIsSpawnable<decltype(&do_nothing)>);
    GTEST_SKIP() << "checked at compile time";
  } else {
    auto [ref, counter] = detail::make_shared_object<std::atomic<int>>("test-counter", 0);
    std::atomic<int>* shared = counter;
    auto p = this->ctx().Process([shared] { shared->store(9); });
    p.start();
    p.join();
    EXPECT_EQ(counter->load(), 9);
  }
}

// ---- misuse ----

TYPED_TEST(ProcessTest, StartTwiceAndJoinBeforeStartAreErrors) {
  auto p = this->ctx().Process(do_nothing);
  EXPECT_THROW(p.join(), std::logic_error);
  p.start();
  EXPECT_THROW(p.start(), std::logic_error);
  p.join();
}

TYPED_TEST(ProcessTest, CloseRunningProcessIsAnErrorAndCloseAfterJoinWorks) {
  auto p = this->ctx().Process(sleep_for_seconds, 0.3);
  p.start();
  EXPECT_THROW(p.close(), std::logic_error);
  p.join();
  p.close();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_THROW((void)p.sentinel(), std::logic_error);
}

TYPED_TEST(ProcessTest, ManyProcessesLeaveNoDescriptorBehind) {
  // The server's socket and pidfd are the method's, not any child's: open them first.
  if constexpr (TestFixture::kIsForkserver) ensure_forkserver_running();
  int before = testing_proc::open_descriptor_count();
  {
    std::vector<Process> processes;
    for (int i = 0; i < 20; ++i) processes.push_back(this->ctx().Process(exit_with_or_return, i));
    for (auto& p : processes) p.start();
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(processes[i].join(30));
      EXPECT_EQ(processes[i].exitcode(), TestFixture::kIsThread ? 0 : i);
    }
  }
  EXPECT_EQ(testing_proc::open_descriptor_count(), before);
}

void join_sibling(Process* sibling) {
  try {
    sibling->join();
  } catch (const std::logic_error&) {
    std::exit(3);  // as Python: only the parent joins
  }
}

TEST(ProcessMisuse, ForkedChildCannotJoinItsSibling) {
  auto sibling = get_context(kFork).Process(sleep_for_seconds, 0.3);
  sibling.start();
  auto p = get_context(kFork).Process(join_sibling, &sibling);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 3);
  sibling.join();
  EXPECT_EQ(sibling.exitcode(), 0);
}

// ---- reaping ----

TYPED_TEST(ProcessTest, NoZombieAfterForgottenJoin) {
  if constexpr (TestFixture::kIsThread) GTEST_SKIP() << "threads leave no zombies";
  pid_t pid;
  {
    auto p = this->ctx().Process(do_nothing);
    p.start();
    pid = p.pid();
  }  // destroyed without join
  auto deadline = Clock::now() + 10s;
  while (active_children().size() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(active_children().empty());
  EXPECT_FALSE(testing_proc::is_zombie(pid));
  errno = 0;
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);  // already reaped by the runtime
  EXPECT_EQ(errno, ECHILD);
}

void start_daemon_and_report(Connection conn) {
  auto daemon =
      get_context(kFork).Process(ProcessOptions{"sleeper", true}, sleep_for_seconds, 60.0);
  daemon.start();
  conn.send(static_cast<int>(daemon.pid()));
  // Returns without join: the exit of this process must terminate and reap the daemon.
}

void start_child_and_report(Connection conn) {
  auto child = get_context(kFork).Process(sleep_for_seconds, 0.3);
  child.start();
  conn.send(static_cast<int>(child.pid()));
}

TYPED_TEST(ProcessTest, DaemonicChildIsTerminatedWhenItsParentExits) {
  if constexpr (TestFixture::kIsThread)
    GTEST_SKIP() << "a thread-mode child never exits the program";
  auto [here, there] = Pipe();
  auto p = this->ctx().Process(start_daemon_and_report, there);
  p.start();
  pid_t daemon = here.recv<int>();
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 0);
  errno = 0;
  EXPECT_EQ(::kill(daemon, 0), -1);  // terminated and reaped by its parent
  EXPECT_EQ(errno, ESRCH);
}

TYPED_TEST(ProcessTest, NonDaemonicChildIsJoinedWhenItsParentExits) {
  if constexpr (TestFixture::kIsThread)
    GTEST_SKIP() << "a thread-mode child never exits the program";
  auto [here, there] = Pipe();
  auto start = Clock::now();
  auto p = this->ctx().Process(start_child_and_report, there);
  p.start();
  pid_t child = here.recv<int>();
  EXPECT_TRUE(p.join(10));
  EXPECT_GE(seconds_since(start), 0.29);  // the parent waited for its child
  EXPECT_EQ(p.exitcode(), 0);
  errno = 0;
  EXPECT_EQ(::kill(child, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

void check_grandchild_name(std::string expected) {
  if (current_process().name != expected)
    throw std::runtime_error("grandchild is named " + current_process().name);
}

void start_grandchild(StartMethod method) {
  auto grandchild = get_context(start_method_name(method))
                        .Process(check_grandchild_name, current_process().name + ":1");
  grandchild.start();
  grandchild.join();
  if (grandchild.exitcode() != 0) throw std::runtime_error("grandchild failed");
}

TYPED_TEST(ProcessTest, ChildStartsAGrandchildOfTheSameMethod) {
  auto p = this->ctx().Process(start_grandchild, TypeParam::kTag.kMethod);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// ---- start methods ----

TEST(StartMethod, NamesRoundTripAndUnknownNamesThrow) {
  EXPECT_EQ(get_context("spawn").method(), StartMethod::kSpawn);
  EXPECT_EQ(get_context("fork").get_start_method(), "fork");
  EXPECT_EQ(get_context(kThread).get_start_method(), "thread");
  EXPECT_EQ(get_context("forkserver").method(), StartMethod::kForkserver);
  EXPECT_EQ(get_context(kForkserver).get_start_method(), "forkserver");
  EXPECT_THROW(get_context("forkserve"), std::invalid_argument);
  EXPECT_EQ(get_start_method(), StartMethod::kFork);
}

TEST(StartMethod, SetStartMethodChangesDefaultProcesses) {
  set_start_method("thread");
  Process p(do_nothing);
  p.start();
  EXPECT_EQ(p.pid(), ::getpid());  // a thread of this process
  p.join();
  set_start_method(StartMethod::kFork);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(StartMethod, SpawnWithoutInitIsAClearError) {
  detail::set_initialized_for_testing(false);
  auto p = get_context(kSpawn).Process(do_nothing);
  try {
    p.start();
    ADD_FAILURE() << "start() did not throw";
  } catch (const ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("mp::init"), std::string::npos) << e.what();
  }
  detail::set_initialized_for_testing(true);
}

TEST(StartMethod, RuntimeSpawnContextRejectsCapturingLambdaAtStart) {
  int captured = 3;
  auto p = get_context("spawn").Process([captured] { (void)captured; });
  EXPECT_THROW(p.start(), ProcessError);
}

TEST(CpuCount, IsPositive) { EXPECT_GE(cpu_count(), 1); }

}  // namespace
}  // namespace mp
