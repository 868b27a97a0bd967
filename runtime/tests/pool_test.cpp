// mp::Pool and mp::ProcessPoolExecutor under every start method (CPython's
// test_multiprocessing pool behaviours: apply, map equal to serial for any chunksize, imap
// order, imap_unordered multiset, callbacks, error_callback, get(timeout), terminate,
// maxtasksperchild, close/join) plus what Python lacks: a worker killed by a signal fails
// only its own tasks with mp::BrokenPool and the pool goes on.
#include "mp/pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "mp/errors.h"
#include "mp/process.h"
#include "start_modes.h"

namespace mp {
namespace {

using Clock = std::chrono::steady_clock;

using testing_modes::Thread;

template <class Mode>
class PoolTest : public testing_modes::ModeTest<Mode> {
 public:
  static constexpr bool kIsThread = std::is_same_v<Mode, Thread>;
  static PoolOptions options(std::size_t processes = 2) {
    PoolOptions o;
    o.processes = processes;
    o.context = get_context(Mode::kTag);
    return o;
  }
};
TYPED_TEST_SUITE(PoolTest, testing_modes::AllModes, testing_modes::ModeNames);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- tasks: plain functions, found by the workers in their own image ----

int square(int x) { return x * x; }
std::string describe(int n, std::string word) { return std::to_string(n) + " " + word; }
int add(int a, int b) { return a + b; }
int sleep_ms_then_return(int x) {
  // Later items finish first, so that completion order differs from input order.
  std::this_thread::sleep_for(std::chrono::milliseconds((x % 4) * 3));
  return x;
}
double sleep_seconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
  return s;
}
int fail_on_three(int x) {
  if (x == 3) throw std::invalid_argument("three is not allowed");
  return x;
}
long worker_tid(int) { return static_cast<long>(::syscall(SYS_gettid)); }
int die_by_signal(int sig) {
  ::raise(sig);
  return 0;
}
// Writes its pid to `path`, then sleeps: the test kills it there.
int report_pid_then_sleep(std::string path) {
  {
    std::ofstream out(path + ".tmp");
    out << ::getpid();
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
  std::this_thread::sleep_for(std::chrono::seconds(30));
  return 0;
}
std::size_t length_of(std::string s) { return s.size(); }
std::string make_string(std::size_t n) { return std::string(n, 'x'); }
void do_nothing(int) {}

std::atomic<int> g_initialized{0};  // atomic: thread-mode workers share it
void set_initialized(int value, std::string tag) {
  if (tag != "tag") throw std::runtime_error("initargs lost");
  g_initialized = value;
}
int read_initialized(int) { return g_initialized.load(); }
void initializer_throws() { throw std::runtime_error("no database"); }

// Serializes only non-negative values: a negative one throws in save().
struct Fragile {
  int value = 0;
  template <class Archive>
  void save(Archive& ar) const {
    if (value < 0) throw std::domain_error("Fragile: cannot serialize a negative value");
    ar(value);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value);
  }
};
int fragile_value(Fragile f) { return f.value; }
Fragile make_fragile(int v) { return Fragile{v}; }

std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}
std::vector<int> squares_of(const std::vector<int>& v) {
  std::vector<int> out;
  for (int x : v) out.push_back(square(x));
  return out;
}

// ---- construction ----

TEST(Pool, ZeroProcessesIsAnError) {
  EXPECT_THROW(Pool(0), std::invalid_argument);
  PoolOptions o;
  o.processes = 1;
  o.maxtasksperchild = 0;
  EXPECT_THROW(Pool{o}, std::invalid_argument);
  EXPECT_THROW(ProcessPoolExecutor(0), std::invalid_argument);
}

TEST(Pool, DefaultsToCpuCountWorkers) {
  Pool pool;
  EXPECT_EQ(pool.processes(), static_cast<std::size_t>(cpu_count()));
  EXPECT_EQ(pool.worker_pids().size(), pool.processes());
}

// ---- apply, map, starmap, imap ----

TYPED_TEST(PoolTest, ApplyReturnsTheTaskResult) {
  Pool pool(this->options());
  EXPECT_EQ(pool.apply(square, 7), 49);
  EXPECT_EQ(pool.apply(describe, 3, std::string("cats")), "3 cats");
  EXPECT_EQ(pool.apply_async(add, 2, 40).get(), 42);
  pool.apply(do_nothing, 1);  // a void task
}

