// mp/condition.h — a condition variable shared by processes.
//
//   mp::Condition   wait for a change of shared state announced by notify (Python's
//                   multiprocessing.Condition), on an mp::Lock or an mp::RLock
//
// A handle: copies name the same condition; it reaches other processes by inheritance only.
#pragma once

#include <cstdint>
#include <variant>

#include "mp/detail/condition_state.h"
#include "mp/detail/futex.h"
#include "mp/detail/shared_handle.h"
#include "mp/lock.h"

namespace mp {

class Barrier;

// -----------------------------------------------------------------------------
// Condition
// -----------------------------------------------------------------------------
//
// A lock (a new RLock by default, or the Lock or RLock given) and a set of waiters. The lock
// is the condition's own: acquire/release/lock/unlock act on it, so std::lock_guard and
// mp::LockGuard work on a Condition. If the lock's holder dies, acquire and wait throw
// mp::OwnerDied with the lock held, as the lock would (mp/lock.h).
//
//   mp::LockGuard guard(cond);
//   cond.wait_for([&] { return queue_has_items(); });
//
// Visibility: what a process wrote while holding the lock before notify() is visible to a
// waiter when its wait() returns (it re-acquires the lock).
class Condition {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A condition on a new RLock (as Python's default). Throws std::system_error if memory is
  // refused.
  Condition();
  // A condition on `lock` (the same shared lock, not a copy of its state).
  explicit Condition(Lock lock);
  explicit Condition(RLock lock);

  // The condition's lock (see Lock / RLock).
  [[nodiscard]] bool acquire(bool block = true, double timeout = -1);
  void release();
  void lock() { (void)acquire(); }
  [[nodiscard]] bool try_lock() { return acquire(false); }
  void unlock() { release(); }

  // After mp::OwnerDied from acquire or wait: declares the protected state repaired (see
  // Lock::mark_consistent). Precondition: the caller holds the lock; else std::logic_error.
  void mark_consistent();

  // Releases the lock (every level of an RLock), blocks until notified or `timeout` seconds
  // pass (negative: no limit), then re-acquires the lock — without a time limit, as Python
  // does — and returns whether it was notified. Precondition: the caller holds the lock;
  // otherwise throws std::logic_error and changes nothing. true means a notify() chose this
  // waiter; there are no spurious wake-ups, except once after a waiter was killed while
  // waiting (see notify). May throw mp::OwnerDied while re-acquiring, with the lock held.
  bool wait(double timeout = -1);

  // Waits until `predicate()` is true or `timeout` seconds pass; returns the last value of
  // the predicate. The predicate runs with the lock held. Precondition: as wait().
  template <class Predicate>
  bool wait_for(Predicate predicate, double timeout = -1);

  // Wakes min(n, number of waiters) waiters: exactly that many wait() calls return true.
  // Blocks (holding the lock) until those waiters have taken their wake-ups, as Python's
  // does — so that a waiter arriving later cannot take one — which is normally one wake-up
  // latency; at most about a second if a waiter was killed while waiting. Precondition: the caller
  // holds the lock; otherwise throws std::logic_error and wakes nobody.
  void notify(int n = 1);
  // Wakes every waiter. Precondition: as notify.
  void notify_all();

  template <class Archive>
  void save(Archive& archive) const {
    const bool recursive = std::holds_alternative<RLock>(lock_);
    archive(recursive, std::visit([](const auto& l) { return l.state_; }, lock_), state_);
  }
  template <class Archive>
  void load(Archive& archive) {
    bool recursive = false;
    detail::SharedPtr<detail::MutexState> lock_state;
    archive(recursive, lock_state, state_);
    if (recursive) {
      lock_.emplace<RLock>(std::move(lock_state));
    } else {
      lock_.emplace<Lock>(std::move(lock_state));
    }
  }

 private:
  friend class Barrier;
  Condition(Lock lock, detail::SharedPtr<detail::ConditionState> state) noexcept
      : lock_(std::move(lock)), state_(std::move(state)) {}
  bool held_by_caller() const noexcept;

  std::variant<Lock, RLock> lock_;
  detail::SharedPtr<detail::ConditionState> state_;
};

template <class Predicate>
bool Condition::wait_for(Predicate predicate, double timeout) {
  bool result = predicate();
  if (result) return result;
  const detail::Deadline deadline(timeout);
  while (!result) {
    double left = -1;
    if (timeout >= 0) {
      left = static_cast<double>(deadline.remaining_ns()) / 1e9;
      if (left <= 0) break;
    }
    wait(left);
    result = predicate();
  }
  return result;
}

}  // namespace mp
