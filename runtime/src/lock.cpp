// The contended paths of mp::Lock and mp::RLock (mp/lock.h, mp/detail/mutex_state.h).
#include "mp/lock.h"

#include <algorithm>
#include <climits>
#include <cstdint>
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

constexpr auto kMask = MutexState::kTidMask;
constexpr auto kWaiters = MutexState::kWaiters;
constexpr auto kHandoff = MutexState::kHandoff;

// A waiter spins this long before it sleeps: about what a sleep and a wake-up cost here
// (DESIGN.md: ~50 us), so that spinning never wastes much more than sleeping would, and a
// lock held for a short critical section is taken without a system call.
constexpr std::int64_t kSpinNs = 30'000;
// While spinning, the word is read after 1, 2, 4, ... up to this many pause instructions:
// reading it more often would pull the cache line away from the holder at every read.
constexpr int kMaxBackoff = 64;
// A waiter that has waited this long becomes the heir (see mutex_state.h): this bounds how
// long barging can starve it, and costs a handoff (a wake-up while the lock waits) at most
// once per this period per starving waiter.
constexpr std::int64_t kHandoffAfterNs = 2'000'000;
// Waiting shorter than this never looks at the holder: a live holder is the common case.
constexpr std::int64_t kCheckOwnerAfterNs = 2'000'000;
// Sleep slices grow from the first to the last, so that a dead holder is found within
// about kMaxSliceNs, and a long wait costs a few wake-ups per second.
constexpr std::int64_t kFirstSliceNs = 1'000'000;
constexpr std::int64_t kMaxSliceNs = 100'000'000;

std::uint32_t heir_tid(std::uint64_t heir) noexcept { return static_cast<std::uint32_t>(heir); }
std::uint64_t make_heir(std::uint32_t tid, std::int64_t waiting_since_ns) noexcept {
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(waiting_since_ns >> 20)) << 32 | tid;
}
// Whether heir `a` began to wait before heir `b` (wrap-around safe for waits under 24 days).
bool waited_longer(std::uint64_t a, std::uint64_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a >> 32) -
                                   static_cast<std::uint32_t>(b >> 32)) < 0;
}

// Whether `me` may take the lock whose word reads `v`: nobody holds it, and it is not
// reserved for another waiter.
bool free_for(const MutexState& m, std::uint32_t v, std::uint32_t me) noexcept {
  if (v & kMask) return false;
  if (!(v & kHandoff)) return true;
  std::uint32_t heir = heir_tid(m.heir.load(std::memory_order_relaxed));
  return heir == 0 || heir == me;
}

// After `me` took the lock: if `me` was the heir, frees the slot, and if others sleep makes
// our release wake them all, so that the one that has waited longest claims the slot next
// (a sleeper only claims it when awake). If another waiter is the heir (it may have just
// taken the slot), makes our release hand the lock on to it.
void settle_heir(MutexState& m, std::uint32_t me) noexcept {
  std::uint64_t heir = m.heir.load(std::memory_order_relaxed);
  if (heir_tid(heir) == me) {
    m.heir.compare_exchange_strong(heir, 0, std::memory_order_relaxed);
    if (m.sleepers.load(std::memory_order_seq_cst) == 0) return;
  } else if (heir_tid(heir) == 0) {
    return;
  }
  m.word.fetch_or(kHandoff, std::memory_order_relaxed);
}

// One compare-and-swap from `v` (a word free_for `me`) to held by `me`; on failure `v` is the
// word now. kWaiters is set only if someone sleeps, so that the release wakes only then.
bool take(MutexState& m, std::uint32_t& v, std::uint32_t me) noexcept {
  std::uint32_t want = me;
  if (m.sleepers.load(std::memory_order_seq_cst) != 0) want |= kWaiters;
  if (!m.word.compare_exchange_weak(v, want, std::memory_order_acquire, std::memory_order_relaxed))
    return false;
  settle_heir(m, me);
  return true;
}

// Makes `me` (waiting since `since_ns`) the heir unless an older waiter is. Returns whether
// `me` is the heir now.
bool claim_heir(MutexState& m, std::uint32_t me, std::int64_t since_ns) noexcept {
  const std::uint64_t mine = make_heir(me, since_ns);
  std::uint64_t heir = m.heir.load(std::memory_order_relaxed);
  for (;;) {
    if (heir_tid(heir) == me) return true;
    if (heir_tid(heir) != 0 && !waited_longer(mine, heir)) return false;
    if (m.heir.compare_exchange_weak(heir, mine, std::memory_order_relaxed)) return true;
  }
}

// A waiter whose deadline passed: gives up the heir slot, then takes one last look (the lock
// may have been freed, or reserved for it, as the timeout struck).
LockResult give_up(MutexState& m, std::uint32_t me) noexcept {
  std::uint64_t heir = m.heir.load(std::memory_order_relaxed);
  if (heir_tid(heir) == me) m.heir.compare_exchange_strong(heir, 0, std::memory_order_relaxed);
  std::uint32_t v = m.word.load(std::memory_order_relaxed);
  while (free_for(m, v, me)) {
    if (take(m, v, me)) return LockResult::kAcquired;
  }
  return LockResult::kTimedOut;
}

}  // namespace