TYPED_TEST(PoolTest, MapEqualsSerialForAnyChunksize) {
  Pool pool(this->options(3));
  const std::vector<int> input = iota(101);
  const std::vector<int> expected = squares_of(input);
  EXPECT_EQ(pool.map(square, input), expected);
  for (std::size_t chunksize : {1, 2, 3, 7, 50, 101, 1000})
    EXPECT_EQ(pool.map(square, input, chunksize), expected) << "chunksize " << chunksize;
  EXPECT_EQ(pool.map_async(square, input, 4).get(), expected);
  EXPECT_THROW((void)pool.map(square, input, 0), std::invalid_argument);
}

TYPED_TEST(PoolTest, EmptyInputGivesAnEmptyResult) {
  Pool pool(this->options());
  const std::vector<int> none;
  EXPECT_TRUE(pool.map(square, none).empty());
  EXPECT_TRUE(pool.map_async(square, none).get().empty());
  EXPECT_TRUE(pool.starmap(add, std::vector<std::tuple<int, int>>{}).empty());
  auto it = pool.imap(square, none);
  EXPECT_FALSE(it.next(1.0).has_value());
  auto un = pool.imap_unordered(square, none);
  EXPECT_FALSE(un.next(1.0).has_value());
}

TYPED_TEST(PoolTest, StarmapUnpacksEachItem) {
  Pool pool(this->options());
  std::vector<std::tuple<int, int>> pairs;
  for (int i = 0; i < 30; ++i) pairs.emplace_back(i, 100 * i);
  std::vector<int> expected;
  for (auto [a, b] : pairs) expected.push_back(a + b);
  EXPECT_EQ(pool.starmap(add, pairs), expected);
  EXPECT_EQ(pool.starmap(add, pairs, 4), expected);
  EXPECT_EQ(pool.starmap_async(add, pairs, 1).get(), expected);
  std::vector<std::pair<int, std::string>> words{{1, "a"}, {2, "b"}};
  EXPECT_EQ(pool.starmap(describe, words), (std::vector<std::string>{"1 a", "2 b"}));
}

TYPED_TEST(PoolTest, ImapKeepsInputOrder) {
  Pool pool(this->options(3));
  const std::vector<int> input = iota(40);
  for (std::size_t chunksize : {1, 3}) {
    std::vector<int> got;
    for (int v : pool.imap(sleep_ms_then_return, input, chunksize)) got.push_back(v);
    EXPECT_EQ(got, input) << "chunksize " << chunksize;
  }
}

TYPED_TEST(PoolTest, ImapUnorderedGivesTheSameMultiset) {
  Pool pool(this->options(3));
  std::vector<int> input = iota(40);
  input.push_back(5);  // a duplicate: a multiset, not a set
  for (std::size_t chunksize : {1, 4}) {
    std::multiset<int> got;
    auto results = pool.imap_unordered(sleep_ms_then_return, input, chunksize);
    EXPECT_EQ(results.size(), input.size());
    while (auto v = results.next(10)) got.insert(*v);
    EXPECT_EQ(got, std::multiset<int>(input.begin(), input.end())) << "chunksize " << chunksize;
  }
}

TYPED_TEST(PoolTest, ImapNextTimesOut) {
  Pool pool(this->options(1));
  auto results = pool.imap(sleep_seconds, std::vector<double>{0.5});
  auto start = Clock::now();
  EXPECT_THROW((void)results.next(0.1), TimeoutError);
  EXPECT_GE(seconds_since(start), 0.09);
  EXPECT_EQ(results.next(), 0.5);
  EXPECT_FALSE(results.next().has_value());
}

// ---- AsyncResult and callbacks ----

