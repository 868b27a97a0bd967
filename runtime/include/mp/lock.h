// mp/lock.h — locks shared by processes, robust to the death of their holder.
//
//   mp::Lock          a non-recursive lock (Python's multiprocessing.Lock)
//   mp::RLock         a recursive lock: owner and count (multiprocessing.RLock)
//   mp::LockGuard<L>  holds a lock for a scope
//
// Both locks are handles: copying one (or passing it to a child by fork, spawn or thread)
// names the same lock. They live in a shared segment (mp/detail/segment.h) and may only
// reach another process by inheritance (kInheritanceOnly).
//
// Cost: an uncontended acquire is one compare-and-swap of the caller's thread id into a
// shared word and a release is one exchange: no system call. A contended acquire spins for
// up to about 30 us (about what a sleep and a wake-up cost), reading the word with
// exponential backoff, then sleeps in the kernel (a shared futex); a release makes a system
// call only if someone sleeps. Details: mp/detail/mutex_state.h.
//
// Fairness: not first-come first-served. A released lock goes to whoever takes it first —
// often the releaser itself, if it acquires again at once (as with glibc's mutex): that is
// what makes a lock passed around by short critical sections fast. Starvation is bounded: a
// blocking acquire that has waited 2 ms becomes the heir (of several, the one that has
// waited longest), and the next release reserves the lock for it, so that nobody else can
// take it. So a blocking acquire waits at most about 3 ms (2 ms, and the end of the sleep
// it was in) plus, for itself and for each waiter that has waited longer, up to two
// critical sections and a wake-up. While the lock is reserved, locked() is true and a
// non-blocking acquire fails.
//
// Robustness: if the holder dies holding the lock (killed, crashed, or a thread that
// returned), the next process waiting for it finds out within about 100 ms (a waiter
// checks the holder's life after each sleep slice, never on the fast path) and takes the
// lock over: its acquire throws mp::OwnerDied *with the lock held*. The state
// the lock protects may be half-updated. The new holder repairs it, calls mark_consistent(),
// and releases as usual. If it releases without mark_consistent(), the lock stays
// inconsistent and the next acquirer gets mp::OwnerDied too. So:
//
//   try {
//     mp::LockGuard guard(lock);
//     ... use the state ...
//   } catch (const mp::OwnerDied&) {   // the lock is held here: LockGuard never took it
//     ... repair the state ...
//     lock.mark_consistent();
//     lock.release();
//   }
//
// A non-blocking acquire (acquire(false), try_lock) never checks the holder's life: a loop
// of try_lock on a lock whose holder died spins forever.
//
// An heir (see Fairness) that dies while it waits never held the lock: a lock reserved for
// it goes, within about 100 ms, to another blocking waiter, without mp::OwnerDied.
//
// Limitation — thread-id reuse: the holder is known by its thread id. If it died and the
// kernel gave its id to a new thread before a waiter looked (ids are reused only after
// pid_max others were handed out), the waiter sees a live holder and waits until its
// timeout. See mp/detail/owner.h.
//
// ThreadSanitizer (thread mode): both locks are annotated as mutexes (mp/detail/tsan.h);
// one released by a non-owner or taken over from a dead holder is annotated as
// release/acquire from then on.
#pragma once

#include <cstdint>
#include <string>

#include "mp/detail/mutex_state.h"
#include "mp/detail/owner.h"
#include "mp/detail/shared_handle.h"
#include "mp/detail/tsan.h"
#include "mp/hook.h"

