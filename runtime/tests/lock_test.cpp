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

#include "mp/detail/futex.h"
#include "mp/detail/mutex_state.h"
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
class LockTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
  static constexpr bool kIsThread = std::is_same_v<Mode, Thread>;
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
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

// ---- the contended path: spinning, sleeping, handoff (mp/detail/mutex_state.h) ----

// Shared scratch words for the tests below.
std::atomic<std::int64_t>* words(const detail::SegmentRef& ref) {
  return static_cast<std::atomic<std::int64_t>*>(ref.data());
}

// A lock whose state the test can look into (the sleeper count, the heir).
detail::SharedPtr<detail::MutexState> new_state() {
  return detail::SharedPtr<detail::MutexState>::make("test.lock");
}

template <class L>
void increment_tightly(L lock, detail::SegmentRef ref, int n) {
  // No pause between critical sections: the releaser re-takes the lock at once, the
  // pattern where barging and spinning decide who gets it.
  auto* value = static_cast<volatile std::int64_t*>(ref.data()) + 32;
  for (int i = 0; i < n; ++i) {
    lock.lock();
    *value = *value + 1;
    lock.unlock();
  }
}

template <class L, class Test>
void check_two_processes_lose_nothing(Test* test) {
  L lock;
  detail::SegmentRef ref(detail::Segment::create(4096, "counter"));
  constexpr int kPer = 100000;
  auto a = test->ctx().Process(increment_tightly<L>, lock, ref, kPer);
  auto b = test->ctx().Process(increment_tightly<L>, lock, ref, kPer);
  a.start();
  b.start();
  ASSERT_TRUE(a.join(60));
  ASSERT_TRUE(b.join(60));
  EXPECT_EQ(a.exitcode(), 0);
  EXPECT_EQ(b.exitcode(), 0);
  EXPECT_EQ(static_cast<std::int64_t*>(ref.data())[32], 2 * kPer);
  EXPECT_FALSE(lock.locked());
}

TYPED_TEST(LockTest, TwoProcessesContendingFor100kIncrementsEachLoseNothing) {
  check_two_processes_lose_nothing<Lock>(this);
}

TYPED_TEST(LockTest, RLockTwoProcessesContendingFor100kIncrementsEachLoseNothing) {
  check_two_processes_lose_nothing<RLock>(this);
}

