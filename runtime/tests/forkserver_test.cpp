// The forkserver start method beyond what ProcessTest checks under every method: the child is
// the server's, shared primitives and many descriptors reach it, a killed server is
// replaced, a start cut off by the server's death fails instead of hanging, concurrent
// starters, and nothing is left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mp/connection.h"
#include "mp/errors.h"
#include "mp/lock.h"
#include "mp/pool.h"
#include "mp/process.h"
#include "mp/queues.h"
#include "mp/sharedctypes.h"
#include "proc_self.h"

namespace mp {
namespace {

using namespace std::chrono_literals;

constexpr auto kForkserverContext = get_context(kForkserver);

// Waits until `pid` (a child of this process: the server) has died, so that the next start
// finds it dead rather than dying.
void kill_and_wait_for_death(pid_t pid, int sig) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  ASSERT_GE(pidfd, 0);
  ASSERT_EQ(::kill(pid, sig), 0);
  pollfd p{pidfd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1);
  ::close(pidfd);
}

// ---- targets ----

void do_nothing() {}
void sleep_for_seconds(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}
void exit_with(int code) { std::exit(code); }

void report_lineage(Connection conn) {
  conn.send(static_cast<int>(::getpid()));
  conn.send(static_cast<int>(::getppid()));
  conn.send(static_cast<int>(parent_process()->pid));
  conn.send(parent_process()->name);
  conn.send(current_process().name);
  conn.send(current_process().daemon);
}

void use_shared_primitives(Queue<std::string> queue, Lock lock, Value<int> counter, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    LockGuard guard(lock);
    counter.value() += 1;
  }
  queue.put("from " + current_process().name);
}

void echo_on_each(std::vector<Connection> connections) {
  for (std::size_t i = 0; i < connections.size(); ++i) connections[i].send(static_cast<int>(i));
}

int twice(int x) { return 2 * x; }

// Starts a forkserver pool, reports its worker's pid, then dies without closing the pool.
void start_pool_and_die(Connection conn) {
  PoolOptions options;
  options.processes = 1;
  options.context = get_context(kForkserver);
  Pool pool(options);
  if (pool.apply(twice, 21) != 42) throw std::runtime_error("the pool computed wrong");
  conn.send(static_cast<int>(pool.worker_pids().at(0)));
  ::kill(::getpid(), SIGKILL);
}

void print_line(std::string line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// ---- tests ----

TEST(Forkserver, ChildIsTheServersChildAndKnowsItsParent) {
  auto [here, there] = Pipe();
  auto p = kForkserverContext.Process(ProcessOptions{"worker", true}, report_lineage, there);
  p.start();
  const pid_t server = detail::forkserver_pid_for_testing();
  ASSERT_GT(server, 0);
  EXPECT_EQ(here.recv<int>(), p.pid());
  EXPECT_NE(p.pid(), ::getpid());
  EXPECT_EQ(here.recv<int>(), server);      // forked by the server: its OS parent
  EXPECT_EQ(here.recv<int>(), ::getpid());  // but mp's parent is the process that started it
  EXPECT_EQ(here.recv<std::string>(), "MainProcess");
  EXPECT_EQ(here.recv<std::string>(), "worker");
  EXPECT_TRUE(here.recv<bool>());
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Forkserver, QueueLockAndValuePassedToChildrenAreShared) {
  Queue<std::string> queue;
  Lock lock;
  Value<int> counter(0);
  std::vector<Process> children;
  for (int i = 0; i < 4; ++i)
    children.push_back(
        kForkserverContext.Process(use_shared_primitives, queue, lock, counter, 500));
  for (auto& p : children) p.start();
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) got.push_back(queue.get(true, 10));
  for (auto& p : children) {
    EXPECT_TRUE(p.join(10));
    EXPECT_EQ(p.exitcode(), 0);
  }
  const int total = counter.value();
  EXPECT_EQ(total, 2000);  // no increment lost under the shared lock
  for (const std::string& message : got) EXPECT_EQ(message.rfind("from Process-", 0), 0u);
}

TEST(Forkserver, MoreDescriptorsThanOneMessageCarriesReachTheChild) {
  // 2 × 150 ends: more than the 253 descriptors one SCM_RIGHTS message can carry.
  std::vector<Connection> ours;
  std::vector<Connection> theirs;
  for (int i = 0; i < 150; ++i) {
    auto [a, b] = Pipe();
    ours.push_back(std::move(a));
    theirs.push_back(std::move(b));
  }
  auto p = kForkserverContext.Process(echo_on_each, theirs);
  p.start();
  for (int i = 0; i < 150; ++i) ASSERT_EQ(ours[i].recv<int>(), i) << "connection " << i;
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Forkserver, ChildWritesToTheParentsStdoutOfTheMomentOfStart) {
  ensure_forkserver_running();  // the server's own stdout stays the original one
  char path[] = "/tmp/mp-forkserver-stdout-XXXXXX";
  int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  std::fflush(stdout);
  int saved = ::dup(1);
  ::dup2(file, 1);
  auto p = kForkserverContext.Process(print_line, std::string("hello from the child"));
  p.start();
  ::dup2(saved, 1);
  ::close(saved);
  ::close(file);
  EXPECT_TRUE(p.join(10));
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "hello from the child");
  ::unlink(path);
}

TEST(Forkserver, KilledServerIsReplacedByTheNextStart) {
  ensure_forkserver_running();
  const pid_t first = detail::forkserver_pid_for_testing();
  kill_and_wait_for_death(first, SIGKILL);
  auto p = kForkserverContext.Process(exit_with, 7);
  p.start();  // no error: the dead server is found dead and replaced
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 7);
  const pid_t second = detail::forkserver_pid_for_testing();
  EXPECT_NE(second, first);
  errno = 0;
  EXPECT_EQ(::kill(first, 0), -1);  // and the dead one was reaped: no zombie
  EXPECT_EQ(errno, ESRCH);
}