TYPED_TEST(PoolTest, CallbacksRunBeforeGetReturns) {
  Pool pool(this->options());
  std::mutex mutex;
  std::vector<int> seen;
  auto r = pool.apply_async(square, std::tuple{6}, [&](const int& v) {
    std::lock_guard lock(mutex);
    seen.push_back(v);
  });
  EXPECT_EQ(r.get(10), 36);
  std::vector<int> list;
  auto m = pool.map_async(square, iota(5), 2, [&](const std::vector<int>& v) {
    std::lock_guard lock(mutex);
    list = v;
  });
  EXPECT_EQ(m.get(10), squares_of(iota(5)));
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, std::vector<int>{36});
  EXPECT_EQ(list, squares_of(iota(5)));
}

TYPED_TEST(PoolTest, ErrorCallbackGetsTheWorkersException) {
  Pool pool(this->options());
  std::mutex mutex;
  std::string type, message;
  bool callback_ran = false;
  auto r = pool.apply_async(
      fail_on_three, std::tuple{3}, [&](const int&) { callback_ran = true; },
      [&](const std::exception& e) {
        std::lock_guard lock(mutex);
        if (auto* remote = dynamic_cast<const RemoteError*>(&e)) {
          type = remote->type_name();
          message = remote->message();
        }
      });
  EXPECT_THROW((void)r.get(10), RemoteError);
  EXPECT_TRUE(r.ready());
  EXPECT_FALSE(r.successful());
  std::lock_guard lock(mutex);
  EXPECT_FALSE(callback_ran);
  EXPECT_EQ(type, "std::invalid_argument");
  EXPECT_EQ(message, "three is not allowed");
}

TYPED_TEST(PoolTest, TaskExceptionCarriesTypeNameAndMessage) {
  Pool pool(this->options());
  try {
    (void)pool.apply(fail_on_three, 3);
    FAIL() << "no exception";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "three is not allowed");
    EXPECT_NE(std::string(e.what()).find("std::invalid_argument: three is not allowed"),
              std::string::npos);
  }
  EXPECT_THROW((void)pool.map(fail_on_three, iota(10), 2), RemoteError);
  // imap raises at the failing item's place and goes on after it.
  auto results = pool.imap(fail_on_three, iota(6));
  std::vector<int> got;
  for (int i = 0; i < 6; ++i) {
    try {
      got.push_back(*results.next(10));
    } catch (const RemoteError&) {
      got.push_back(-1);
    }
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, -1, 4, 5}));
  EXPECT_EQ(pool.apply(square, 5), 25);  // the pool goes on
}

TYPED_TEST(PoolTest, GetWithTimeoutRaisesTimeoutError) {
  Pool pool(this->options(1));
  auto r = pool.apply_async(sleep_seconds, 0.5);
  auto start = Clock::now();
  EXPECT_THROW((void)r.get(0.1), TimeoutError);
  EXPECT_GE(seconds_since(start), 0.09);
  EXPECT_FALSE(r.ready());
  EXPECT_THROW((void)r.successful(), std::logic_error);  // Python's ValueError: not ready
  EXPECT_FALSE(r.wait(0.01));
  EXPECT_TRUE(r.wait(10));
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(r.get(0), 0.5);
}

// ---- lifecycle ----

TYPED_TEST(PoolTest, CloseThenJoinFinishesSubmittedWork) {
  Pool pool(this->options());
  auto r = pool.map_async(sleep_ms_then_return, iota(20), 1);
  pool.close();
  pool.join();
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.get(0), iota(20));
  EXPECT_TRUE(pool.worker_pids().empty());
}

TYPED_TEST(PoolTest, UsingAClosedPoolIsAnError) {
  Pool pool(this->options());
  EXPECT_THROW(pool.join(), std::logic_error);  // still running
  pool.close();
  EXPECT_THROW((void)pool.apply_async(square, 1), std::logic_error);
  EXPECT_THROW((void)pool.map(square, iota(3)), std::logic_error);
  EXPECT_THROW((void)pool.map(square, std::vector<int>{}), std::logic_error);
  EXPECT_THROW((void)pool.imap(square, iota(3)), std::logic_error);
  pool.join();
}

