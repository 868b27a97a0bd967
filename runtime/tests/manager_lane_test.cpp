// The shared-memory lane of a manager connection (runtime/src/byte_lane.h): its rings carry
// any stream of bytes in order across every wrap, refuse impossible counters and unsealed or
// mis-sized memory, and wake a parked side exactly once; and a local manager's clients use
// it (seen in /proc/self/maps) unless told not to, for every size of message and from many
// threads at once, and still learn at once that their manager died.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "byte_lane.h"
#include "mp/errors.h"
#include "mp/managers.h"
#include "mp/process.h"
#include "proc_self.h"

namespace mp {
namespace {

using detail::manager::Lane;
using Clock = std::chrono::steady_clock;

// ---- the rings ----

// Bytes written in chunks of arbitrary sizes come out, in chunks of other arbitrary sizes,
// as the same stream, however often the ring wraps; a full ring takes nothing, an empty one
// gives nothing.
TEST(LaneRing, CarriesAnyStreamInOrder) {
  EXPECT_TRUE(rc::check("a stream through a ring comes out whole and in order", [] {
    const auto capacity = *rc::gen::element<std::uint64_t>(4096, 8192);
    auto lane = Lane::create(capacity);
    auto writer = lane->requests_writer();
    auto reader = lane->requests_reader();
    const auto stream = *rc::gen::container<std::string>(
        *rc::gen::inRange<std::size_t>(0, 6 * capacity), rc::gen::arbitrary<char>());
    const auto write_sizes = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::size_t>>(
        rc::gen::inRange<std::size_t>(1, 3 * capacity)));
    const auto read_sizes = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::size_t>>(
        rc::gen::inRange<std::size_t>(1, 3 * capacity)));
    std::string out;
    std::size_t written = 0;
    std::vector<char> chunk(3 * capacity);
    for (std::size_t round = 0; out.size() < stream.size(); ++round) {
      const std::size_t w =
          std::min(write_sizes[round % write_sizes.size()], stream.size() - written);
      const std::int64_t n = writer.write_some(stream.data() + written, w);
      RC_ASSERT(n >= 0);
      RC_ASSERT(static_cast<std::uint64_t>(n) <= capacity - (written - out.size()));
      written += static_cast<std::size_t>(n);
      const std::int64_t m = reader.read_some(chunk.data(), read_sizes[round % read_sizes.size()]);
      RC_ASSERT(m >= 0);
      RC_ASSERT(static_cast<std::size_t>(m) <= written - out.size());
      out.append(chunk.data(), static_cast<std::size_t>(m));
    }
    RC_ASSERT(out == stream);
    RC_ASSERT(reader.read_some(chunk.data(), chunk.size()) == 0);
    RC_ASSERT(writer.drained());
  }));
}

TEST(LaneRing, AFullRingTakesNothingUntilItIsRead) {
  auto lane = Lane::create(4096);
  auto writer = lane->replies_writer();
  auto reader = lane->replies_reader();
  const std::string block(4096, 'x');
  EXPECT_EQ(writer.write_some(block.data(), block.size()), 4096);
  EXPECT_EQ(writer.write_some("y", 1), 0);
  char buffer[100];
  EXPECT_EQ(reader.read_some(buffer, sizeof buffer), 100);
  EXPECT_EQ(writer.write_some(block.data(), block.size()), 100);
}

// The peer's counter is shared memory it may have overwritten: an impossible one is an error,
// never a read or write out of the ring.
TEST(LaneRing, ImpossibleCountersOfThePeerAreErrors) {
  auto lane = Lane::create(4096);
  const int fd = ::dup(lane->fd());
  ASSERT_GE(fd, 0);
  void* raw = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(raw, MAP_FAILED);
  auto* ring = reinterpret_cast<detail::manager::LaneRing*>(static_cast<char*>(raw) + 64);

  auto reader = lane->requests_reader();
  ring->tail.store(4097);  // more than the ring holds
  char buffer[16];
  EXPECT_EQ(reader.read_some(buffer, sizeof buffer), -1);
  EXPECT_EQ(reader.available(), -1);
  ring->tail.store(0);

  auto writer = lane->requests_writer();
  const std::string block(4096, 'x');
  ASSERT_EQ(writer.write_some(block.data(), block.size()), 4096);
  ring->head.store(5000);  // past what was written
  EXPECT_EQ(writer.write_some("y", 1), -1);
  ::munmap(raw, 4096);
  ::close(fd);
}

