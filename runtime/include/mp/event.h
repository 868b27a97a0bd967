// mp/event.h — a flag that processes wait for.
//
//   mp::Event   set / clear / wait (Python's multiprocessing.Event)
//
// A handle: copies name the same event; it reaches other processes by inheritance only.
#pragma once

#include <atomic>
#include <cstdint>

#include "mp/detail/shared_handle.h"

namespace mp {

namespace detail {
struct EventState {
  std::atomic<std::uint32_t> flag{0};      // the futex word
  std::atomic<std::uint32_t> sleepers{0};  // processes that may sleep on `flag`
};
}  // namespace detail

// -----------------------------------------------------------------------------
// Event
// -----------------------------------------------------------------------------
//
// Visibility: what a process wrote before set() is visible to a process after its wait()
// returns true or its is_set() returns true.
class Event {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A new, clear event. Throws std::system_error if memory is refused.
  Event();

  // Whether the flag is set (a snapshot). Does not block.
  [[nodiscard]] bool is_set() const noexcept;
  // Sets the flag and wakes every waiter. Does not block.
  void set() noexcept;
  // Clears the flag. Does not block.
  void clear() noexcept;
  // Blocks until the flag is set or `timeout` seconds pass (negative: no limit). Returns the
  // flag: false only on timeout.
  bool wait(double timeout = -1) const noexcept;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(state_);
  }

 private:
  detail::SharedPtr<detail::EventState> state_;
};

}  // namespace mp
