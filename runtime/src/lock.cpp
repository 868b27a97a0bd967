// The contended paths of mp::Lock and mp::RLock (mp/lock.h, mp/detail/mutex_state.h).
#include "mp/lock.h"

#include <stdexcept>
#include <string>

#include "mp/detail/futex.h"
#include "mp/errors.h"

namespace mp {
namespace detail {

// What differs between Lock and RLock on the contended path.
struct LockKind {
  const char* name;  // for messages
  const char* hook;  // MP_HOOK point after taking the lock
  bool recursive;
};

// Completes a contended acquire: TSan annotations, the recursion count, OwnerDied.
bool finish_acquire(MutexState& s, LockResult result, const LockKind& kind, unsigned flags,
                    bool tsan_mutex);

namespace {

// Spinning beats sleeping when the holder is about to release: a wake-up costs ~50 us here.
constexpr int kSpins = 200;
// Waiting shorter than this never looks at the holder: a live holder is the common case.
constexpr std::int64_t kCheckOwnerAfterNs = 2'000'000;
// Sleep slices grow from the first to the last, so that a dead holder is found within
// about kMaxSliceNs, and a long wait costs a few wake-ups per second.
constexpr std::int64_t kFirstSliceNs = 1'000'000;
constexpr std::int64_t kMaxSliceNs = 100'000'000;

}  // namespace

void mutex_wake_one(MutexState& m) noexcept { futex_wake(&m.word, 1); }

LockResult mutex_lock_slow(MutexState& m, std::uint32_t me, bool block, double timeout) noexcept {
  constexpr auto kMask = MutexState::kTidMask;
  constexpr auto kWaiters = MutexState::kWaiters;
  for (int i = 0; i < (block ? kSpins : 1); ++i) {
    std::uint32_t v = m.word.load(std::memory_order_relaxed);
    if (v == 0 && mutex_try_lock(m, me)) return LockResult::kAcquired;
    cpu_relax();
  }
  if (!block) return LockResult::kTimedOut;

  Deadline deadline(timeout);
  const std::int64_t start = monotonic_ns();
  std::int64_t slice = kFirstSliceNs;
  // Having slept once, this waiter cannot know whether others sleep too: it takes the lock
  // with kWaiters set, so that its release wakes the next one (one spare wake at worst).
  const std::uint32_t mine = me | kWaiters;
  for (;;) {
    std::uint32_t v = m.word.load(std::memory_order_relaxed);
    if ((v & kMask) == 0) {
      if (m.word.compare_exchange_weak(v, mine, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return LockResult::kAcquired;
      continue;
    }
    if (!(v & kWaiters)) {
      if (!m.word.compare_exchange_weak(v, v | kWaiters, std::memory_order_relaxed,
                                        std::memory_order_relaxed))
        continue;
      v |= kWaiters;
    }
    timespec ts;
    bool expired = false;
    const timespec* rel = deadline.slice(slice, ts, expired);
    if (expired) return LockResult::kTimedOut;
    MP_HOOK("lock.acquire.before_sleep");
    int r = futex_wait(&m.word, v, rel);
    if (r == ETIMEDOUT) {
      if (deadline.expired()) {
        // One last look: the lock may have been freed as the timeout struck.
        std::uint32_t w = 0;
        if (m.word.compare_exchange_strong(w, mine, std::memory_order_acquire,
                                           std::memory_order_relaxed))
          return LockResult::kAcquired;
        return LockResult::kTimedOut;
      }
      if (slice < kMaxSliceNs) slice *= 2;
      if (monotonic_ns() - start >= kCheckOwnerAfterNs) {
        std::uint32_t w = m.word.load(std::memory_order_relaxed);
        std::uint32_t holder = w & kMask;
        if (holder != 0 && holder != me && !thread_alive(holder)) {
          // Whoever wins this compare-and-swap takes the lock over; others see a live holder.
          if (m.word.compare_exchange_strong(w, mine, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
            m.inconsistent.store(holder, std::memory_order_relaxed);
            MP_HOOK("lock.acquire.took_over");
            return LockResult::kTookOverFromDeadOwner;
          }
        }
      }
    }
  }
}

void throw_owner_died(const char* what, std::uint32_t dead_tid) {
  std::string message(what);
  if (dead_tid != 0) {
    message +=
        ": the previous holder (thread " + std::to_string(dead_tid) + ") died holding the lock";
  } else {
    message +=
        ": the lock is inconsistent (a holder died holding it, and it was released "
        "without mark_consistent())";
  }
  message +=
      "; the caller now holds the lock: repair the shared state, call "
      "mark_consistent(), then release it";
  throw OwnerDied(message);
}

void throw_not_held(const char* what) { throw std::logic_error(what); }

bool finish_acquire(MutexState& s, LockResult result, const LockKind& kind, unsigned flags,
                    bool tsan_mutex) {
  switch (result) {
    case LockResult::kAcquired:
      if (kind.recursive) s.count = 1;
      tsan_post_lock(s, tsan_mutex, flags, true);
      MP_HOOK(kind.hook);
      if (s.inconsistent.load(std::memory_order_relaxed)) [[unlikely]]
        throw_owner_died(kind.name, 0);
      return true;
    case LockResult::kTookOverFromDeadOwner:
      if (kind.recursive) s.count = 1;
      // TSan still sees the dead thread as the holder: leave the mutex model (mp/lock.h).
      tsan_post_lock(s, tsan_mutex, flags, false);
      tsan_leave_mutex_mode(s);
      tsan_post_lock(s, false, flags, true);
      throw_owner_died(kind.name, s.inconsistent.load(std::memory_order_relaxed));
    case LockResult::kTimedOut:
      break;
  }
  tsan_post_lock(s, tsan_mutex, flags, false);
  return false;
}

}  // namespace detail

// ---- Lock ----

Lock::Lock() : state_(detail::SharedPtr<detail::MutexState>::make("mp.Lock")) {
  MP_TSAN_MUTEX_CREATE(state_.get(), 0);
}

bool Lock::acquire_slow(std::uint32_t me, bool block, double timeout, bool tsan_mutex) {
  return detail::finish_acquire(*state_, detail::mutex_lock_slow(*state_, me, block, timeout),
                                {"mp::Lock", "lock.acquire.after_cas", false},
                                block ? 0 : MP_TSAN_TRY_LOCK, tsan_mutex);
}

bool Lock::held_by_caller() const noexcept {
  return (state_->word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask) ==
         detail::current_tid();
}

bool Lock::locked() const noexcept {
  return (state_->word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask) != 0;
}

void Lock::mark_consistent() {
  if (!held_by_caller())
    detail::throw_not_held("mp::Lock::mark_consistent: the caller does not hold the lock");
  state_->inconsistent.store(0, std::memory_order_relaxed);
}

// ---- RLock ----

RLock::RLock() : state_(detail::SharedPtr<detail::MutexState>::make("mp.RLock")) {
  MP_TSAN_MUTEX_CREATE(state_.get(), MP_TSAN_RECURSIVE);
}

bool RLock::acquire_slow(std::uint32_t me, bool block, double timeout, bool tsan_mutex) {
  return detail::finish_acquire(*state_, detail::mutex_lock_slow(*state_, me, block, timeout),
                                {"mp::RLock", "rlock.acquire.after_cas", true},
                                MP_TSAN_RECURSIVE | (block ? 0 : MP_TSAN_TRY_LOCK), tsan_mutex);
}

bool RLock::locked() const noexcept {
  return (state_->word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask) != 0;
}

bool RLock::is_mine() const noexcept {
  return (state_->word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask) ==
         detail::current_tid();
}

void RLock::mark_consistent() {
  if (!is_mine())
    detail::throw_not_held("mp::RLock::mark_consistent: the caller does not hold the lock");
  state_->inconsistent.store(0, std::memory_order_relaxed);
}

RLock::Levels RLock::release_all() noexcept {
  detail::MutexState& s = *state_;
  const bool tsan_mutex = detail::tsan_mutex_mode(s);
  int tsan_levels = 0;
  if (tsan_mutex) {
    tsan_levels = MP_TSAN_MUTEX_PRE_UNLOCK_ALL(&s);
  } else {
    MP_TSAN_RELEASE(&s);
  }
  Levels levels{s.count, tsan_levels};
  s.count = 0;
  detail::mutex_unlock(s);
  detail::tsan_post_unlock(s, tsan_mutex);
  return levels;
}

void RLock::reacquire_all(Levels levels) {
  detail::MutexState& s = *state_;
  std::uint32_t me = detail::current_tid();
  const bool tsan_mutex = detail::tsan_mutex_mode(s);
  detail::tsan_pre_lock(s, tsan_mutex, MP_TSAN_RECURSIVE);
  detail::LockResult result = detail::LockResult::kAcquired;
  if (!detail::mutex_try_lock(s, me)) result = detail::mutex_lock_slow(s, me, true, -1);
  s.count = levels.count;
  if (result == detail::LockResult::kTookOverFromDeadOwner) {
    detail::tsan_post_lock(s, tsan_mutex, MP_TSAN_RECURSIVE, false);
    detail::tsan_leave_mutex_mode(s);
    detail::tsan_post_lock(s, false, 0, true);
  } else if (tsan_mutex) {
    MP_TSAN_MUTEX_POST_LOCK_ALL(&s, MP_TSAN_RECURSIVE, levels.tsan_levels);
  } else {
    MP_TSAN_ACQUIRE(&s);
  }
  if (std::uint32_t dead = s.inconsistent.load(std::memory_order_relaxed)) [[unlikely]]
    detail::throw_owner_died("mp::RLock",
                             result == detail::LockResult::kTookOverFromDeadOwner ? dead : 0);
}

}  // namespace mp
