// mp::Lock, mp::RLock and mp::LockGuard under every start method: CPython's
// test_multiprocessing lock behaviours, mutual exclusion, and robustness to a dead holder.
#include "mp/lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "mp/detail/segment.h"
#include "mp/errors.h"
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
struct ModeNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, Fork>) return "Fork";
    if constexpr (std::is_same_v<T, Spawn>) return "Spawn";
    return "Thread";
  }
};

template <class Mode>
class LockTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
  static constexpr bool kIsThread = std::is_same_v<Mode, Thread>;
};
using Modes = testing::Types<Fork, Spawn, Thread>;
TYPED_TEST_SUITE(LockTest, Modes, ModeNames);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::atomic<int>& counter_in(const detail::SegmentRef& ref) {
  return *static_cast<std::atomic<int>*>(ref.data());
}

// ---- child targets (plain functions, so that spawn finds them) ----

template <class L>
void expect_try_fails(L lock) {
  if (lock.acquire(false)) throw std::runtime_error("acquire(false) on a held lock succeeded");
}

template <class L>
void expect_timeout(L lock, double timeout) {
  auto start = Clock::now();
  if (lock.acquire(true, timeout)) throw std::runtime_error("acquire succeeded on a held lock");
  double took = seconds_since(start);
  if (took < timeout * 0.9 || took > timeout + 1.0)
    throw std::runtime_error("timed out after " + std::to_string(took) + " s");
}

template <class L>
void increment_many(L lock, detail::SegmentRef ref, int n) {
  // A plain read-modify-write: only mutual exclusion makes the total exact.
  auto* value = static_cast<int*>(ref.data()) + 16;
  for (int i = 0; i < n; ++i) {
    std::lock_guard guard(lock);
    int v = *value;
    *value = v + 1;
  }
}

template <class L>
void hold_and_report(L lock, detail::SegmentRef flag) {
  lock.lock();
  counter_in(flag).store(1);
}

template <class L>
void hold_until_killed(L lock, detail::SegmentRef flag) {
  lock.lock();
  counter_in(flag).store(1);
  for (;;) ::pause();
}

void release_foreign_rlock(RLock lock) {
  try {
    lock.release();
  } catch (const std::logic_error&) {
    return;
  }
  throw std::runtime_error("a non-owner released an RLock");
}

void wait_for_flag(const detail::SegmentRef& flag) {
  while (counter_in(flag).load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// ---- Lock ----

TEST(Lock, AcquireFalseOnHeldLockIsFalse) {
  Lock lock;
  ASSERT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire(false));
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, ReleasingAnUnlockedLockThrowsAndChangesNothing) {
  Lock lock;
  EXPECT_THROW(lock.release(), std::logic_error);
  ASSERT_TRUE(lock.acquire(false));
  lock.release();
  EXPECT_THROW(lock.release(), std::logic_error);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, WorksWithStandardGuards) {
  Lock a;
  RLock b;
  {
    std::scoped_lock both(a, b);
    EXPECT_TRUE(a.locked());
    EXPECT_TRUE(b.is_mine());
  }
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
  {
    LockGuard guard(a);
    EXPECT_TRUE(a.locked());
  }
  EXPECT_FALSE(a.locked());
}

TEST(Lock, SelfAcquireTimesOutInsteadOfSucceeding) {
  Lock lock;
  lock.lock();
  auto start = Clock::now();
  EXPECT_FALSE(lock.acquire(true, 0.1));
  EXPECT_GE(seconds_since(start), 0.09);
  lock.unlock();
}

TYPED_TEST(LockTest, AcquireFalseInChildOnLockHeldByParentIsFalse) {
  Lock lock;
  lock.lock();
  auto p = this->ctx().Process(expect_try_fails<Lock>, lock);
  p.start();
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  lock.unlock();
}

TYPED_TEST(LockTest, TimedAcquireInChildReturnsFalseAfterAboutTheTimeout) {
  Lock lock;
  lock.lock();
  auto p = this->ctx().Process(expect_timeout<Lock>, lock, 0.2);
  p.start();
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  lock.unlock();
}

TYPED_TEST(LockTest, FourProcessesIncrementingUnderTheLockLoseNothing) {
  Lock lock;
  auto segment = detail::Segment::create(4096, "counter");
  detail::SegmentRef ref(segment);
  constexpr int kPer = 20000;
  std::vector<Process> children;
  for (int i = 0; i < 4; ++i)
    children.push_back(this->ctx().Process(increment_many<Lock>, lock, ref, kPer));
  for (auto& c : children) c.start();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(60));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_EQ(static_cast<int*>(ref.data())[16], 4 * kPer);
}

