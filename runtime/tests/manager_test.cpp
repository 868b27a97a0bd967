// mp::BaseManager, mp::SyncManager and the proxies: Python's managers behaviour (a dict,
// list, Value, Queue... shared through a server process, under fork, spawn and thread),
// plus what Python lacks — bounded failure with mp::ManagerGone when the server dies, one
// socket per process for any number of threads, mp::OwnerDied for a lock whose holder died,
// a server that survives malformed messages, atomic update_with.
#include "mp/managers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mp/connection.h"
#include "mp/errors.h"
#include "mp/listener.h"
#include "mp/pool.h"
#include "mp/process.h"
#include "proc_self.h"
#include "start_modes.h"

namespace mp {
namespace {

using Clock = std::chrono::steady_clock;
using Items = std::vector<int>;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int open_fds() { return testing_proc::open_descriptor_count(); }

template <class Mode>
class ManagerModes : public testing_modes::ModeTest<Mode> {
 public:
  static ManagerOptions options() {
    ManagerOptions o;
    o.context = get_context(Mode::kTag);
    return o;
  }
};
TYPED_TEST_SUITE(ManagerModes, testing_modes::AllModes, testing_modes::ModeNames);

// ---- children's targets: plain functions, so that spawn finds them ----

void fill_dict(DictProxy<std::string, int> d, int n) {
  for (int i = 0; i < n; ++i) d.set("k" + std::to_string(i), i * i);
}

void append_to(ListProxy<int> l, int n) {
  for (int i = 0; i < n; ++i) l.append(i);
}

void put_all(QueueProxy<int> q, int from, int n) {
  for (int i = from; i < from + n; ++i) q.put(i);
}

std::vector<int> append_item(std::vector<int> items, int x) {
  items.push_back(x);
  return items;
}

long add_long(long v, long d) { return v + d; }

void append_atomically(DictProxy<std::string, Items> d, int n) {
  for (int i = 0; i < n; ++i) d.update_with("list", "append_item", i);
}

void hold_lock_then_sleep(LockProxy lock, EventProxy held) {
  lock.acquire();
  held.set();
  ::pause();
}

TYPED_TEST(ManagerModes, ChildProcessesShareADictListAndQueue) {
  SyncManager m(std::nullopt, std::nullopt, this->options());
  m.start();
  auto d = m.dict<std::string, int>();
  auto l = m.list<int>();
  auto q = m.Queue<int>();
  auto ctx = this->ctx();
  auto p1 = ctx.Process(fill_dict, d, 50);
  auto p2 = ctx.Process(append_to, l, 30);
  auto p3 = ctx.Process(put_all, q, 100, 20);
  p1.start();
  p2.start();
  p3.start();
  p1.join();
  p2.join();
  p3.join();
  EXPECT_EQ(p1.exitcode(), 0);
  EXPECT_EQ(d.size(), 50u);
  EXPECT_EQ(d["k7"], 49);
  EXPECT_EQ(l.size(), 30u);
  EXPECT_EQ(l[-1], 29);
  std::vector<int> got;
  for (int i = 0; i < 20; ++i) got.push_back(q.get(true, 5));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i], 100 + i);  // one producer: its order
  m.shutdown();
}

TYPED_TEST(ManagerModes, UpdateWithIsAtomicAcrossProcesses) {
  SyncManager m(std::nullopt, std::nullopt, this->options());
  m.register_function<&append_item>("append_item");
  m.start();
  auto d = m.dict<std::string, Items>();
  std::vector<Process> ps;
  for (int i = 0; i < 3; ++i) ps.push_back(this->ctx().Process(append_atomically, d, 100));
  for (auto& p : ps) p.start();
  for (auto& p : ps) p.join();
  EXPECT_EQ(d["list"].size(), 300u);
}