namespace mp {

class Condition;

namespace detail {
// ThreadSanitizer sees a lock as a mutex (lock sets, deadlock detection) until something
// happens that its mutex model cannot express — a Lock released by a thread that does not
// hold it, or a lock taken over from a dead holder — and from then on as plain
// release/acquire (happens-before only). Without MP_TSAN all of this is nothing.
inline bool tsan_mutex_mode(const MutexState& s) noexcept {
#if defined(MP_TSAN) && MP_TSAN
  return s.tsan_plain.load(std::memory_order_relaxed) == 0;
#else
  (void)s;
  return false;
#endif
}
inline void tsan_pre_lock(MutexState& s, bool mutex_mode, unsigned flags) noexcept {
  if (mutex_mode) MP_TSAN_MUTEX_PRE_LOCK(&s, flags);
  (void)s, (void)flags;
}
inline void tsan_post_lock(MutexState& s, bool mutex_mode, unsigned flags, bool acquired) noexcept {
  if (mutex_mode) {
    MP_TSAN_MUTEX_POST_LOCK(&s, flags | (acquired ? 0 : MP_TSAN_TRY_LOCK_FAILED));
  } else if (acquired) {
    MP_TSAN_ACQUIRE(&s);
  }
  (void)s, (void)flags;
}
inline void tsan_pre_unlock(MutexState& s, bool mutex_mode) noexcept {
  if (mutex_mode) {
    MP_TSAN_MUTEX_PRE_UNLOCK(&s, 0);
  } else {
    MP_TSAN_RELEASE(&s);
  }
  (void)s;
}
inline void tsan_post_unlock(MutexState& s, bool mutex_mode) noexcept {
  if (mutex_mode) MP_TSAN_MUTEX_POST_UNLOCK(&s, 0);
  (void)s;
}
inline void tsan_leave_mutex_mode(MutexState& s) noexcept {
  s.tsan_plain.store(1, std::memory_order_relaxed);
}

// Throws mp::OwnerDied for `what` (the lock's type name); `dead_tid` 0 means "a previous
// holder released without mark_consistent".
[[noreturn]] void throw_owner_died(const char* what, std::uint32_t dead_tid);
[[noreturn]] void throw_not_held(const char* what);
}  // namespace detail

// -----------------------------------------------------------------------------
// Lock
// -----------------------------------------------------------------------------
//
// A lock that any process sharing it may hold, one at a time. Not recursive: a holder that
// acquires it again waits for itself (forever, or until its timeout), as in Python.
// Anyone may release it, not only the holder (as Python's Lock), but releasing an unlocked
// Lock is an error.
//
// Visibility: everything a process wrote before release() is visible to the process whose
// acquire() then succeeds.
class Lock {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A new, unlocked lock in a new segment. Throws std::system_error if memory is refused.
  Lock();
  // A handle to a lock state that lives in another primitive's segment (Barrier).
  explicit Lock(detail::SharedPtr<detail::MutexState> state) noexcept : state_(std::move(state)) {}

  // Takes the lock. Blocks (if `block`) until it is free or `timeout` seconds have passed
  // (negative: no limit). Returns true if the caller now holds the lock, false on timeout
  // or, with `block` false, if the lock was held or reserved for a waiter (file comment).
  // Throws mp::OwnerDied, with the lock held, if its previous holder died (see the file
  // comment). Blocking only: acquire(false) never throws OwnerDied for a dead holder.
  [[nodiscard]] bool acquire(bool block = true, double timeout = -1);

  // Frees the lock (or reserves it for the heir: file comment) and wakes a waiter if one
  // sleeps. Does not block. Any process may call it.
  // Invalid: releasing an unlocked Lock throws std::logic_error (Python's ValueError);
  // the lock is unchanged.
  void release();

  // For std::lock_guard, std::scoped_lock, std::unique_lock: acquire() without timeout,
  // acquire(false) and release().
  void lock() { (void)acquire(); }
  [[nodiscard]] bool try_lock() { return acquire(false); }
  void unlock() { release(); }

  // Whether some process holds the lock, or it is reserved for a waiter, now (a snapshot).
  // Does not block.
  [[nodiscard]] bool locked() const noexcept;

  // After mp::OwnerDied: declares the protected state repaired. Precondition: the caller
  // holds the lock; otherwise throws std::logic_error.
  void mark_consistent();

  template <class Archive>
  void serialize(Archive& archive) {
    archive(state_);
  }

 private:
  friend class Condition;
  bool acquire_slow(std::uint32_t me, bool block, double timeout, bool tsan_mutex);
  bool held_by_caller() const noexcept;

  detail::SharedPtr<detail::MutexState> state_;
};

// -----------------------------------------------------------------------------
// RLock
// -----------------------------------------------------------------------------
//
// A recursive lock: the holder may acquire it again, and must release it as many times.
// Only the holder may release it.
//
// Visibility: as Lock, from the last release() of the holder to the next holder's acquire().
class RLock {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A new, unlocked lock in a new segment. Throws std::system_error if memory is refused.
  RLock();
  // A handle to a lock state that lives in another primitive's segment (Value, Array).
  explicit RLock(detail::SharedPtr<detail::MutexState> state) noexcept : state_(std::move(state)) {}

  // As Lock::acquire; if the caller already holds the lock it counts one more level and
  // returns true at once.
  [[nodiscard]] bool acquire(bool block = true, double timeout = -1);

  // Drops one level; the last one frees the lock as Lock::release does. Does not block.
  // Invalid: a release by a process that does not hold the lock (including an unlocked
  // RLock) throws std::logic_error (Python's AssertionError/RuntimeError); nothing changes.
  void release();

  void lock() { (void)acquire(); }
  [[nodiscard]] bool try_lock() { return acquire(false); }
  void unlock() { release(); }

  // As Lock::locked.
  [[nodiscard]] bool locked() const noexcept;
  // Whether the caller holds it. Does not block.
  [[nodiscard]] bool is_mine() const noexcept;

  // As Lock::mark_consistent.
  void mark_consistent();

