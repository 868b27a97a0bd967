// The synchronisation models: Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition,
// Barrier.
#include <gtest/gtest.h>

#include "mp/models/all.h"

namespace mp::models {
namespace {

static_assert(Model<Lock> && CrashAware<Lock>);
static_assert(Model<RLock> && CrashAware<RLock>);
static_assert(Model<Semaphore> && Model<BoundedSemaphore>);
static_assert(Model<Event> && Model<Condition> && CrashAware<Condition> && Model<Barrier>);

const Reply<> kOk{Status::kOk};
const Reply<> kFalse{Status::kFalse};

TEST(LockModel, AcquireIsEnabledOnlyWhenFree) {
  Lock lock;
  EXPECT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  EXPECT_EQ(lock.owner(), 1);
  Lock before = lock;
  EXPECT_FALSE(lock.step(2, {LockOpKind::kAcquire}, kOk));
  EXPECT_EQ(lock, before) << "a step that is not allowed leaves the state alone";
  EXPECT_TRUE(lock.step(2, {LockOpKind::kTryAcquire}, kFalse));
  EXPECT_FALSE(lock.step(1, {LockOpKind::kAcquire}, kOk)) << "not reentrant";
}

TEST(LockModel, AnyProcessReleasesAHeldLockButNobodyAFreeOne) {
  Lock lock;
  ASSERT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  EXPECT_TRUE(lock.step(2, {LockOpKind::kRelease}, kOk)) << "as Python's Lock";
  EXPECT_FALSE(lock.step(1, {LockOpKind::kRelease}, kOk)) << "released twice";
  EXPECT_TRUE(lock.step(1, {LockOpKind::kRelease}, Reply<>{Status::kValueError}));
  EXPECT_TRUE(lock.step(3, {LockOpKind::kLocked}, kFalse));
}

TEST(LockModel, ReleaseIfHeldFollowsATryAcquire) {
  Lock lock;
  ASSERT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  EXPECT_TRUE(lock.step(2, {LockOpKind::kReleaseIfHeld}, kFalse));
  EXPECT_TRUE(lock.step(1, {LockOpKind::kReleaseIfHeld}, kOk));
  EXPECT_EQ(lock.owner(), Lock::kNobody);
}

TEST(LockModel, TryAcquireOnAFreeLockMustSucceed) {
  Lock lock;
  EXPECT_FALSE(lock.step(1, {LockOpKind::kTryAcquire}, kFalse));
}

TEST(LockModel, DeathOfTheHolderIsTakenOverByABlockingAcquireOnly) {
  Lock lock;
  ASSERT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  lock.crash(1);
  EXPECT_TRUE(lock.step(3, {LockOpKind::kLocked}, kOk)) << "held by the dead";
  EXPECT_TRUE(lock.step(2, {LockOpKind::kTryAcquire}, kFalse));
  EXPECT_FALSE(lock.step(2, {LockOpKind::kAcquire}, kOk));
  EXPECT_TRUE(lock.step(2, {LockOpKind::kAcquire}, Reply<>{Status::kOwnerDied}));
  EXPECT_EQ(lock.owner(), 2);
  EXPECT_TRUE(lock.inconsistent());
}

TEST(LockModel, InconsistentUntilMarkedConsistent) {
  Lock lock;
  ASSERT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  lock.crash(1);
  ASSERT_TRUE(lock.step(2, {LockOpKind::kAcquire}, Reply<>{Status::kOwnerDied}));
  ASSERT_TRUE(lock.step(2, {LockOpKind::kRelease}, kOk));
  EXPECT_FALSE(lock.step(3, {LockOpKind::kAcquire}, kOk));
  ASSERT_TRUE(lock.step(3, {LockOpKind::kAcquire}, Reply<>{Status::kOwnerDied}));
  EXPECT_TRUE(lock.step(2, {LockOpKind::kMarkConsistent}, Reply<>{Status::kValueError}))
      << "only the holder";
  EXPECT_TRUE(lock.step(3, {LockOpKind::kMarkConsistent}, kOk));
  ASSERT_TRUE(lock.step(3, {LockOpKind::kRelease}, kOk));
  EXPECT_TRUE(lock.step(4, {LockOpKind::kAcquire}, kOk));
}

TEST(LockModel, DeathOfANonHolderChangesNothing) {
  Lock lock;
  ASSERT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  Lock before = lock;
  lock.crash(2);
  EXPECT_EQ(lock, before);
}

TEST(RLockModel, OwnerReacquiresAndReleasesAsManyTimes) {
  RLock lock;
  ASSERT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  ASSERT_TRUE(lock.step(1, {LockOpKind::kAcquire}, kOk));
  EXPECT_EQ(lock.count(), 2);
  EXPECT_TRUE(lock.step(2, {LockOpKind::kTryAcquire}, kFalse));
  EXPECT_TRUE(lock.step(2, {LockOpKind::kRelease}, Reply<>{Status::kValueError}))
      << "only the holder releases an RLock";
  ASSERT_TRUE(lock.step(1, {LockOpKind::kRelease}, kOk));
  EXPECT_FALSE(lock.step(2, {LockOpKind::kAcquire}, kOk)) << "still held once";
  ASSERT_TRUE(lock.step(1, {LockOpKind::kRelease}, kOk));
  EXPECT_TRUE(lock.step(2, {LockOpKind::kAcquire}, kOk));
}

TEST(SemaphoreModel, AcquireWaitsAtZero) {
  Semaphore sem(1);
  EXPECT_TRUE(sem.step(1, {SemaphoreOpKind::kAcquire}, kOk));
  EXPECT_FALSE(sem.step(2, {SemaphoreOpKind::kAcquire}, kOk));
  EXPECT_TRUE(sem.step(2, {SemaphoreOpKind::kTryAcquire}, kFalse));
  EXPECT_TRUE(sem.step(1, {SemaphoreOpKind::kRelease, 3}, kOk));
  EXPECT_TRUE(sem.step(2, {SemaphoreOpKind::kGetValue}, ok<std::int64_t>(3)));
  EXPECT_FALSE(sem.step(2, {SemaphoreOpKind::kGetValue}, ok<std::int64_t>(2)));
}

TEST(BoundedSemaphoreModel, ReleasePastTheInitialValueIsAValueError) {
  BoundedSemaphore sem(2);
  EXPECT_TRUE(sem.step(1, {SemaphoreOpKind::kRelease}, Reply<>{Status::kValueError}));
  EXPECT_FALSE(sem.step(1, {SemaphoreOpKind::kRelease}, kOk));
  ASSERT_TRUE(sem.step(1, {SemaphoreOpKind::kAcquire}, kOk));
  EXPECT_TRUE(sem.step(1, {SemaphoreOpKind::kRelease}, kOk));
  Semaphore unbounded(2);
  EXPECT_TRUE(unbounded.step(1, {SemaphoreOpKind::kRelease}, kOk));
}

TEST(EventModel, WaitCompletesOnlyOnceSet) {
  Event event;
  EXPECT_FALSE(event.step(1, {EventOpKind::kWait}, kOk));
  EXPECT_TRUE(event.step(1, {EventOpKind::kTimedWait}, kFalse));
  EXPECT_TRUE(event.step(2, {EventOpKind::kSet}, kOk));
  EXPECT_TRUE(event.step(1, {EventOpKind::kWait}, kOk));
  EXPECT_FALSE(event.step(1, {EventOpKind::kTimedWait}, kFalse));
  EXPECT_TRUE(event.step(2, {EventOpKind::kClear}, kOk));
  EXPECT_TRUE(event.step(1, {EventOpKind::kIsSet}, kFalse));
}

TEST(ConditionModel, WaitReleasesTheLockAndANotifyWakesOneWaiter) {
  Condition cond(/*allow_spurious_wakeups=*/false);
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kWaitBegin}, kOk));
  EXPECT_EQ(cond.owner(), Condition::kNobody);
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kAcquire}, kOk));
  EXPECT_FALSE(cond.step(1, {ConditionOpKind::kWaitEnd}, kOk)) << "lock held by 2";
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kRelease}, kOk));
  EXPECT_FALSE(cond.step(1, {ConditionOpKind::kWaitEnd}, kOk)) << "not notified";
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kNotify, 5}, kOk));
  EXPECT_EQ(cond.tokens(), 1) << "never more tokens than waiters";
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kRelease}, kOk));
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kWaitEnd}, kOk));
  EXPECT_EQ(cond.owner(), 1);
}