TEST(Manager, DictFollowsPythonSemantics) {
  SyncManager m = Manager();
  auto d = m.dict<std::string, Items>();
  d.set("a", {});
  Items copy = d["a"];
  copy.push_back(1);  // a copy: the dict is unchanged until written back
  EXPECT_TRUE(d["a"].empty());
  d.set("a", copy);
  EXPECT_EQ(d["a"], Items{1});
  EXPECT_THROW(d["missing"], std::out_of_range);
  EXPECT_EQ(d.get("missing", Items{7}), Items{7});
  EXPECT_TRUE(d.contains("a"));
  EXPECT_EQ(d.setdefault("b", Items{2}), Items{2});
  EXPECT_EQ(d.setdefault("b", Items{3}), Items{2});
  d.update(std::map<std::string, Items>{{"c", {3}}});
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"a", "b", "c"}));  // insertion order
  EXPECT_EQ(d.pop("b"), Items{2});
  EXPECT_EQ(d.pop("b", Items{9}), Items{9});
  auto [k, v] = d.popitem();
  EXPECT_EQ(k, "c");
  EXPECT_EQ(d.items().size(), 1u);
  d.erase("a");
  EXPECT_EQ(d.size(), 0u);
  EXPECT_THROW(d.erase("a"), std::out_of_range);
}

TEST(Manager, ListValueArrayNamespace) {
  SyncManager m = Manager();
  auto l = m.list<std::string>({"x", "y"});
  l.append("z");
  l.insert(0, "w");
  l.extend({"u"});
  EXPECT_EQ(l.to_vector(), (std::vector<std::string>{"w", "x", "y", "z", "u"}));
  EXPECT_EQ(l.pop(), "u");
  EXPECT_EQ(l.pop(0), "w");
  EXPECT_EQ(l.index("y"), 1u);
  l.remove("y");
  EXPECT_THROW(l.remove("nope"), std::invalid_argument);
  EXPECT_THROW(l.get(10), std::out_of_range);
  l.reverse();
  EXPECT_EQ(l.to_vector(), (std::vector<std::string>{"z", "x"}));

  m.register_function<&add_long>("add");  // registered after start: the server has none
  auto v = m.Value<long>(5);
  v.set(v.get() + 1);
  EXPECT_EQ(v.get(), 6);
  EXPECT_THROW(v.update_with("add", 1L), std::out_of_range);  // KeyError from the server

  auto a = m.Array<double>(3);
  a.set(1, 2.5);
  EXPECT_EQ(a.to_vector(), (std::vector<double>{0, 2.5, 0}));
  EXPECT_EQ(a.size(), 3u);

  auto ns = m.Namespace();
  ns.set("x", 1);
  ns.set("name", std::string("n"));
  EXPECT_EQ(ns.get<int>("x"), 1);
  EXPECT_EQ(ns.get<std::string>("name"), "n");
  EXPECT_TRUE(ns.has("x"));
  EXPECT_THROW(ns.get<int>("nope"), RemoteError);
}

TEST(Manager, ObjectsDieWithTheirLastProxy) {
  SyncManager m = Manager();
  EXPECT_EQ(m.number_of_objects(), 0u);
  {
    auto d = m.dict<int, int>();
    auto copy = d;
    auto q = m.Queue<int>();
    EXPECT_EQ(m.number_of_objects(), 2u);
  }
  EXPECT_EQ(m.number_of_objects(), 0u);
}

TEST(Manager, AProxyInsideAManagedObjectIsTheSameObject) {
  SyncManager m = Manager();
  auto q = m.Queue<int>();
  auto d = m.dict<std::string, QueueProxy<int>>();
  d.set("q", q);
  QueueProxy<int> fetched = d["q"];
  fetched.put(42);
  EXPECT_EQ(q.get(true, 1), 42);
  EXPECT_EQ(fetched.id(), q.id());
}

int take_from(QueueProxy<int> q, int) { return q.get(true, 5); }