// A parked reader is rung once per park; an unparked one never.
TEST(LaneRing, AParkedSideIsRungOncePerPark) {
  auto lane = Lane::create(4096);
  auto writer = lane->requests_writer();
  auto reader = lane->requests_reader();
  ASSERT_EQ(writer.write_some("a", 1), 1);
  EXPECT_FALSE(writer.take_reader_parked());
  reader.park();
  EXPECT_EQ(reader.available(), 1);  // looked again after parking: no sleep needed
  ASSERT_EQ(writer.write_some("b", 1), 1);
  EXPECT_TRUE(writer.take_reader_parked());
  EXPECT_FALSE(writer.take_reader_parked());
  writer.park();
  char buffer[2];
  ASSERT_EQ(reader.read_some(buffer, 1), 1);
  ASSERT_EQ(reader.read_some(buffer, 2), 1);  // what the last look at the tail found
  ASSERT_EQ(reader.read_some(buffer, 2), 0);
  EXPECT_TRUE(reader.take_writer_parked());
  EXPECT_FALSE(reader.take_writer_parked());
}

TEST(LaneRing, OnlyASealedLaneOfTheAgreedSizeIsAdopted) {
  std::string why;
  {
    auto lane = Lane::create(4096);
    EXPECT_EQ(Lane::adopt(::dup(lane->fd()), 8192, why), nullptr);
    EXPECT_NE(why.find("not a lane of"), std::string::npos) << why;
    auto adopted = Lane::adopt(::dup(lane->fd()), 4096, why);
    EXPECT_NE(adopted, nullptr) << why;
  }
  {
    // The right size, but a memfd that could shrink under the server (a SIGBUS there).
    int fd = ::memfd_create("not-sealed", MFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4096 + 2 * 4096), 0);
    EXPECT_EQ(Lane::adopt(fd, 4096, why), nullptr);
    EXPECT_NE(why.find("not sealed"), std::string::npos) << why;
  }
  EXPECT_EQ(Lane::adopt(::dup(0), 1000, why), nullptr);  // not a power of two
  EXPECT_THROW(Lane::create(1000), std::invalid_argument);
}

// ---- a manager's clients on the lane ----

// The lanes this process has mapped (the memfd's name shows in /proc/self/maps).
int lanes_mapped() {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);)
    if (line.find("mp.manager.lane") != std::string::npos) ++n;
  return n;
}

ManagerOptions forked(bool shared_memory) {
  ManagerOptions o;
  o.context = get_context("fork");
  o.shared_memory = shared_memory;
  return o;
}

TEST(ManagerLane, ALocalClientTalksThroughTheLaneUnlessToldNot) {
  const int before = lanes_mapped();
  {
    SyncManager manager(std::nullopt, std::nullopt, forked(true));
    manager.start();
    auto d = manager.dict<int, int>();
    d.set(1, 2);
    EXPECT_EQ(d.get(1), 2);
    EXPECT_EQ(lanes_mapped(), before + 1);
  }
  {
    SyncManager manager(std::nullopt, std::nullopt, forked(false));
    manager.start();
    auto d = manager.dict<int, int>();
    d.set(1, 2);
    EXPECT_EQ(d.get(1), 2);
    EXPECT_LE(lanes_mapped(), before + 1);  // the first manager's link may still be cached
  }
}

TEST(ManagerLane, TcpClientsHaveNoLane) {
  const int before = lanes_mapped();
  SyncManager manager(Address("127.0.0.1", 0), std::string("tcp-key"), forked(true));
  manager.start();
  auto d = manager.dict<int, int>();
  d.set(1, 2);
  EXPECT_EQ(d.get(1), 2);
  EXPECT_EQ(lanes_mapped(), before);
}

