// mp/detail/mutex_state.h — the shared state of mp::Lock and mp::RLock, and its algorithm.
//
//   mp::detail::MutexState   the lock word, the owner-died flag, the recursion count, the
//                            sleeper count and the heir
//   mutex_try_lock / mutex_lock_slow / mutex_unlock
//
// The word holds the holder's thread id (owner.h) and two flags:
//   0                  free
//   tid                held by tid, nobody sleeps
//   tid | kWaiters     held by tid, and a waiter may sleep in the kernel
//   ... | kHandoff     a waiter has waited long (the heir): the release hands the lock to it
//   kHandoff           free, but reserved for the heir (MutexState::heir); nobody else takes it
// Acquire is one compare-and-swap 0 -> tid; release one exchange -> 0, plus a slow path only
// if a flag was set: FUTEX_WAKE of one sleeper for kWaiters, or the handoff for kHandoff.
//
// The contended path (lock.cpp), as in glibc's adaptive mutex and abseil's Mutex: a waiter
// first spins for about the cost of a sleep and a wake-up, reading the word with exponential
// backoff and trying its compare-and-swap only when the word reads free (test and
// test-and-set), so that it neither floods the holder's cache line nor sleeps for a lock
// about to be freed. Then it sets kWaiters and sleeps in FUTEX_WAIT, in slices. A released
// lock is not handed to a waiter: whoever comes first takes it, often the process that just
// released it, whose cache has the line (as glibc's mutex does); this is what makes a lock
// contended by a loop of short critical sections fast. To keep that from starving a waiter,
// one that has waited kHandoffAfterNs becomes the heir (the oldest such waiter wins the slot)
// and sets kHandoff: the next release reserves the lock for it. After a few milliseconds of
// waiting a waiter also checks after each slice whether the holder (or a reserved lock's
// heir) still lives, and takes over from a dead holder (the owner-died flag). The fast path
// pays nothing for any of that.
//
// `sleepers` counts the waiters inside FUTEX_WAIT: a waiter that takes the lock sets kWaiters
// only if others still sleep, so that a release wakes only when someone sleeps.
#pragma once

#include <atomic>
#include <cstdint>

namespace mp::detail {

struct MutexState {
  static constexpr std::uint32_t kWaiters = 1u << 31;
  static constexpr std::uint32_t kHandoff = 1u << 30;
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
  // Waiters inside (or about to enter) FUTEX_WAIT on `word`.
  std::atomic<std::uint32_t> sleepers{0};
  // The heir: the waiter the next release reserves the lock for (0: none). The low 32 bits
  // are its thread id, the high 32 bits when it began to wait (CLOCK_MONOTONIC in units of
  // 2^20 ns), so that an older waiter can take the slot from a younger one.
  std::atomic<std::uint64_t> heir{0};
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

// The rest of a release whose word `old` had kWaiters or kHandoff: the handoff to the heir,
// FUTEX_WAKE (out of line).
void mutex_unlock_slow(MutexState& m, std::uint32_t old) noexcept;

// Releases; wakes a sleeper if there may be one, and hands the lock to the heir if there is
// one. Returns the word it replaced.
inline std::uint32_t mutex_unlock(MutexState& m) noexcept {
  std::uint32_t old = m.word.exchange(0, std::memory_order_release);
  if (old & (MutexState::kWaiters | MutexState::kHandoff)) [[unlikely]]
    mutex_unlock_slow(m, old);
  return old;
}

// Whether someone holds the lock, or it is reserved for a waiter (a snapshot).
inline bool mutex_locked(const MutexState& m) noexcept {
  std::uint32_t v = m.word.load(std::memory_order_relaxed);
  if (v & MutexState::kTidMask) return true;
  return (v & MutexState::kHandoff) &&
         static_cast<std::uint32_t>(m.heir.load(std::memory_order_relaxed)) != 0;
}

}  // namespace mp::detail
