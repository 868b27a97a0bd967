// mp::Event (mp/event.h).
#include "mp/event.h"

#include <climits>

#include "mp/detail/futex.h"
#include "mp/detail/tsan.h"
#include "mp/hook.h"

namespace mp {
namespace {
constexpr int kSpins = 100;
}  // namespace

Event::Event() : state_(detail::SharedPtr<detail::EventState>::make("mp.Event")) {}

bool Event::is_set() const noexcept {
  bool set = state_->flag.load(std::memory_order_acquire) != 0;
  if (set) MP_TSAN_ACQUIRE(state_.get());
  return set;
}

void Event::set() noexcept {
  detail::EventState& s = *state_;
  MP_TSAN_RELEASE(&s);
  s.flag.store(1, std::memory_order_seq_cst);
  MP_HOOK("event.set.after_store");
  if (s.sleepers.load(std::memory_order_seq_cst) != 0) detail::futex_wake(&s.flag, INT_MAX);
}

void Event::clear() noexcept { state_->flag.store(0, std::memory_order_relaxed); }

bool Event::wait(double timeout) const noexcept {
  detail::EventState& s = *state_;
  if (is_set()) return true;
  if (timeout != 0) {
    // A set() from another core often arrives within microseconds; a sleep costs ~50 us.
    for (int i = 0; i < kSpins; ++i) {
      detail::cpu_relax();
      if (is_set()) return true;
    }
  }
  detail::Deadline deadline(timeout);
  s.sleepers.fetch_add(1, std::memory_order_seq_cst);
  bool set = false;
  for (;;) {
    if (s.flag.load(std::memory_order_seq_cst) != 0) {
      set = true;
      break;
    }
    timespec ts;
    bool expired = false;
    const timespec* rel = deadline.slice(-1, ts, expired);
    if (expired) break;
    detail::futex_wait(&s.flag, 0, rel);
  }
  s.sleepers.fetch_sub(1, std::memory_order_relaxed);
  if (set) MP_TSAN_ACQUIRE(&s);
  return set;
}

}  // namespace mp
