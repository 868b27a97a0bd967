// mp/detail/condition_state.h — the shared state of a condition variable and its algorithm.
//
//   mp::detail::ConditionState   a wake-up sequence word and the waiter/token counts
//   condition_register / condition_sleep / condition_notify
//
// Exactly n waiters return "notified" for notify(n): a notify moves min(n, waiting) waiters'
// worth of *tokens* from `waiting` to `tokens` in one compare-and-swap, bumps `seq` and wakes
// that many sleepers; a waiter returns notified only by consuming a token. A waiter that
// times out leaves by decrementing `waiting`, or — if a notify already counted it, so that
// `waiting` is 0 — by consuming a token after all. Both counts share one 64-bit word.
//
// Tokens are anonymous, so a waiter that registered *after* a notify could take a token
// meant for one registered before it, and leave that one uncounted and asleep for good. As
// in Python's multiprocessing.Condition, the notifier therefore waits, still holding the
// lock (so nobody new can register), until as many tokens are consumed as it gave: the
// consumer that brings `tokens` down to `drain_target` bumps `drained` and wakes it. A waiter
// killed while waiting may never consume its token; the notifier stops waiting after about a
// second, and the stale token stays (a later waiter may take it: one early return). Later
// notifies only wait for their own tokens, so a dead waiter costs one slow notify, not many.
#pragma once

#include <atomic>
#include <cstdint>

namespace mp::detail {

struct ConditionState {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> drained{0};       // bumped when tokens reach drain_target
  std::atomic<std::uint32_t> drain_target{0};  // tokens left before the current notify
  std::atomic<std::uint64_t> counts{0};        // waiting << 32 | tokens
};

// Counts the caller as a waiter; call while holding the condition's lock, before releasing
// it. Returns the sequence number to pass to condition_sleep.
std::uint32_t condition_register(ConditionState& c) noexcept;

// Blocks until a token is consumed (true) or `timeout` seconds from now pass (false).
bool condition_sleep(ConditionState& c, std::uint32_t seq, double timeout) noexcept;

// Gives tokens to at most `n` of the registered waiters, wakes them, and waits (at most
// about a second) until they have taken them. Call holding the lock. Returns how many.
std::uint32_t condition_notify(ConditionState& c, std::uint32_t n) noexcept;

}  // namespace mp::detail