TEST(Manager, ProxiesAreValidPoolTaskArguments) {
  SyncManager m = Manager();
  auto q = m.Queue<int>();
  for (int i = 0; i < 6; ++i) q.put(i);
  Pool pool(2);
  std::vector<std::tuple<QueueProxy<int>, int>> tasks;
  for (int i = 0; i < 6; ++i) tasks.emplace_back(q, i);
  std::vector<int> got = pool.starmap(take_from, tasks);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

// ---- custom types ----

struct Counter {
  long n = 0;
  long add(long k) { return n += k; }
  long get() const { return n; }
  void fail() { throw std::runtime_error("counter failure"); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(n);
  }
};
const auto kAdd = exposed<&Counter::add>("add");
const auto kGet = exposed<&Counter::get>("get");
const auto kFail = exposed<&Counter::fail>("fail");

long add_from_child(Proxy<Counter> c, long k) { return c.call(kAdd, k); }

TYPED_TEST(ManagerModes, RegisteredTypeOnlyItsExposedMethods) {
  BaseManager m(std::nullopt, std::nullopt, this->options());
  m.register_type<Counter>("Counter", kAdd, kGet, kFail);
  m.start();
  Proxy<Counter> c = m.create<Counter>("Counter", Counter{10});
  EXPECT_EQ(c.call(kAdd, 5), 15);
  auto p = this->ctx().Process(add_from_child, c, 7L);
  p.start();
  p.join();
  EXPECT_EQ(c.call(kGet), 22);
  try {
    c.call<long>("set_to_zero");
    FAIL() << "an unexposed method was called";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "AttributeError");
    EXPECT_NE(e.message().find("set_to_zero"), std::string::npos);
  }
  try {
    c.call(kFail);
    FAIL();
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::runtime_error");
    EXPECT_EQ(e.message(), "counter failure");
  }
  EXPECT_THROW(m.create<Counter>("Unregistered"), RemoteError);
}

// ---- authentication, addresses ----

TEST(Manager, AWrongKeyIsRefusedAndReachesNoObject) {
  SyncManager server(Address("127.0.0.1", 0), std::string("right key"));
  server.start();
  auto d = server.dict<int, int>();
  SyncManager wrong(server.address(), std::string("wrong key"));
  EXPECT_THROW(wrong.connect(), AuthenticationError);
  SyncManager right(server.address(), std::string("right key"));
  right.connect();
  auto d2 = right.dict<int, int>();
  d2.set(1, 2);
  EXPECT_EQ(d2[1], 2);
  EXPECT_EQ(server.number_of_objects(), 2u);
}

void serve_on_any_port(Connection report) {
  SyncManager m(Address("127.0.0.1", 0), std::string("k"));
  ManagerServer server = m.get_server();
  report.send(server.address().port());
  server.serve_forever();
}

TEST(Manager, ServeForeverInAChildAndConnectOverTcp) {
  // The server of another program: here a spawned child running serve_forever.
  auto [mine, theirs] = Pipe();
  auto server = get_context("spawn").Process(serve_on_any_port, theirs);
  server.start();
  theirs.close();
  auto port = mine.recv<std::uint16_t>();
  SyncManager client(Address("127.0.0.1", port), std::string("k"));
  client.connect();
  auto d = client.dict<std::string, int>();
  d.set("x", 1);
  EXPECT_EQ(d["x"], 1);
  client.shutdown();
  EXPECT_TRUE(server.join(5));
  EXPECT_EQ(server.exitcode(), 0);
}

// ---- one connection, blocking calls, threads ----

TEST(Manager, ABlockedGetDoesNotStopOtherCallsOfTheProcess) {
  SyncManager m = Manager();
  auto q = m.Queue<int>();
  auto d = m.dict<int, int>();
  std::atomic<int> got{-1};
  std::thread getter([&] { got = q.get(); });
  auto start = Clock::now();
  for (int i = 0; i < 100; ++i) d.set(i, i);
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_EQ(got.load(), -1);
  q.put(5);
  getter.join();
  EXPECT_EQ(got.load(), 5);
}