TEST(Forkserver, StartInFlightWhenTheServerDiesIsAnErrorNotAHang) {
  ensure_forkserver_running();
  const pid_t server = detail::forkserver_pid_for_testing();
  ASSERT_EQ(::kill(server, SIGSTOP), 0);  // the request waits in the socket, unanswered
  auto starting = std::async(std::launch::async, [] {
    auto p = kForkserverContext.Process(do_nothing);
    try {
      p.start();
      return std::string("started");
    } catch (const ProcessError& e) {
      return std::string(e.what());
    }
  });
  EXPECT_EQ(starting.wait_for(200ms), std::future_status::timeout);
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  ASSERT_EQ(starting.wait_for(10s), std::future_status::ready);
  const std::string outcome = starting.get();
  EXPECT_NE(outcome.find("forkserver died"), std::string::npos) << outcome;
  auto p = kForkserverContext.Process(exit_with, 3);  // and the next start works
  p.start();
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 3);
}

TEST(Forkserver, ChildOutlivingItsKilledServerIsJoinedWhenItExits) {
  auto p = kForkserverContext.Process(sleep_for_seconds, 1.5);
  p.start();
  kill_and_wait_for_death(detail::forkserver_pid_for_testing(), SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.join(0.1));  // the sentinel's end of file is not the child's exit
  EXPECT_TRUE(p.is_alive());
  EXPECT_TRUE(p.join(10));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(p.exitcode(), 255);  // its status died with the server, as in Python
  // It has exited: gone, or a zombie left to its new parent (init) to reap.
  EXPECT_TRUE(testing_proc::has_exited(p.pid()));
}

TEST(Forkserver, EightThreadsStartAndJoinConcurrently) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int code = (t * kPerThread + i) % 100;
        auto p = kForkserverContext.Process(exit_with, code);
        p.start();
        if (!p.join(30) || p.exitcode() != code) failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Forkserver, KillAndTerminateReachTheServersChild) {
  auto killed = kForkserverContext.Process(sleep_for_seconds, 30.0);
  auto terminated = kForkserverContext.Process(sleep_for_seconds, 30.0);
  killed.start();
  terminated.start();
  killed.kill();
  terminated.terminate();
  EXPECT_TRUE(killed.join(10));
  EXPECT_TRUE(terminated.join(10));
  EXPECT_EQ(killed.exitcode(), -SIGKILL);
  EXPECT_EQ(terminated.exitcode(), -SIGTERM);
}

TEST(Forkserver, JoinedChildrenLeaveNoDescriptorOrZombieBehind) {
  ensure_forkserver_running();
  const int before = testing_proc::open_descriptor_count();
  std::vector<pid_t> pids;
  {
    std::vector<Process> children;
    for (int i = 0; i < 20; ++i) children.push_back(kForkserverContext.Process(do_nothing));
    for (auto& p : children) p.start();
    for (auto& p : children) {
      EXPECT_TRUE(p.join(10));
      pids.push_back(p.pid());
    }
  }
  EXPECT_EQ(testing_proc::open_descriptor_count(), before);
  for (pid_t pid : pids) {
    errno = 0;
    EXPECT_EQ(::kill(pid, 0), -1) << pid;  // reaped by the server before it reported
    EXPECT_EQ(errno, ESRCH);
  }
}

TEST(Forkserver, ForkedChildUsesAServerOfItsOwn) {
  ensure_forkserver_running();
  const pid_t parents = detail::forkserver_pid_for_testing();
  auto [here, there] = Pipe();
  auto p = get_context(kFork).Process(
      [parents](Connection conn) {
        auto grandchild = kForkserverContext.Process(exit_with, 4);
        grandchild.start();
        grandchild.join();
        conn.send(static_cast<int>(detail::forkserver_pid_for_testing()));
        conn.send(grandchild.exitcode().value_or(-1));
        if (detail::forkserver_pid_for_testing() == parents)
          throw std::runtime_error("the forked child used its parent's forkserver");
      },
      there);
  p.start();
  const int childs_server = here.recv<int>();
  EXPECT_EQ(here.recv<int>(), 4);
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_GT(childs_server, 0);
  EXPECT_NE(childs_server, parents);
}

// An idle worker parks and then checks that its owner lives: under forkserver its parent is
// the server, which must not read as "the owner died".
TEST(Forkserver, PoolWorkerIdleLongerThanAParkStillServes) {
  PoolOptions options;
  options.processes = 1;
  options.context = get_context(kForkserver);
  Pool pool(options);
  EXPECT_EQ(pool.apply(twice, 1), 2);
  const pid_t worker = pool.worker_pids().at(0);
  std::this_thread::sleep_for(400ms);  // parks of 100 ms, each followed by the check
  EXPECT_EQ(pool.apply_async(twice, 2).get(10), 4);
  EXPECT_EQ(pool.worker_pids().at(0), worker) << "the worker quit while idle";
}

// A pool worker under forkserver is the server's child: it cannot tell from getppid() that
// its owner died, and watches the owner's pidfd instead.
TEST(Forkserver, PoolWorkerEndsWhenItsOwnerIsKilled) {
  auto [here, there] = Pipe();
  auto owner = get_context(kFork).Process(start_pool_and_die, there);
  owner.start();
  const pid_t worker = here.recv<int>();
  EXPECT_TRUE(owner.join(10));
  EXPECT_EQ(owner.exitcode(), -SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!testing_proc::has_exited(worker) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(testing_proc::has_exited(worker))
      << "worker " << worker << " outlived its pool's owner";
}

}  // namespace
}  // namespace mp