// words: [0] holder has the lock, [1] release the holder (thread mode), [2] waiter about to
// acquire, [3] waiter got OwnerDied, [4] the waiter's wait in microseconds.
template <class L>
void hold_until_told(L lock, detail::SegmentRef ref, bool wait_to_be_killed) {
  lock.lock();
  words(ref)[0].store(1);
  if (wait_to_be_killed) {
    for (;;) ::pause();
  }
  // Thread mode: a thread that returns holding the lock is a dead holder.
  while (words(ref)[1].load() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

template <class L>
void wait_expecting_owner_died(L lock, detail::SegmentRef ref) {
  words(ref)[2].store(1);
  const std::int64_t start = detail::monotonic_ns();
  try {
    (void)lock.acquire(true, 10);
  } catch (const OwnerDied&) {
    words(ref)[4].store((detail::monotonic_ns() - start) / 1000);
    words(ref)[3].store(1);
    lock.mark_consistent();
    lock.release();
    return;
  }
  throw std::runtime_error("the waiter did not get OwnerDied");
}

// The waiter is already spinning (or parked) when the holder dies, instead of arriving
// after the death as in HolderDeathGivesOwnerDiedWithinASecond.
template <class L, class Test>
void check_owner_died_while_waiting(Test* test) {
  L lock;
  detail::SegmentRef ref(detail::Segment::create(4096, "words"));
  constexpr bool kThread = Test::kIsThread;
  auto holder = test->ctx().Process(hold_until_told<L>, lock, ref, !kThread);
  holder.start();
  while (words(ref)[0].load() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  auto waiter = test->ctx().Process(wait_expecting_owner_died<L>, lock, ref);
  waiter.start();
  while (words(ref)[2].load() == 0) std::this_thread::yield();
  // Die while the waiter spins (its first ~30 us) or has just gone to sleep.
  const std::int64_t death = detail::monotonic_ns();
  if constexpr (kThread) {
    words(ref)[1].store(1);
  } else {
    holder.kill();
  }
  ASSERT_TRUE(holder.join(30));
  ASSERT_TRUE(waiter.join(30));
  EXPECT_EQ(waiter.exitcode(), 0);
  EXPECT_EQ(words(ref)[3].load(), 1);
  EXPECT_LT(detail::monotonic_ns() - death, 1'000'000'000) << "OwnerDied took too long";
  // Repaired and released by the waiter.
  ASSERT_TRUE(lock.acquire(false));
  lock.release();
}

TYPED_TEST(LockTest, HolderKilledWhileAnotherWaitsGivesTheWaiterOwnerDied) {
  check_owner_died_while_waiting<Lock>(this);
}

TYPED_TEST(LockTest, RLockHolderKilledWhileAnotherWaitsGivesTheWaiterOwnerDied) {
  check_owner_died_while_waiting<RLock>(this);
}

// Waits until `done` or `seconds` have passed; returns done().
template <class F>
bool eventually(F done, double seconds = 10) {
  const std::int64_t end = detail::monotonic_ns() + static_cast<std::int64_t>(seconds * 1e9);
  while (!done() && detail::monotonic_ns() < end)
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  return done();
}

// words: [8] the round the parent has begun, [r] the time the waiter acquired in round r.
void acquire_and_stamp_each_round(Lock lock, detail::SegmentRef ref, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    while (words(ref)[8].load() != r + 1)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    lock.lock();
    words(ref)[r].store(detail::monotonic_ns());
    lock.unlock();
  }
}

// A waiter asleep in FUTEX_WAIT is woken by the release, not by the end of its sleep slice:
// after 150 ms of waiting its slices are 64 to 100 ms long, so a waiter left to its slice
// would see a release at a random point in it tens of milliseconds late (three rounds in a
// row), where a woken one takes well under a millisecond on an idle machine.
TYPED_TEST(LockTest, WaiterParkedInTheKernelIsWokenByUnlock) {
  auto state = new_state();
  Lock lock(state);
  detail::SegmentRef ref(detail::Segment::create(4096, "words"));
  constexpr int kRounds = 3;
  auto p = this->ctx().Process(acquire_and_stamp_each_round, lock, ref, kRounds);
  p.start();
  std::int64_t latency[kRounds] = {};
  bool slept[kRounds] = {};
  for (int r = 0; r < kRounds; ++r) {
    lock.lock();
    words(ref)[8].store(r + 1);
    slept[r] = eventually([&] { return state->sleepers.load() != 0; });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    const std::int64_t released = detail::monotonic_ns();
    lock.unlock();
    eventually([&] { return words(ref)[r].load() != 0; });
    latency[r] = words(ref)[r].load() - released;
  }
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  for (int r = 0; r < kRounds; ++r) {
    EXPECT_TRUE(slept[r]) << "round " << r << ": the waiter never slept";
    EXPECT_LT(latency[r], 10'000'000)
        << "round " << r << ": woken after " << latency[r] / 1000 << " us: by its slice?";
  }
}

// words: [9] the next place, [10 + i] the place in which waiter i got the lock.
void acquire_and_take_a_place(Lock lock, detail::SegmentRef ref, int i) {
  lock.lock();
  words(ref)[10 + i].store(words(ref)[9].fetch_add(1) + 1);
  lock.unlock();
}

// The starvation bound (mp/lock.h): a waiter that has waited 2 ms is the heir, and the next
// release reserves the lock for it — the releaser cannot take it back at once, as it can
// from a waiter that is still asleep — and of two such waiters the one that waited longer
// goes first.
TYPED_TEST(LockTest, LongWaitingWaitersGetTheLockBeforeTheReleaserOldestFirst) {
  auto state = new_state();
  Lock lock(state);
  detail::SegmentRef ref(detail::Segment::create(4096, "words"));
  lock.lock();
  auto first = this->ctx().Process(acquire_and_take_a_place, lock, ref, 0);
  first.start();
  const bool first_heir = eventually([&] { return state->heir.load() != 0; });
  const std::uint64_t heir = state->heir.load();
  auto second = this->ctx().Process(acquire_and_take_a_place, lock, ref, 1);
  second.start();
  const bool both_wait = eventually([&] { return state->sleepers.load() == 2; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the second waited 2 ms too
  const bool heir_kept = state->heir.load() == heir;
  lock.unlock();
  // Reserved for the first waiter: the releaser may only have it back once that one is done.
  bool retook = false;
  if (lock.acquire(false)) {
    retook = words(ref)[10].load() == 0;  // had it back before the first waiter's turn
    lock.unlock();
  }
  ASSERT_TRUE(lock.acquire(true, 10));  // once both had their turn, or the reservation
  lock.unlock();
  ASSERT_TRUE(first.join(30));
  ASSERT_TRUE(second.join(30));
  EXPECT_TRUE(first_heir) << "the first waiter never became the heir";
  EXPECT_TRUE(both_wait);
  EXPECT_TRUE(heir_kept) << "the younger waiter took the heir's place";
  EXPECT_FALSE(retook) << "the releaser took the lock back from a waiter that waited long";
  EXPECT_EQ(words(ref)[10].load(), 1);
  EXPECT_EQ(words(ref)[11].load(), 2);
  EXPECT_FALSE(lock.locked());
}

// words: [0] the waiter is about to wait.
void wait_briefly(Lock lock, detail::SegmentRef ref, double timeout) {
  words(ref)[0].store(1);
  if (lock.acquire(true, timeout)) throw std::runtime_error("acquired a held lock");
}

// A waiter that became the heir and then timed out leaves no reservation behind.
TYPED_TEST(LockTest, HeirThatTimesOutLeavesTheLockFree) {
  auto state = new_state();
  Lock lock(state);
  detail::SegmentRef ref(detail::Segment::create(4096, "words"));
  lock.lock();
  auto p = this->ctx().Process(wait_briefly, lock, ref, 0.2);
  p.start();
  const std::int64_t give_up = detail::monotonic_ns() + 10'000'000'000;
  while (state->heir.load() == 0 && detail::monotonic_ns() < give_up)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  EXPECT_NE(state->heir.load(), 0u) << "the waiter never became the heir";
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(state->heir.load(), 0u);
  lock.unlock();
  EXPECT_FALSE(lock.locked());
  ASSERT_TRUE(lock.acquire(false));
  lock.release();
}

void wait_forever(Lock lock, detail::SegmentRef ref) {
  words(ref)[0].store(1);
  (void)lock.acquire();
  throw std::runtime_error("acquired a lock held by the parent");
}

// The lock reserved for an heir that was killed while waiting goes to the next waiter
// promptly, and without OwnerDied: the heir never held it, so the state is consistent.
TYPED_TEST(LockTest, LockReservedForAKilledHeirGoesToTheNextWaiter) {
  if constexpr (TestFixture::kIsThread) {
    GTEST_SKIP() << "a thread cannot be killed while it waits";
  } else {
    auto state = new_state();
    Lock lock(state);
    detail::SegmentRef ref(detail::Segment::create(4096, "words"));
    lock.lock();
    auto p = this->ctx().Process(wait_forever, lock, ref);
    p.start();
    const std::int64_t give_up = detail::monotonic_ns() + 10'000'000'000;
    while (state->heir.load() == 0 && detail::monotonic_ns() < give_up)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    ASSERT_NE(state->heir.load(), 0u) << "the waiter never became the heir";
    p.kill();
    ASSERT_TRUE(p.join(30));
    lock.unlock();  // reserved for the dead heir
    EXPECT_FALSE(lock.acquire(false)) << "a reserved lock must not go to a non-blocking acquire";
    auto start = Clock::now();
    bool got = false;
    EXPECT_NO_THROW(got = lock.acquire(true, 10));
    EXPECT_TRUE(got);
    EXPECT_LT(seconds_since(start), 1.0);
    if (got) lock.release();
    EXPECT_FALSE(lock.locked());
  }
}

}  // namespace
}  // namespace mp