TYPED_TEST(LockTest, ReleaseInParentOfLockTakenInChild) {
  Lock lock;
  detail::SegmentRef flag(detail::Segment::create(64, "flag"));
  auto p = this->ctx().Process(hold_and_report<Lock>, lock, flag);
  p.start();
  ASSERT_TRUE(p.join(30));
  EXPECT_TRUE(lock.locked());
  lock.release();  // Python's Lock may be released by another process
  EXPECT_FALSE(lock.locked());
}

// A holder that dies (SIGKILL for a process; a thread that returns in thread mode) makes
// the next acquirer see OwnerDied promptly, holding the lock.
template <class L, class Test>
void check_owner_died(Test* test) {
  L lock;
  detail::SegmentRef flag(detail::Segment::create(64, "flag"));
  constexpr bool kThread = Test::kIsThread;
  auto p = kThread ? test->ctx().Process(hold_and_report<L>, lock, flag)
                   : test->ctx().Process(hold_until_killed<L>, lock, flag);
  p.start();
  wait_for_flag(flag);
  if constexpr (!kThread) p.kill();
  auto start = Clock::now();
  bool died = false;
  try {
    (void)lock.acquire(true, 10);
  } catch (const OwnerDied& e) {
    died = true;
    EXPECT_NE(std::string(e.what()).find("died"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(died);
  EXPECT_LT(seconds_since(start), 1.0);
  ASSERT_TRUE(p.join(30));
  // Released without mark_consistent: the next acquirer is told too.
  lock.release();
  EXPECT_THROW((void)lock.acquire(true, 10), OwnerDied);
  lock.mark_consistent();
  lock.release();
  ASSERT_TRUE(lock.acquire(true, 10));
  lock.release();
}

TYPED_TEST(LockTest, HolderDeathGivesOwnerDiedWithinASecond) { check_owner_died<Lock>(this); }

TYPED_TEST(LockTest, RLockHolderDeathGivesOwnerDiedWithinASecond) { check_owner_died<RLock>(this); }

TEST(Lock, MarkConsistentWithoutHoldingThrows) {
  Lock lock;
  EXPECT_THROW(lock.mark_consistent(), std::logic_error);
}

// ---- RLock ----

TEST(RLock, TakenThreeTimesReleasesThreeTimesAndTheFourthThrows) {
  RLock lock;
  ASSERT_TRUE(lock.acquire());
  ASSERT_TRUE(lock.acquire());
  ASSERT_TRUE(lock.acquire(false));
  lock.release();
  lock.release();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), std::logic_error);
}

TYPED_TEST(LockTest, RLockHeldByParentCannotBeTakenOrReleasedByChild) {
  RLock lock;
  lock.lock();
  lock.lock();
  auto p1 = this->ctx().Process(expect_try_fails<RLock>, lock);
  p1.start();
  ASSERT_TRUE(p1.join(30));
  EXPECT_EQ(p1.exitcode(), 0);
  auto p2 = this->ctx().Process(release_foreign_rlock, lock);
  p2.start();
  ASSERT_TRUE(p2.join(30));
  EXPECT_EQ(p2.exitcode(), 0);
  EXPECT_TRUE(lock.is_mine());
  lock.unlock();
  lock.unlock();
  EXPECT_FALSE(lock.locked());
}

TYPED_TEST(LockTest, RLockGivesMutualExclusionAcrossProcesses) {
  RLock lock;
  detail::SegmentRef ref(detail::Segment::create(4096, "counter"));
  constexpr int kPer = 10000;
  std::vector<Process> children;
  for (int i = 0; i < 3; ++i)
    children.push_back(this->ctx().Process(increment_many<RLock>, lock, ref, kPer));
  for (auto& c : children) c.start();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(60));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_EQ(static_cast<int*>(ref.data())[16], 3 * kPer);
}

}  // namespace
}  // namespace mp