TYPED_TEST(PoolTest, TerminateWithTenThousandTasksPendingIsPrompt) {
  Pool pool(this->options());
  auto r = pool.map_async(sleep_seconds, std::vector<double>(10'000, 0.05), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto start = Clock::now();
  pool.terminate();
  pool.join();
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_THROW((void)r.get(1), BrokenPool);
}

TYPED_TEST(PoolTest, DestructorTerminatesPromptly) {
  auto start = Clock::now();
  AsyncResult<double> r = [&] {
    Pool pool(this->options(1));
    auto pending = pool.apply_async(sleep_seconds, this->kIsThread ? 0.2 : 30.0);
    return pending;
  }();
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_THROW((void)r.get(1), BrokenPool);  // the task was killed with the pool
}

TYPED_TEST(PoolTest, MaxTasksPerChildReplacesWorkers) {
  PoolOptions o = this->options(2);
  o.maxtasksperchild = 3;
  Pool pool(o);
  std::vector<long> tids = pool.map(worker_tid, std::vector<int>(30, 0), 1);
  std::set<long> distinct(tids.begin(), tids.end());
  EXPECT_GE(distinct.size(), 10u);  // 30 tasks, at most 3 per worker
}

TYPED_TEST(PoolTest, MaxTasksPerChildWithEarlyCloseDoesNotHang) {
  // CPython's test_pool_worker_lifetime_early_close.
  PoolOptions o = this->options(1);
  o.maxtasksperchild = 1;
  Pool pool(o);
  std::vector<AsyncResult<double>> results;
  for (int i = 0; i < 6; ++i) results.push_back(pool.apply_async(sleep_seconds, 0.01));
  pool.close();
  pool.join();
  for (auto& r : results) EXPECT_EQ(r.get(0), 0.01);
}

// ---- what travels ----

TYPED_TEST(PoolTest, LargeArgumentsAndResultsTravelWhole) {
  Pool pool(this->options());
  const std::size_t big = 5 * 1024 * 1024;  // larger than the rings
  EXPECT_EQ(pool.apply(length_of, std::string(big, 'a')), big);
  EXPECT_EQ(pool.apply(make_string, big), std::string(big, 'x'));
  EXPECT_EQ(pool.map(length_of, std::vector<std::string>(4, std::string(big / 2, 'b')), 1),
            std::vector<std::size_t>(4, big / 2));
}

TYPED_TEST(PoolTest, UnserializableArgumentIsAnErrorAtTheCall) {
  Pool pool(this->options());
  EXPECT_THROW((void)pool.apply_async(fragile_value, Fragile{-1}), std::domain_error);
  EXPECT_THROW((void)pool.map(fragile_value, std::vector<Fragile>{{1}, {-1}}), std::domain_error);
  EXPECT_EQ(pool.apply(fragile_value, Fragile{4}), 4);  // the pool goes on
}

TYPED_TEST(PoolTest, UnserializableResultFailsItsTask) {
  Pool pool(this->options());
  try {
    (void)pool.apply(make_fragile, -1);
    FAIL() << "no exception";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::domain_error");
  }
  EXPECT_EQ(pool.apply(make_fragile, 2).value, 2);
}

TYPED_TEST(PoolTest, InitializerRunsInEveryWorker) {
  PoolOptions o = this->options(2);
  o.initializer = initializer(set_initialized, 42, std::string("tag"));
  Pool pool(o);
  EXPECT_EQ(pool.map(read_initialized, iota(20), 1), std::vector<int>(20, 42));
}

TYPED_TEST(PoolTest, InitializerThatThrowsBreaksThePoolWithoutHanging) {
  PoolOptions o = this->options(2);
  o.initializer = initializer(initializer_throws);
  Pool pool(o);
  try {
    (void)pool.apply_async(square, 2).get(20);
    FAIL() << "no exception";
  } catch (const BrokenPool& e) {
    EXPECT_NE(std::string(e.what()).find("no database"), std::string::npos) << e.what();
  }
}

// ---- worker deaths ----

TYPED_TEST(PoolTest, WorkerKilledBySignalFailsItsTaskWithBrokenPool) {
  if (this->kIsThread) GTEST_SKIP() << "a thread-mode worker cannot be killed alone";
  Pool pool(this->options(2));
  const std::vector<pid_t> before = pool.worker_pids();
  try {
    (void)pool.apply(die_by_signal, SIGKILL);
    FAIL() << "no exception";
  } catch (const BrokenPool& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("signal 9 (SIGKILL)"), std::string::npos) << what;
    bool names_a_worker = false;
    for (pid_t pid : before) names_a_worker |= what.find(std::to_string(pid)) != std::string::npos;
    EXPECT_TRUE(names_a_worker) << what;
  }
  // The pool replaced the worker and goes on.
  EXPECT_EQ(pool.map(square, iota(50), 1), squares_of(iota(50)));
  EXPECT_EQ(pool.worker_pids().size(), 2u);
  EXPECT_NE(pool.worker_pids(), before);
  // A chunk holding the fatal item fails; the map says so.
  EXPECT_THROW((void)pool.map(die_by_signal, std::vector<int>{0, SIGSEGV, 0}, 3), BrokenPool);
  EXPECT_EQ(pool.apply(square, 9), 81);
}

TYPED_TEST(PoolTest, SigkillOfAWorkerMidTaskFailsOnlyItsTask) {
  if (this->kIsThread) GTEST_SKIP() << "a thread-mode worker cannot be killed alone";
  Pool pool(this->options(2));
  const std::string path = testing::TempDir() + "pool_pid_" + std::to_string(::getpid());
  std::remove(path.c_str());
  auto victim = pool.apply_async(report_pid_then_sleep, path);
  auto bystander = pool.apply_async(sleep_seconds, 0.3);
  pid_t pid = 0;
  for (int i = 0; i < 2000 && pid == 0; ++i) {
    std::ifstream in(path);
    if (!(in >> pid)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(pid, 0);
  std::remove(path.c_str());
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  try {
    (void)victim.get(10);
    FAIL() << "no exception";
  } catch (const BrokenPool& e) {
    EXPECT_NE(std::string(e.what()).find("worker " + std::to_string(pid)), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("SIGKILL"), std::string::npos) << e.what();
  }
  EXPECT_EQ(bystander.get(10), 0.3);
  EXPECT_EQ(pool.apply(square, 3), 9);
}

// ---- threads ----

TYPED_TEST(PoolTest, SubmissionsFromManyThreads) {
  Pool pool(this->options());
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        if (pool.apply_async(add, t, i).get(30) != t + i) ++wrong;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

// ---- ProcessPoolExecutor ----

TYPED_TEST(PoolTest, ExecutorSubmitGivesFutures) {
  ProcessPoolExecutor executor(this->options());
  std::future<int> a = executor.submit(square, 12);
  std::future<std::string> b = executor.submit(describe, 2, std::string("dogs"));
  std::future<int> c = executor.submit(fail_on_three, 3);
  std::future<void> d = executor.submit(do_nothing, 0);
  EXPECT_EQ(a.get(), 144);
  EXPECT_EQ(b.get(), "2 dogs");
  EXPECT_THROW(c.get(), RemoteError);
  d.get();
  std::vector<int> got;
  for (int v : executor.map(square, iota(10))) got.push_back(v);
  EXPECT_EQ(got, squares_of(iota(10)));
  executor.shutdown();
  EXPECT_THROW((void)executor.submit(square, 1), std::logic_error);
  executor.shutdown();  // harmless twice
}

TYPED_TEST(PoolTest, ExecutorShutdownWaitsForSubmittedWork) {
  std::vector<std::future<double>> futures;
  {
    ProcessPoolExecutor executor(this->options());
    for (int i = 0; i < 6; ++i) futures.push_back(executor.submit(sleep_seconds, 0.02));
  }  // leaving the scope waits, as Python's `with`
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_EQ(f.get(), 0.02);
  }
}

TYPED_TEST(PoolTest, ExecutorShutdownCanCancelPendingFutures) {
  ProcessPoolExecutor executor(this->options(1));
  std::vector<std::future<double>> futures;
  for (int i = 0; i < 50; ++i) futures.push_back(executor.submit(sleep_seconds, 0.05));
  executor.shutdown(true, true);
  int done = 0, cancelled = 0;
  for (auto& f : futures) {
    try {
      f.get();
      ++done;
    } catch (const BrokenPool&) {
      ++cancelled;
    }
  }
  EXPECT_EQ(done + cancelled, 50);
  EXPECT_GT(cancelled, 0);
}

}  // namespace
}  // namespace mp