// Messages many times the ring's size stream through it both ways.
TEST(ManagerLane, MessagesLargerThanTheRingsStreamThrough) {
  SyncManager manager(std::nullopt, std::nullopt, forked(true));
  manager.start();
  auto d = manager.dict<int, std::string>();
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{262'143},
                           std::size_t{262'144}, std::size_t{3} << 20, std::size_t{9'999'999}}) {
    std::string value(size, '\0');
    for (std::size_t i = 0; i < size; ++i) value[i] = static_cast<char>(i * 131 + size);
    d.set(1, value);
    EXPECT_EQ(d.get(1), value) << size;
  }
}

// Threads share the process's one lane; every reply reaches its own caller.
TEST(ManagerLane, ManyThreadsShareTheLane) {
  SyncManager manager(std::nullopt, std::nullopt, forked(true));
  manager.start();
  auto d = manager.dict<int, std::string>();
  const int before = lanes_mapped();
  constexpr int kThreads = 16;
  constexpr int kCalls = 300;
  std::vector<std::thread> threads;
  std::vector<int> wrong(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const std::string value = std::string(static_cast<std::size_t>(i % 7) * 1000, 'v') +
                                  std::to_string(t) + ":" + std::to_string(i);
        d.set(t, value);
        if (d.get(t) != value) ++wrong[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
  EXPECT_EQ(lanes_mapped(), before);  // no lane per thread
}

void count_up(DictProxy<int, int> d) {
  for (int i = 1; i <= 1000; ++i) d.set(i, d.get(i - 1) + 1);
}

// A forked child makes its own lane; its parent's is not its to use.
TEST(ManagerLane, AForkedChildTalksThroughItsOwnLane) {
  SyncManager manager(std::nullopt, std::nullopt, forked(true));
  manager.start();
  auto d = manager.dict<int, int>();
  d.set(0, 1);
  Process child(count_up, d);
  child.start();
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_EQ(d.get(1000), 1001);
}

// The lane does not hide a death: a call blocked in the server fails promptly.
TEST(ManagerLane, ACallBlockedThroughTheLaneFailsWhenTheManagerDies) {
  SyncManager manager(std::nullopt, std::nullopt, forked(true));
  manager.start();
  auto q = manager.Queue<int>();
  const pid_t server = manager.process()->pid();
  std::thread killer([server] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::kill(server, SIGKILL);
  });
  const auto start = Clock::now();
  EXPECT_THROW(q.get(), ManagerGone);
  killer.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

// Waits until `pid` is in /proc state `state` ('T': stopped).
void await_state(pid_t pid, char state) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (testing_proc::process_state(pid) != state) {
    ASSERT_LT(Clock::now(), deadline) << "process " << pid << " never reached state " << state;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void get_and_report(QueueProxy<int> q) {
  try {
    std::_Exit(q.get() == 7 ? 0 : 2);
  } catch (const ManagerGone&) {
    std::_Exit(3);
  }
}

// What the server sent before it died reaches the caller, through the lane as through the
// socket (whose buffered bytes come before its EOF). The caller is stopped while the server
// answers it and dies, so that it wakes to find both the reply and the end.
TEST(ManagerLane, AReplySentBeforeTheServerDiedIsDelivered) {
  for (bool shared_memory : {true, false}) {
    SyncManager manager(std::nullopt, std::nullopt, forked(shared_memory));
    manager.start();
    auto q = manager.Queue<int>();
    Process child(get_and_report, q);
    child.start();
    // Blocked in get, asleep in poll (spinning ends within microseconds), then stopped.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::kill(child.pid(), SIGSTOP);
    await_state(child.pid(), 'T');
    q.put(7);
    (void)q.qsize();  // a round trip after the put: the child's reply has been written
    manager.process()->kill();
    manager.process()->join();
    ::kill(child.pid(), SIGCONT);
    ASSERT_TRUE(child.join(10));
    EXPECT_EQ(child.exitcode(), 0)
        << (shared_memory ? "lane" : "socket") << ": exit 3 is ManagerGone, 2 a wrong item";
  }
}

}  // namespace
}  // namespace mp