  template <class Archive>
  void serialize(Archive& archive) {
    archive(state_);
  }

 private:
  friend class Condition;
  bool acquire_slow(std::uint32_t me, bool block, double timeout, bool tsan_mutex);
  // For Condition::wait: give up every level (precondition: held by the caller), and take
  // them all back (blocking; throws OwnerDied like acquire, with the levels restored).
  struct Levels {
    std::uint32_t count;
    int tsan_levels;
  };
  Levels release_all() noexcept;
  void reacquire_all(Levels levels);

  detail::SharedPtr<detail::MutexState> state_;
};

// -----------------------------------------------------------------------------
// LockGuard
// -----------------------------------------------------------------------------
//
// Holds `lock` (a Lock, an RLock, a Condition: anything with lock()/unlock()) from
// construction to the end of the scope. Blocks in the constructor; if that throws (for
// mp::OwnerDied, with the lock held) the guard does not exist and will not release.
template <class L>
class [[nodiscard]] LockGuard {
 public:
  explicit LockGuard(L& lock) : lock_(lock) { lock_.lock(); }
  ~LockGuard() { lock_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;
  LockGuard(LockGuard&&) = delete;
  LockGuard& operator=(LockGuard&&) = delete;

 private:
  L& lock_;
};

// ---- inline fast paths ----

inline bool Lock::acquire(bool block, double timeout) {
  detail::MutexState& s = *state_;
  std::uint32_t me = detail::current_tid();
  const bool tsan_mutex = detail::tsan_mutex_mode(s);
  detail::tsan_pre_lock(s, tsan_mutex, block ? 0 : MP_TSAN_TRY_LOCK);
  if (detail::mutex_try_lock(s, me)) [[likely]] {
    detail::tsan_post_lock(s, tsan_mutex, block ? 0 : MP_TSAN_TRY_LOCK, true);
    MP_HOOK("lock.acquire.after_cas");
    if (s.inconsistent.load(std::memory_order_relaxed)) [[unlikely]]
      detail::throw_owner_died("mp::Lock", 0);
    return true;
  }
  return acquire_slow(me, block, timeout, tsan_mutex);
}

inline void Lock::release() {
  detail::MutexState& s = *state_;
  const std::uint32_t holder =
      s.word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask;
  if (holder == 0) [[unlikely]]
    detail::throw_not_held("mp::Lock::release: the lock is not held (released too many times)");
  if (detail::tsan_mutex_mode(s) && holder != detail::current_tid())
    detail::tsan_leave_mutex_mode(s);
  const bool tsan_mutex = detail::tsan_mutex_mode(s);
  detail::tsan_pre_unlock(s, tsan_mutex);
  detail::mutex_unlock(s);
  detail::tsan_post_unlock(s, tsan_mutex);
  MP_HOOK("lock.release.after_exchange");
}

inline bool RLock::acquire(bool block, double timeout) {
  detail::MutexState& s = *state_;
  std::uint32_t me = detail::current_tid();
  const bool tsan_mutex = detail::tsan_mutex_mode(s);
  if ((s.word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask) == me) {
    detail::tsan_pre_lock(s, tsan_mutex, MP_TSAN_RECURSIVE);
    ++s.count;
    detail::tsan_post_lock(s, tsan_mutex, MP_TSAN_RECURSIVE, true);
    return true;
  }
  const unsigned flags = MP_TSAN_RECURSIVE | (block ? 0 : MP_TSAN_TRY_LOCK);
  detail::tsan_pre_lock(s, tsan_mutex, flags);
  if (detail::mutex_try_lock(s, me)) [[likely]] {
    s.count = 1;
    detail::tsan_post_lock(s, tsan_mutex, flags, true);
    MP_HOOK("rlock.acquire.after_cas");
    if (s.inconsistent.load(std::memory_order_relaxed)) [[unlikely]]
      detail::throw_owner_died("mp::RLock", 0);
    return true;
  }
  return acquire_slow(me, block, timeout, tsan_mutex);
}

inline bool RLock::is_mine() const noexcept {
  return (state_->word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask) ==
         detail::current_tid();
}

inline void RLock::release() {
  detail::MutexState& s = *state_;
  if ((s.word.load(std::memory_order_relaxed) & detail::MutexState::kTidMask) !=
      detail::current_tid()) [[unlikely]]
    detail::throw_not_held("mp::RLock::release: cannot release un-acquired lock");
  const bool tsan_mutex = detail::tsan_mutex_mode(s);
  detail::tsan_pre_unlock(s, tsan_mutex);
  if (--s.count == 0) {
    detail::mutex_unlock(s);
    MP_HOOK("rlock.release.after_exchange");
  }
  detail::tsan_post_unlock(s, tsan_mutex);
}

}  // namespace mp
