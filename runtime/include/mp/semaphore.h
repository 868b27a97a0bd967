// mp/semaphore.h — counting semaphores shared by processes.
//
//   mp::Semaphore          a counter that acquire takes from and release adds to
//   mp::BoundedSemaphore   a Semaphore that may not be released past its initial value
//
// Handles, as Python's multiprocessing.Semaphore: copies name the same semaphore; they reach
// other processes by inheritance only. A semaphore has no owner, so the death of a process
// that took a unit is not detected: the unit is simply lost.
#pragma once

#include <atomic>
#include <cstdint>

#include "mp/detail/shared_handle.h"
#include "mp/detail/tsan.h"

namespace mp {

namespace detail {
struct SemaphoreState {
  std::atomic<std::uint32_t> value{0};     // the futex word
  std::atomic<std::uint32_t> sleepers{0};  // processes that may sleep on `value`
  std::uint32_t bound = UINT32_MAX;        // BoundedSemaphore's initial value
};
}  // namespace detail

// -----------------------------------------------------------------------------
// Semaphore
// -----------------------------------------------------------------------------
//
// Visibility: what a process wrote before release() is visible to the process whose
// acquire() takes that unit.
class Semaphore {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A semaphore with `value` units. Throws std::invalid_argument if `value` < 0 (Python's
  // ValueError), std::system_error if memory is refused.
  explicit Semaphore(int value = 1);

  // Takes one unit. Blocks (if `block`) until one is available or `timeout` seconds pass
  // (negative: no limit). Returns whether a unit was taken. A short spin precedes sleeping.
  [[nodiscard]] bool acquire(bool block = true, double timeout = -1);

  // Adds `n` units and wakes up to `n` waiters. Does not block. Invalid: n < 1 throws
  // std::invalid_argument; for a BoundedSemaphore, a release past the initial value throws
  // std::invalid_argument ("released too many times", Python's ValueError) and adds nothing.
  void release(int n = 1);

  // The units available now (a snapshot). Does not block.
  [[nodiscard]] int get_value() const noexcept;

  // For std::lock_guard and friends: acquire() and release().
  void lock() { (void)acquire(); }
  [[nodiscard]] bool try_lock() { return acquire(false); }
  void unlock() { release(); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(state_);
  }

 protected:
  Semaphore(int value, bool bounded);

 private:
  bool acquire_slow(bool block, double timeout);

  detail::SharedPtr<detail::SemaphoreState> state_;
};

// -----------------------------------------------------------------------------
// BoundedSemaphore
// -----------------------------------------------------------------------------
//
// A Semaphore whose value may never exceed its initial value: such a release is an error
// (std::invalid_argument), which catches a release without a matching acquire.
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, true) {}
};

inline bool Semaphore::acquire(bool block, double timeout) {
  auto& value = state_->value;
  std::uint32_t v = value.load(std::memory_order_relaxed);
  while (v > 0) {
    if (value.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      MP_TSAN_ACQUIRE(state_.get());
      return true;
    }
  }
  return acquire_slow(block, timeout);
}

}  // namespace mp
