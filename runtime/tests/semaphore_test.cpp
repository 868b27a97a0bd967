// mp::Semaphore and mp::BoundedSemaphore under every start method (CPython's
// test_multiprocessing semaphore behaviours).
#include "mp/semaphore.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mp/detail/segment.h"
#include "mp/process.h"

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
class SemaphoreTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(SemaphoreTest, Modes, ModeNames);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::atomic<int>* ints(const detail::SegmentRef& ref) {
  return static_cast<std::atomic<int>*>(ref.data());
}

void release_after(Semaphore sem, double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  sem.release();
}

void take_one(Semaphore sem, detail::SegmentRef done) {
  if (!sem.acquire(true, 30)) throw std::runtime_error("acquire timed out");
  ints(done)[0].fetch_add(1);
}

// At most `limit` processes are inside at once: [0] inside now, [1] the most ever seen.
void enter_limited(Semaphore sem, detail::SegmentRef ref) {
  for (int i = 0; i < 200; ++i) {
    std::lock_guard guard(sem);
    int inside = ints(ref)[0].fetch_add(1) + 1;
    int seen = ints(ref)[1].load();
    while (inside > seen && !ints(ref)[1].compare_exchange_weak(seen, inside)) {
    }
    std::this_thread::yield();
    ints(ref)[0].fetch_sub(1);
  }
}

TEST(Semaphore, ZeroSemaphoreTimedAcquireReturnsFalseAfterAboutTheTimeout) {
  Semaphore sem(0);
  auto start = Clock::now();
  EXPECT_FALSE(sem.acquire(true, 0.1));
  double took = seconds_since(start);
  EXPECT_GE(took, 0.09);
  EXPECT_LT(took, 1.0);
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(true, 0));
}

TEST(Semaphore, CountsUnits) {
  Semaphore sem(2);
  EXPECT_EQ(sem.get_value(), 2);
  EXPECT_TRUE(sem.acquire());
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_EQ(sem.get_value(), 0);
  sem.release(3);
  EXPECT_EQ(sem.get_value(), 3);  // an unbounded Semaphore may exceed its initial value
  EXPECT_THROW(sem.release(0), std::invalid_argument);
  EXPECT_THROW(Semaphore(-1), std::invalid_argument);
}

TEST(BoundedSemaphore, ReleasePastTheInitialValueThrowsAndAddsNothing) {
  BoundedSemaphore sem(2);
  EXPECT_THROW(sem.release(), std::invalid_argument);
  EXPECT_EQ(sem.get_value(), 2);
  ASSERT_TRUE(sem.acquire());
  EXPECT_THROW(sem.release(2), std::invalid_argument);
  EXPECT_EQ(sem.get_value(), 1);
  sem.release();
  EXPECT_EQ(sem.get_value(), 2);
}

TYPED_TEST(SemaphoreTest, ReleaseInChildWakesBlockedParent) {
  Semaphore sem(0);
  auto p = this->ctx().Process(release_after, sem, 0.1);
  p.start();
  auto start = Clock::now();
  EXPECT_TRUE(sem.acquire(true, 30));
  EXPECT_GE(seconds_since(start), 0.05);
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(SemaphoreTest, ReleaseNWakesNWaiters) {
  Semaphore sem(0);
  detail::SegmentRef done(detail::Segment::create(64, "done"));
  std::vector<Process> children;
  for (int i = 0; i < 3; ++i) children.push_back(this->ctx().Process(take_one, sem, done));
  for (auto& c : children) c.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(ints(done)[0].load(), 0);
  sem.release(2);
  auto start = Clock::now();
  while (ints(done)[0].load() < 2 && seconds_since(start) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(ints(done)[0].load(), 2);
  sem.release();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(30));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_EQ(ints(done)[0].load(), 3);
  EXPECT_EQ(sem.get_value(), 0);
}

TYPED_TEST(SemaphoreTest, AtMostValueProcessesInsideAtOnce) {
  Semaphore sem(2);
  detail::SegmentRef ref(detail::Segment::create(64, "inside"));
  std::vector<Process> children;
  for (int i = 0; i < 4; ++i) children.push_back(this->ctx().Process(enter_limited, sem, ref));
  for (auto& c : children) c.start();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(60));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_LE(ints(ref)[1].load(), 2);
  EXPECT_GE(ints(ref)[1].load(), 1);
  EXPECT_EQ(sem.get_value(), 2);
}

}  // namespace
}  // namespace mp