TEST(ConditionModel, SpuriousWakeupsAndTimeoutsNeedNoNotify) {
  Condition cond;
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kWaitBegin}, kOk));
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kWaitEnd}, kOk));
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kWaitBegin}, kOk));
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kWaitEnd}, kFalse));
  EXPECT_FALSE(cond.step(2, {ConditionOpKind::kNotify}, kOk)) << "notify needs the lock";
}

TEST(ConditionModel, BothPhasesOfATimedOutWaitCarryItsResult) {
  Condition cond(/*allow_spurious_wakeups=*/false);
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kWaitBegin}, kFalse));
  EXPECT_EQ(cond.waiters(), 1);
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kWaitEnd}, kFalse));
  EXPECT_EQ(cond.owner(), 1) << "a timed-out wait still re-takes the lock";
}

TEST(ConditionModel, WaitAndNotifyWithoutTheLockAreValueErrorsAndChangeNothing) {
  Condition cond;
  const Condition before = cond;
  const Reply<> value_error{Status::kValueError};
  EXPECT_FALSE(cond.step(1, {ConditionOpKind::kWaitBegin}, kOk));
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kWaitBegin}, value_error));
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kWaitEnd}, value_error)) << "the refused wait";
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kNotifyAll}, value_error));
  EXPECT_EQ(cond, before);
}

