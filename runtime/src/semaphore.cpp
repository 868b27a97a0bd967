// mp::Semaphore and mp::BoundedSemaphore (mp/semaphore.h).
#include "mp/semaphore.h"

#include <climits>
#include <stdexcept>

#include "mp/detail/futex.h"
#include "mp/hook.h"

namespace mp {
namespace {
constexpr int kSpins = 100;

bool try_take(std::atomic<std::uint32_t>& value) noexcept {
  std::uint32_t v = value.load(std::memory_order_relaxed);
  while (v > 0) {
    if (value.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_relaxed))
      return true;
  }
  return false;
}
}  // namespace

Semaphore::Semaphore(int value) : Semaphore(value, false) {}

Semaphore::Semaphore(int value, bool bounded) {
  if (value < 0) throw std::invalid_argument("mp::Semaphore: initial value must be >= 0");
  state_ = detail::SharedPtr<detail::SemaphoreState>::make(bounded ? "mp.BoundedSemaphore"
                                                                   : "mp.Semaphore");
  state_->value.store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
  if (bounded) state_->bound = static_cast<std::uint32_t>(value);
}

bool Semaphore::acquire_slow(bool block, double timeout) {
  detail::SemaphoreState& s = *state_;
  if (!block) return false;
  for (int i = 0; i < kSpins; ++i) {
    if (s.value.load(std::memory_order_relaxed) != 0 && try_take(s.value)) {
      MP_TSAN_ACQUIRE(&s);
      return true;
    }
    detail::cpu_relax();
  }
  detail::Deadline deadline(timeout);
  bool taken = false;
  // Counted as a sleeper before the last look at the value (both sequentially consistent):
  // a release either sees the sleeper or happened before that look.
  s.sleepers.fetch_add(1, std::memory_order_seq_cst);
  for (;;) {
    if (s.value.load(std::memory_order_seq_cst) != 0 && try_take(s.value)) {
      taken = true;
      break;
    }
    timespec ts;
    bool expired = false;
    const timespec* rel = deadline.slice(-1, ts, expired);
    if (expired) break;
    MP_HOOK("semaphore.acquire.before_sleep");
    detail::futex_wait(&s.value, 0, rel);
  }
  s.sleepers.fetch_sub(1, std::memory_order_relaxed);
  if (taken) MP_TSAN_ACQUIRE(&s);
  return taken;
}

void Semaphore::release(int n) {
  detail::SemaphoreState& s = *state_;
  if (n < 1) throw std::invalid_argument("mp::Semaphore::release: n must be >= 1");
  const auto units = static_cast<std::uint32_t>(n);
  MP_TSAN_RELEASE(&s);
  std::uint32_t v = s.value.load(std::memory_order_relaxed);
  do {
    if (units > s.bound || v > s.bound - units)
      throw std::invalid_argument(
          "mp::BoundedSemaphore::release: semaphore released too many times");
  } while (!s.value.compare_exchange_weak(v, v + units, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  MP_HOOK("semaphore.release.after_add");
  if (s.sleepers.load(std::memory_order_seq_cst) != 0)
    detail::futex_wake(&s.value, n > INT_MAX ? INT_MAX : n);
}

int Semaphore::get_value() const noexcept {
  return static_cast<int>(state_->value.load(std::memory_order_relaxed));
}

}  // namespace mp