TEST(Manager, AThousandThreadsShareOneSocket) {
  SyncManager m = Manager();
  auto d = m.dict<int, int>();
  d.set(-1, 0);  // the connection exists
  int before = open_fds();
  std::atomic<int> max_fds{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 1000; ++t) {
    threads.emplace_back([&, t] {
      d.set(t, t);
      int n = open_fds();
      int seen = max_fds.load();
      while (n > seen && !max_fds.compare_exchange_weak(seen, n)) {
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(d.size(), 1001u);
  // /proc/self/fd itself is one descriptor per thread reading it at the same time.
  EXPECT_LE(max_fds.load() - before, 1000 + 2);
  EXPECT_EQ(open_fds(), before);
}

TEST(Manager, AForkedChildUsesItsOwnConnection) {
  SyncManager m = Manager();
  auto d = m.dict<int, int>();
  d.set(0, 0);
  auto p = get_context("fork").Process(
      +[](DictProxy<int, int> d) {
        for (int i = 1; i <= 200; ++i) d.set(i, i);
      },
      d);
  p.start();
  for (int i = 0; i < 200; ++i) d.set(-i - 1, i);  // the parent's socket at the same time
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(d.size(), 401u);
}

// ---- the server's death, a holder's death ----

TEST(Manager, EveryCallFailsWithManagerGoneWhenTheServerIsKilled) {
  ManagerOptions o;
  o.context = get_context("fork");
  SyncManager m(std::nullopt, std::nullopt, o);
  m.start();
  auto q = m.Queue<int>();
  auto lock = m.Lock();
  lock.acquire();
  std::atomic<int> gone{0};
  std::atomic<double> slowest{0};
  std::atomic<bool> killed{false};
  Clock::time_point kill_time;
  auto expect_gone = [&](auto f) {
    try {
      f();
    } catch (const ManagerGone&) {
      while (!killed) std::this_thread::yield();
      slowest = std::max(slowest.load(), seconds_since(kill_time));
      ++gone;
    }
  };
  std::thread a([&] { expect_gone([&] { (void)q.get(); }); });
  std::thread b([&] { expect_gone([&] { (void)lock.acquire(); }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill_time = Clock::now();
  ::kill(m.process()->pid(), SIGKILL);
  killed = true;
  a.join();
  b.join();
  EXPECT_EQ(gone.load(), 2);
  EXPECT_LT(slowest.load(), 1.0);
  EXPECT_THROW(q.put(1), ManagerGone);
}

TEST(Manager, ALockWhoseHolderDiedIsReleasedWithOwnerDied) {
  SyncManager m = Manager();
  auto lock = m.Lock();
  auto held = m.Event();
  auto p = get_context("fork").Process(hold_lock_then_sleep, lock, held);
  p.start();
  ASSERT_TRUE(held.wait(5));
  EXPECT_FALSE(lock.acquire(true, 0.05));
  p.kill();
  p.join();
  EXPECT_THROW(lock.acquire(true, 5), OwnerDied);
  EXPECT_TRUE(lock.locked());  // held by us now
  lock.release();
  EXPECT_TRUE(lock.acquire(false));
}

// ---- synchronization proxies ----

TEST(Manager, SynchronizationObjects) {
  SyncManager m = Manager();
  auto e = m.Event();
  EXPECT_FALSE(e.wait(0.02));
  e.set();
  EXPECT_TRUE(e.wait());

  auto s = m.BoundedSemaphore(1);
  EXPECT_TRUE(s.acquire());
  EXPECT_FALSE(s.acquire(true, 0.02));
  s.release();
  EXPECT_THROW(s.release(), std::invalid_argument);

  auto r = m.RLock();
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire());
  r.release();
  r.release();
  EXPECT_THROW(r.release(), std::logic_error);

  auto q = m.Queue<int>(1);
  q.put(1);
  EXPECT_THROW(q.put(2, true, 0.02), Full);
  EXPECT_EQ(q.get(), 1);
  EXPECT_THROW(q.get(false), Empty);

  auto jq = m.JoinableQueue<int>();
  jq.put(1);
  EXPECT_FALSE(jq.join(0.02));
  (void)jq.get();
  jq.task_done();
  EXPECT_TRUE(jq.join(1));
  EXPECT_THROW(jq.task_done(), std::invalid_argument);

  auto b = m.Barrier(3);
  std::vector<std::thread> parties;
  std::atomic<int> index_sum{0};
  for (int i = 0; i < 3; ++i)
    parties.emplace_back([&] { index_sum += static_cast<int>(b.wait(5)); });
  for (auto& t : parties) t.join();
  EXPECT_EQ(index_sum.load(), 0 + 1 + 2);
  EXPECT_THROW(b.wait(0.02), BrokenBarrierError);  // alone: times out and breaks

  auto c = m.Condition();
  auto ready = m.Value<int>(0);
  std::thread waiter([&] {
    c.acquire();
    EXPECT_TRUE(c.wait_for([&] { return ready.get() == 1; }, 5));
    c.release();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  c.acquire();
  ready.set(1);
  c.notify_all();
  c.release();
  waiter.join();
  EXPECT_THROW(c.notify(), std::logic_error);  // not held
}

// ---- timeouts ----

// A timeout longer than the server's clock can count (over 292 years in nanoseconds, or
// infinity) is no limit: it used to overflow the conversion and expire at once.
TEST(Manager, ATimeoutTooLongForTheClockIsNoLimit) {
  SyncManager m = Manager();
  auto e = m.Event();
  auto q = m.Queue<int>();
  for (double t : {1e10, 1e300, std::numeric_limits<double>::infinity()}) {
    e.clear();
    std::thread later([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      e.set();
      q.put(1);
    });
    bool set = e.wait(t);
    std::optional<int> got;
    try {
      got = q.get(true, t);
    } catch (const Empty&) {  // timed out: the failure checked below
    }
    later.join();
    EXPECT_TRUE(set) << "timeout " << t;
    EXPECT_EQ(got, std::optional<int>(1)) << "timeout " << t;
  }
}

// ---- bad input ----

TEST(Manager, AMalformedMessageDropsOnlyItsConnection) {
  SyncManager m = Manager();
  auto d = m.dict<int, int>();
  d.set(1, 1);
  Connection raw = Client(m.address());
  raw.send_bytes(std::string("this is not a request at all, but it is framed"));
  EXPECT_THROW((void)raw.recv_bytes(), EOFError);  // the server closed it
  Connection raw2 = Client(m.address());
  std::uint64_t huge = std::uint64_t{1} << 40;
  ::write(raw2.fileno(), &huge, sizeof huge);
  EXPECT_THROW((void)raw2.recv_bytes(), EOFError);
  EXPECT_EQ(d[1], 1);  // everyone else is served
}

// A server that hangs up during the challenge (it died, or gave up) is gone; it says
// nothing about the key. Found by ManagerProps.EveryCallAfterTheServerDiedFailsWithManagerGone.
TEST(Manager, AServerThatHangsUpDuringTheChallengeIsGoneNotAWrongKey) {
  Listener listener(Address::arbitrary(), 1, kNoAuthentication);
  std::thread hang_up([&] { listener.accept().close(); });
  BaseManager m(listener.address(), std::string("key"));
  EXPECT_THROW(m.connect(), ManagerGone);
  hang_up.join();
}

// The owner's connection to a server it shut down is closed (it was kept open for good:
// one descriptor lost per manager). Found by ManagerProps' leak check.
TEST(Manager, ShuttingDownClosesThisProcesssConnection) {
  const int before = open_fds();
  for (int i = 0; i < 3; ++i) {
    SyncManager m = Manager();
    auto d = m.dict<int, int>();
    d.set(1, i);
    EXPECT_EQ(d[1], i);
  }
  EXPECT_EQ(open_fds(), before);
}

}  // namespace
}  // namespace mp
