// mp::Barrier under every start method (CPython's test_multiprocessing barrier behaviours:
// lockstep passes, one index 0 per pass, action, abort, reset, timeout).
#include "mp/barrier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mp/detail/segment.h"
#include "mp/errors.h"
#include "mp/process.h"
#include "mp/serialize.h"

namespace mp {
namespace {

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
class BarrierTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
  static constexpr bool kIsSpawn = std::is_same_v<Mode, Spawn> || std::is_same_v<Mode, Forkserver>;
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(BarrierTest, Modes, ModeNames);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::atomic<int>* ints(const detail::SegmentRef& ref) {
  return static_cast<std::atomic<int>*>(ref.data());
}

constexpr int kParties = 5;
constexpr int kPasses = 100;

// Layout of the shared ints: [pass] arrivals, then [kPasses + pass * kParties + i] index.
void lockstep(Barrier barrier, detail::SegmentRef ref, int me) {
  std::atomic<int>* arrivals = ints(ref);
  std::atomic<int>* indices = ints(ref) + kPasses;
  for (int pass = 0; pass < kPasses; ++pass) {
    arrivals[pass].fetch_add(1);
    auto index = barrier.wait(30);
    indices[pass * kParties + me].store(static_cast<int>(index));
    if (arrivals[pass].load() != kParties) throw std::runtime_error("left the barrier early");
    if (pass + 1 < kPasses && arrivals[pass + 1].load() > kParties)
      throw std::runtime_error("too many in the next pass");
  }
}

void expect_broken(Barrier barrier) {
  try {
    (void)barrier.wait(30);
  } catch (const BrokenBarrierError&) {
    return;
  }
  throw std::runtime_error("wait returned on a broken barrier");
}

void just_wait(Barrier barrier) { (void)barrier.wait(30); }

bool wait_n_waiting(Barrier& barrier, std::size_t n) {
  auto start = Clock::now();
  while (barrier.n_waiting() != n) {
    if (seconds_since(start) > 10) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TYPED_TEST(BarrierTest, FivePartiesStayInLockstepWithOneIndexZeroPerPass) {
  Barrier barrier(kParties);
  detail::SegmentRef ref(
      detail::Segment::create(sizeof(int) * (kPasses + kPasses * kParties), "barrier"));
  std::vector<Process> children;
  for (int i = 0; i < kParties; ++i)
    children.push_back(this->ctx().Process(lockstep, barrier, ref, i));
  for (auto& c : children) c.start();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(120));
    EXPECT_EQ(c.exitcode(), 0);
  }
  std::atomic<int>* indices = ints(ref) + kPasses;
  for (int pass = 0; pass < kPasses; ++pass) {
    std::vector<int> seen(kParties, 0);
    for (int i = 0; i < kParties; ++i) {
      int index = indices[pass * kParties + i].load();
      ASSERT_GE(index, 0);
      ASSERT_LT(index, kParties);
      ++seen[index];
    }
    for (int index = 0; index < kParties; ++index)
      EXPECT_EQ(seen[index], 1) << "pass " << pass << " index " << index;
  }
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
}

TYPED_TEST(BarrierTest, AbortBreaksTheWaitersUntilReset) {
  Barrier barrier(3);
  std::vector<Process> children;
  for (int i = 0; i < 2; ++i) children.push_back(this->ctx().Process(expect_broken, barrier));
  for (auto& c : children) c.start();
  ASSERT_TRUE(wait_n_waiting(barrier, 2));
  barrier.abort();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(30));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW((void)barrier.wait(1), BrokenBarrierError);
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  // A full pass works again.
  std::vector<Process> again;
  for (int i = 0; i < 2; ++i) again.push_back(this->ctx().Process(just_wait, barrier));
  for (auto& c : again) c.start();
  EXPECT_NO_THROW((void)barrier.wait(30));
  for (auto& c : again) {
    ASSERT_TRUE(c.join(30));
    EXPECT_EQ(c.exitcode(), 0);
  }
}

TYPED_TEST(BarrierTest, ResetBreaksTheCurrentWaiters) {
  Barrier barrier(3);
  std::vector<Process> children;
  for (int i = 0; i < 2; ++i) children.push_back(this->ctx().Process(expect_broken, barrier));
  for (auto& c : children) c.start();
  ASSERT_TRUE(wait_n_waiting(barrier, 2));
  barrier.reset();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(30));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

// The action counts passes in a segment every process maps: a plain function, so that a
// spawned child can run it too (whichever process arrives last runs it).
// Atomic: in thread mode every "process" sets it (to the same segment).
std::atomic<std::atomic<int>*> g_action_runs{nullptr};
void count_pass() { g_action_runs.load()->fetch_add(1); }

void wait_ten_times(Barrier barrier, detail::SegmentRef runs) {
  g_action_runs = ints(runs);
  for (int i = 0; i < 10; ++i) (void)barrier.wait(30);
}

TYPED_TEST(BarrierTest, ActionRunsOncePerPassInOneProcess) {
  detail::SegmentRef runs(detail::Segment::create(64, "runs"));
  g_action_runs = ints(runs);
  Barrier barrier(3, count_pass);
  auto p1 = this->ctx().Process(wait_ten_times, barrier, runs);
  auto p2 = this->ctx().Process(wait_ten_times, barrier, runs);
  p1.start();
  p2.start();
  for (int i = 0; i < 10; ++i) (void)barrier.wait(30);
  ASSERT_TRUE(p1.join(30));
  ASSERT_TRUE(p2.join(30));
  EXPECT_EQ(p1.exitcode(), 0);
  EXPECT_EQ(p2.exitcode(), 0);
  EXPECT_EQ(ints(runs)[0].load(), 10);
}

TEST(Barrier, TimeoutBreaksTheBarrier) {
  Barrier barrier(2);
  auto start = Clock::now();
  EXPECT_THROW((void)barrier.wait(0.1), BrokenBarrierError);
  EXPECT_GE(seconds_since(start), 0.09);
  EXPECT_TRUE(barrier.broken());
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
}

TEST(Barrier, DefaultTimeoutApplies) {
  Barrier barrier(2, {}, 0.1);
  EXPECT_THROW((void)barrier.wait(), BrokenBarrierError);
}

TEST(Barrier, ThrowingActionBreaksTheBarrierAndPropagates) {
  Barrier barrier(1, [] { throw std::runtime_error("action failed"); });
  EXPECT_THROW((void)barrier.wait(), std::runtime_error);
  EXPECT_TRUE(barrier.broken());
}

TEST(Barrier, OnePartyNeverWaits) {
  Barrier barrier(1);
  EXPECT_EQ(barrier.wait(), 0u);
  EXPECT_EQ(barrier.wait(), 0u);
  EXPECT_EQ(barrier.parties(), 1u);
  EXPECT_THROW(Barrier(0), std::invalid_argument);
}

TEST(Barrier, OnlyAPlainFunctionActionCanBeSerializedForSpawn) {
  int captured = 0;
  Barrier capturing(2, [&captured] { ++captured; });
  EXPECT_THROW(mp::serialize(capturing), ProcessError);
  Barrier plain(1, [] { g_action_runs.load()->fetch_add(1); });  // captureless: a plain function
  std::atomic<int> runs{0};
  g_action_runs = &runs;
  auto copy = mp::deserialize<Barrier>(mp::serialize(plain));
  EXPECT_EQ(copy.parties(), 1u);
  EXPECT_EQ(copy.wait(), 0u);
  EXPECT_EQ(runs.load(), 1);
  auto none = mp::deserialize<Barrier>(mp::serialize(Barrier(2)));
  EXPECT_EQ(none.parties(), 2u);
}

}  // namespace
}  // namespace mp
