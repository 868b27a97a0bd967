// mp::Condition under every start method (CPython's test_multiprocessing condition
// behaviours: notify wakes exactly one, notify(2) two, notify_all all; timeouts; wait_for).
#include "mp/condition.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mp/detail/segment.h"
#include "mp/errors.h"
#include "mp/process.h"
#include "mp/semaphore.h"

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
class ConditionTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
  static constexpr bool kIsThread = std::is_same_v<Mode, Thread>;
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(ConditionTest, Modes, ModeNames);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::atomic<int>* ints(const detail::SegmentRef& ref) {
  return static_cast<std::atomic<int>*>(ref.data());
}

// CPython's Condition test worker: announce sleeping (while holding the lock, so the
// notifier, once it holds the lock, knows this one waits), wait, announce woken.
void sleeper(Condition cond, Semaphore sleeping, Semaphore woken) {
  cond.lock();
  sleeping.release();
  if (!cond.wait(30)) throw std::runtime_error("wait timed out");
  woken.release();
  cond.unlock();
}

void set_state_and_notify(Condition cond, detail::SegmentRef state, int value) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  LockGuard guard(cond);
  ints(state)[0].store(value);
  cond.notify_all();
}

void hold_and_return(Condition cond, detail::SegmentRef flag) {
  cond.lock();
  ints(flag)[0].store(1);
}

void hold_until_killed(Condition cond, detail::SegmentRef flag) {
  cond.lock();
  ints(flag)[0].store(1);
  for (;;) ::pause();
}

// Waits until `sem` shows `n` units (a snapshot loop; the units are never taken back here).
bool wait_value(Semaphore& sem, int n, double timeout) {
  auto start = Clock::now();
  while (sem.get_value() < n) {
    if (seconds_since(start) > timeout) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TYPED_TEST(ConditionTest, NotifyWakesExactlyOneAndNotifyTwoWakesTwoAndNotifyAllTheRest) {
  Condition cond;
  Semaphore sleeping(0), woken(0);
  constexpr int kWaiters = 5;
  std::vector<Process> children;
  for (int i = 0; i < kWaiters; ++i)
    children.push_back(this->ctx().Process(sleeper, cond, sleeping, woken));
  for (auto& c : children) c.start();
  for (int i = 0; i < kWaiters; ++i) ASSERT_TRUE(sleeping.acquire(true, 30));

  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(woken.get_value(), 0);

  cond.lock();
  cond.notify();
  cond.unlock();
  ASSERT_TRUE(wait_value(woken, 1, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(woken.get_value(), 1);

  cond.lock();
  cond.notify(2);
  cond.unlock();
  ASSERT_TRUE(wait_value(woken, 3, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(woken.get_value(), 3);

  cond.lock();
  cond.notify_all();
  cond.unlock();
  ASSERT_TRUE(wait_value(woken, kWaiters, 10));
  for (auto& c : children) {
    ASSERT_TRUE(c.join(30));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_EQ(woken.get_value(), kWaiters);
}

TYPED_TEST(ConditionTest, WaitForSeesStateSetByChild) {
  Condition cond;
  detail::SegmentRef state(detail::Segment::create(64, "state"));
  auto p = this->ctx().Process(set_state_and_notify, cond, state, 7);
  p.start();
  {
    LockGuard guard(cond);
    EXPECT_TRUE(cond.wait_for([&] { return ints(state)[0].load() == 7; }, 30));
  }
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ConditionTest, OnAPlainLockToo) {
  Lock lock;
  Condition cond(lock);
  detail::SegmentRef state(detail::Segment::create(64, "state"));
  auto p = this->ctx().Process(set_state_and_notify, cond, state, 3);
  p.start();
  cond.lock();
  EXPECT_TRUE(lock.locked());
  EXPECT_TRUE(cond.wait_for([&] { return ints(state)[0].load() == 3; }, 30));
  cond.unlock();
  EXPECT_FALSE(lock.locked());
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ConditionTest, DeadHolderOfTheConditionsLockGivesOwnerDied) {
  // A process is killed; a thread-mode process (which cannot be killed) returns instead.
  constexpr bool kThread = TestFixture::kIsThread;
  Condition cond;
  detail::SegmentRef flag(detail::Segment::create(64, "flag"));
  auto p = this->ctx().Process(kThread ? hold_and_return : hold_until_killed, cond, flag);
  p.start();
  while (ints(flag)[0].load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if constexpr (!kThread) p.kill();
  auto start = Clock::now();
  EXPECT_THROW(cond.lock(), OwnerDied);
  EXPECT_LT(seconds_since(start), 1.0);
  p.join(30);
  cond.mark_consistent();
  // The condition still works for the new holder.
  EXPECT_FALSE(cond.wait(0.05));
  cond.unlock();
}

void wait_forever(Condition cond, Semaphore sleeping) {
  cond.lock();
  sleeping.release();
  (void)cond.wait();
}

TEST(Condition, AKilledWaiterCostsAtMostOneSlowNotify) {
  Condition cond;
  Semaphore sleeping(0);
  auto p = get_context(kFork).Process(wait_forever, cond, sleeping);
  p.start();
  ASSERT_TRUE(sleeping.acquire(true, 30));
  cond.lock();  // the child waits (its lock released) once this succeeds
  cond.unlock();
  p.kill();
  ASSERT_TRUE(p.join(30));
  LockGuard guard(cond);
  auto start = Clock::now();
  cond.notify();  // gives the dead waiter's wake-up: waits for it, in vain, about a second
  EXPECT_LT(seconds_since(start), 3.0);
  start = Clock::now();
  cond.notify();
  cond.notify_all();
  EXPECT_LT(seconds_since(start), 0.5);
}

TEST(Condition, TimedWaitReturnsFalseAfterAboutTheTimeoutHoldingTheLockAgain) {
  RLock lock;
  Condition cond(lock);
  lock.lock();
  lock.lock();  // both levels are given up during the wait and restored after
  auto start = Clock::now();
  EXPECT_FALSE(cond.wait(0.1));
  EXPECT_GE(seconds_since(start), 0.09);
  EXPECT_TRUE(lock.is_mine());
  lock.unlock();
  EXPECT_TRUE(lock.is_mine());
  lock.unlock();
  EXPECT_FALSE(lock.locked());
}

TEST(Condition, WaitForWithFalsePredicateTimesOut) {
  Condition cond;
  LockGuard guard(cond);
  auto start = Clock::now();
  EXPECT_FALSE(cond.wait_for([] { return false; }, 0.1));
  EXPECT_GE(seconds_since(start), 0.09);
  EXPECT_TRUE(cond.wait_for([] { return true; }, 0));
}

TEST(Condition, WaitOrNotifyWithoutTheLockThrows) {
  Condition cond;
  EXPECT_THROW(cond.wait(0), std::logic_error);
  EXPECT_THROW(cond.notify(), std::logic_error);
  EXPECT_THROW(cond.notify_all(), std::logic_error);
}

TEST(Condition, NotifyWithoutWaitersIsANoOp) {
  Condition cond;
  LockGuard guard(cond);
  cond.notify(3);
  cond.notify_all();
  EXPECT_FALSE(cond.wait(0.01));  // no stale token left behind
}

}  // namespace
}  // namespace mp