TEST(ConditionModel, AWaiterReTakesALockWhoseHolderDiedWithOwnerDied) {
  Condition cond(false);
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kWaitBegin}, Reply<>{Status::kOwnerDied}));
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kAcquire}, kOk));
  cond.crash(2);
  EXPECT_FALSE(cond.step(1, {ConditionOpKind::kWaitEnd}, kFalse)) << "held by the dead";
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kWaitEnd}, Reply<>{Status::kOwnerDied}));
  EXPECT_EQ(cond.owner(), 1);
  EXPECT_FALSE(cond.step(1, {ConditionOpKind::kRelease}, kFalse));
  EXPECT_TRUE(cond.step(1, {ConditionOpKind::kMarkConsistent}, kOk));
}

TEST(ConditionModel, ADeadWaiterStaysCountedSoANotifyMayBeSpentOnIt) {
  Condition cond(false);
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(1, {ConditionOpKind::kWaitBegin}, kOk));
  cond.crash(1);
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(2, {ConditionOpKind::kWaitBegin}, kFalse));
  EXPECT_EQ(cond.waiters(), 2);
  ASSERT_TRUE(cond.step(3, {ConditionOpKind::kAcquire}, kOk));
  ASSERT_TRUE(cond.step(3, {ConditionOpKind::kNotifyAll}, kOk));
  EXPECT_EQ(cond.tokens(), 2);
  ASSERT_TRUE(cond.step(3, {ConditionOpKind::kRelease}, kOk));
  EXPECT_TRUE(cond.step(2, {ConditionOpKind::kWaitEnd}, kFalse)) << "may time out";
  EXPECT_EQ(cond.tokens(), 1) << "the dead waiter's token is left over";
}

TEST(BarrierModel, NobodyLeavesBeforeTheLastArrival) {
  Barrier barrier(2);
  ASSERT_TRUE(barrier.step(1, {BarrierOpKind::kArrive}, ok<std::int64_t>(0)));
  EXPECT_FALSE(barrier.step(1, {BarrierOpKind::kLeave}, ok<std::int64_t>(0)));
  EXPECT_TRUE(barrier.step(3, {BarrierOpKind::kNWaiting}, ok<std::int64_t>(1)));
  EXPECT_FALSE(barrier.step(2, {BarrierOpKind::kArrive}, ok<std::int64_t>(0)))
      << "indexes of a pass are distinct";
  ASSERT_TRUE(barrier.step(2, {BarrierOpKind::kArrive}, ok<std::int64_t>(1)));
  EXPECT_TRUE(barrier.step(2, {BarrierOpKind::kLeave}, ok<std::int64_t>(1)));
  EXPECT_TRUE(barrier.step(1, {BarrierOpKind::kLeave}, ok<std::int64_t>(0)));
  EXPECT_EQ(barrier, Barrier(2)) << "back to the start";
}

