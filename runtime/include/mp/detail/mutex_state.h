// mp/detail/mutex_state.h — the shared state of mp::Lock and mp::RLock, and its algorithm.
//
//   mp::detail::MutexState   the lock word, the owner-died flag, the recursion count
//   mutex_try_lock / mutex_lock_slow / mutex_unlock
//
// The word holds the holder's thread id (owner.h) and a "someone sleeps" bit:
//   0                 free
//   tid               held by tid, nobody sleeps
//   tid | kWaiters    held by tid, and a waiter may sleep in the kernel
// Acquire is one compare-and-swap 0 -> tid; release one exchange -> 0, plus a FUTEX_WAKE only
// if kWaiters was set. A waiter spins briefly, then sets kWaiters and sleeps in FUTEX_WAIT in
// slices; after a few milliseconds of waiting it checks after each slice whether the holder
// still lives, and if not takes the lock over with a compare-and-swap and reports it (the
// owner-died flag). The fast path pays nothing for that.
#pragma once

#include <atomic>
#include <cstdint>

namespace mp::detail {

struct MutexState {
  static constexpr std::uint32_t kWaiters = 1u << 31;
  static constexpr std::uint32_t kTidMask = (1u << 30) - 1;

  std::atomic<std::uint32_t> word{0};
  // The id of a holder that died holding the lock (nonzero: inconsistent); cleared by
  // mark_consistent. Read by every
  // acquirer right after its compare-and-swap (same cache line: no extra miss).
  std::atomic<std::uint32_t> inconsistent{0};
  // RLock recursion depth; read and written only by the holder.
  std::uint32_t count = 0;
  // ThreadSanitizer builds only (see tsan_mutex_mode in mp/lock.h): nonzero once the lock
  // was released by a non-owner or taken over from a dead owner.
  std::atomic<std::uint32_t> tsan_plain{0};
};

// One compare-and-swap; true if the caller now holds the lock.
inline bool mutex_try_lock(MutexState& m, std::uint32_t me) noexcept {
  std::uint32_t expected = 0;
  return m.word.compare_exchange_strong(expected, me, std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

enum class LockResult { kAcquired, kTookOverFromDeadOwner, kTimedOut };

// The contended path: spin, then sleep until the lock is free, the deadline passes (timeout
// seconds, negative: never), or the holder is found dead. With `block` false only spins a
// little. Sets `inconsistent` itself when it takes the lock over.
LockResult mutex_lock_slow(MutexState& m, std::uint32_t me, bool block, double timeout) noexcept;

// FUTEX_WAKE of one sleeper (out of line: only when kWaiters was set).
void mutex_wake_one(MutexState& m) noexcept;

// Releases and wakes one sleeper if there may be one. Returns the word it replaced.
inline std::uint32_t mutex_unlock(MutexState& m) noexcept {
  std::uint32_t old = m.word.exchange(0, std::memory_order_release);
  if (old & MutexState::kWaiters) [[unlikely]]
    mutex_wake_one(m);
  return old;
}

}  // namespace mp::detail
