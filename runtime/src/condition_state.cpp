// The condition-variable algorithm (mp/detail/condition_state.h).
#include "mp/detail/condition_state.h"

#include <algorithm>

#include "mp/detail/futex.h"
#include "mp/detail/tsan.h"
#include "mp/hook.h"

namespace mp::detail {
namespace {
constexpr std::uint64_t kOneWaiter = std::uint64_t{1} << 32;
constexpr std::uint64_t kTokenMask = kOneWaiter - 1;
constexpr std::int64_t kDrainLimitNs = 1'000'000'000;
constexpr std::int64_t kDrainSliceNs = 10'000'000;
constexpr int kDrainSpins = 200;
}  // namespace

std::uint32_t condition_register(ConditionState& c) noexcept {
  c.counts.fetch_add(kOneWaiter, std::memory_order_relaxed);
  // Read under the lock: a notify that can count this waiter comes later and bumps seq.
  return c.seq.load(std::memory_order_acquire);
}

bool condition_sleep(ConditionState& c, std::uint32_t seq, double timeout) noexcept {
  Deadline deadline(timeout);
  for (bool first = true;; first = false) {
    if (!first) seq = c.seq.load(std::memory_order_acquire);
    std::uint64_t v = c.counts.load(std::memory_order_acquire);
    if ((v & kTokenMask) != 0) {
      if (c.counts.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) {
        if ((v & kTokenMask) - 1 <= c.drain_target.load(std::memory_order_relaxed)) {
          c.drained.fetch_add(1, std::memory_order_release);
          futex_wake(&c.drained, 1);
        }
        MP_TSAN_ACQUIRE(&c);
        MP_HOOK("condition.wait.after_token");
        return true;
      }
      continue;
    }
    timespec ts;
    bool expired = false;
    const timespec* rel = deadline.slice(-1, ts, expired);
    if (expired) {
      // No token: this waiter is still counted in `waiting` and leaves by uncounting itself.
      if ((v >> 32) != 0 &&
          c.counts.compare_exchange_weak(v, v - kOneWaiter, std::memory_order_acq_rel))
        return false;
      continue;
    }
    MP_HOOK("condition.wait.before_sleep");
    futex_wait(&c.seq, seq, rel);
  }
}

std::uint32_t condition_notify(ConditionState& c, std::uint32_t n) noexcept {
  MP_TSAN_RELEASE(&c);
  std::uint64_t v = c.counts.load(std::memory_order_relaxed);
  std::uint32_t k;
  do {
    k = std::min<std::uint32_t>(n, static_cast<std::uint32_t>(v >> 32));
    if (k == 0) return 0;
    // Stale tokens (file comment) are not this notify's to wait for.
    c.drain_target.store(static_cast<std::uint32_t>(v & kTokenMask), std::memory_order_relaxed);
  } while (!c.counts.compare_exchange_weak(v, v - k * kOneWaiter + k, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
  MP_HOOK("condition.notify.after_tokens");
  c.seq.fetch_add(1, std::memory_order_release);
  futex_wake(&c.seq, static_cast<int>(std::min<std::uint32_t>(k, 0x7fffffff)));
  // Hand-over: wait until the waiters counted above have taken their tokens (file comment).
  Deadline limit(kDrainLimitNs / 1e9);
  for (int spins = 0;; ++spins) {
    std::uint32_t d = c.drained.load(std::memory_order_acquire);
    if ((c.counts.load(std::memory_order_acquire) & kTokenMask) <=
        c.drain_target.load(std::memory_order_relaxed))
      break;
    if (spins < kDrainSpins) {
      cpu_relax();
      continue;
    }
    timespec ts;
    bool expired = false;
    const timespec* rel = limit.slice(kDrainSliceNs, ts, expired);
    if (expired) break;
    futex_wait(&c.drained, d, rel);
  }
  return k;
}

}  // namespace mp::detail