TEST(BarrierModel, AbortBreaksWaitersAndLaterWaits) {
  Barrier barrier(3);
  ASSERT_TRUE(barrier.step(1, {BarrierOpKind::kArrive}, Reply<>{Status::kBroken}));
  ASSERT_TRUE(barrier.step(2, {BarrierOpKind::kAbort}, kOk));
  EXPECT_TRUE(barrier.step(1, {BarrierOpKind::kLeave}, Reply<>{Status::kBroken}));
  EXPECT_FALSE(barrier.step(3, {BarrierOpKind::kArrive}, ok<std::int64_t>(0)));
  EXPECT_TRUE(barrier.step(3, {BarrierOpKind::kArrive}, Reply<>{Status::kBroken}));
  EXPECT_TRUE(barrier.step(3, {BarrierOpKind::kLeave}, Reply<>{Status::kBroken}));
  EXPECT_TRUE(barrier.step(2, {BarrierOpKind::kReset}, kOk));
  EXPECT_TRUE(barrier.step(2, {BarrierOpKind::kBroken}, kFalse));
}

TEST(BarrierModel, ATimedOutWaitBreaksThePassForEveryone) {
  Barrier untimed(3);
  ASSERT_TRUE(untimed.step(1, {BarrierOpKind::kArrive}, Reply<>{Status::kBroken}));
  EXPECT_FALSE(untimed.step(1, {BarrierOpKind::kLeave}, Reply<>{Status::kBroken}))
      << "without timeouts only abort or reset breaks a waiter";
  Barrier barrier(3, /*timed_waits=*/true);
  ASSERT_TRUE(barrier.step(1, {BarrierOpKind::kArrive}, ok<std::int64_t>(0)));
  ASSERT_TRUE(barrier.step(2, {BarrierOpKind::kArrive}, Reply<>{Status::kBroken}));
  ASSERT_TRUE(barrier.step(2, {BarrierOpKind::kLeave}, Reply<>{Status::kBroken}));
  EXPECT_TRUE(barrier.broken());
  EXPECT_FALSE(barrier.step(1, {BarrierOpKind::kLeave}, ok<std::int64_t>(0)));
  EXPECT_TRUE(barrier.step(1, {BarrierOpKind::kLeave}, Reply<>{Status::kBroken}));
  EXPECT_FALSE(barrier.step(3, {BarrierOpKind::kArrive}, ok<std::int64_t>(0)));
}

TEST(BarrierModel, APartyThatDiedInsideWaitMayHaveBrokenThePass) {
  Barrier barrier(2);
  ASSERT_TRUE(barrier.step(1, {BarrierOpKind::kArrive}, ok<std::int64_t>(0)));
  ASSERT_TRUE(barrier.step(2, {BarrierOpKind::kArrive}, ok<std::int64_t>(1)));
  Barrier alive = barrier;
  EXPECT_FALSE(alive.step(2, {BarrierOpKind::kLeave}, Reply<>{Status::kBroken}));
  barrier.crash(1);
  EXPECT_TRUE(barrier.step(2, {BarrierOpKind::kLeave}, Reply<>{Status::kBroken}));
  EXPECT_TRUE(barrier.broken());
}

TEST(ModelHash, EqualStatesHashEqual) {
  Lock a, b;
  ASSERT_TRUE(a.step(1, {LockOpKind::kAcquire}, kOk));
  ASSERT_TRUE(a.step(1, {LockOpKind::kRelease}, kOk));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  Barrier x(2), y(2);
  ASSERT_TRUE(x.step(4, {BarrierOpKind::kArrive}, ok<std::int64_t>(0)));
  ASSERT_TRUE(x.step(5, {BarrierOpKind::kArrive}, ok<std::int64_t>(1)));
  ASSERT_TRUE(x.step(4, {BarrierOpKind::kLeave}, ok<std::int64_t>(0)));
  ASSERT_TRUE(x.step(5, {BarrierOpKind::kLeave}, ok<std::int64_t>(1)));
  EXPECT_EQ(x, y);
  EXPECT_EQ(x.hash(), y.hash());
}

}  // namespace
}  // namespace mp::models