void mutex_unlock_slow(MutexState& m, std::uint32_t old) noexcept {
  if (old & kHandoff) {
    // Reserve the lock for the heir unless someone took it since our exchange (then the heir
    // marks that holder's word, and the next release hands on). Every sleeper is woken,
    // since FUTEX_WAKE cannot choose the heir, and so that after an heir was served the
    // longest waiter claims the slot (settle_heir). This happens about once per starving
    // waiter, which has waited kHandoffAfterNs first.
    if (heir_tid(m.heir.load(std::memory_order_relaxed)) != 0) {
      std::uint32_t expected = 0;
      m.word.compare_exchange_strong(expected, kHandoff, std::memory_order_release,
                                     std::memory_order_relaxed);
    }
    MP_HOOK("lock.release.handoff");
    futex_wake(&m.word, INT32_MAX);
    return;
  }
  futex_wake(&m.word, 1);
}

LockResult mutex_lock_slow(MutexState& m, std::uint32_t me, bool block, double timeout) noexcept {
  std::uint32_t v = m.word.load(std::memory_order_relaxed);
  if (!block) {
    while (free_for(m, v, me)) {
      if (take(m, v, me)) return LockResult::kAcquired;
    }
    return LockResult::kTimedOut;
  }

  const std::int64_t start = monotonic_ns();
  Deadline deadline(timeout);
  std::int64_t spin_end = start + kSpinNs;
  if (!deadline.infinite()) spin_end = std::min(spin_end, start + deadline.remaining_ns());
  for (int backoff = 1;;) {
    if (free_for(m, v, me)) {
      if (take(m, v, me)) return LockResult::kAcquired;
      continue;  // `v` is the word now
    }
    for (int i = 0; i < backoff; ++i) cpu_relax();
    if (backoff < kMaxBackoff) backoff *= 2;
    if (monotonic_ns() >= spin_end) break;
    v = m.word.load(std::memory_order_relaxed);
  }

  std::int64_t slice = kFirstSliceNs;
  for (;;) {
    v = m.word.load(std::memory_order_relaxed);
    if (free_for(m, v, me)) {
      if (take(m, v, me)) return LockResult::kAcquired;
      continue;
    }
    // Sleep with kWaiters set, so that the release wakes us; as the heir, with kHandoff on a
    // held word, so that the release reserves the lock for us.
    const bool heir = monotonic_ns() - start >= kHandoffAfterNs && claim_heir(m, me, start);
    const std::uint32_t need = kWaiters | (heir && (v & kMask) != 0 ? kHandoff : 0);
    if ((v & need) != need) {
      if (!m.word.compare_exchange_weak(v, v | need, std::memory_order_relaxed,
                                        std::memory_order_relaxed))
        continue;
      v |= need;
    }
    timespec ts;
    bool expired = false;
    const timespec* rel = deadline.slice(slice, ts, expired);
    if (expired) return give_up(m, me);
    MP_HOOK("lock.acquire.before_sleep");
    m.sleepers.fetch_add(1, std::memory_order_seq_cst);
    int r = futex_wait(&m.word, v, rel);
    m.sleepers.fetch_sub(1, std::memory_order_seq_cst);
    if (r != ETIMEDOUT) continue;
    if (deadline.expired()) return give_up(m, me);
    slice = std::min(2 * slice, kMaxSliceNs);
    if (monotonic_ns() - start < kCheckOwnerAfterNs) continue;
    std::uint32_t w = m.word.load(std::memory_order_relaxed);
    std::uint32_t holder = w & kMask;
    if (holder != 0 && holder != me && !thread_alive(holder)) {
      // Whoever wins this compare-and-swap takes the lock over; others see a live holder.
      if (m.word.compare_exchange_strong(w, me | kWaiters, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
        m.inconsistent.store(holder, std::memory_order_relaxed);
        settle_heir(m, me);
        MP_HOOK("lock.acquire.took_over");
        return LockResult::kTookOverFromDeadOwner;
      }
    } else if (holder == 0 && (w & kHandoff)) {
      // Reserved for an heir that died waiting: the lock is free (its state is consistent,
      // the heir never held it). Clearing the slot makes it free for anyone.
      std::uint64_t h = m.heir.load(std::memory_order_relaxed);
      if (heir_tid(h) != 0 && heir_tid(h) != me && !thread_alive(heir_tid(h)))
        m.heir.compare_exchange_strong(h, 0, std::memory_order_relaxed);
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

bool Lock::locked() const noexcept { return detail::mutex_locked(*state_); }

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

bool RLock::locked() const noexcept { return detail::mutex_locked(*state_); }

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
