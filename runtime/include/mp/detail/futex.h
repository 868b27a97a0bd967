// mp/detail/futex.h — the kernel's wait queue on a shared word, and deadlines.
//
//   mp::detail::futex_wait   sleep while a 32-bit word holds an expected value
//   mp::detail::futex_wake   wake sleepers on a word
//   mp::detail::Deadline     a point in CLOCK_MONOTONIC time from a timeout in seconds
//   mp::detail::cpu_relax    the pause instruction of a spin loop
//
// The futexes here are *shared* (no FUTEX_PRIVATE_FLAG): the word lives in a Segment mapped
// by several processes, and the kernel keys the wait queue on the page, not the address.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace mp::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain lock-free 32-bit word");

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Sleeps while `*word == expected`, at most `relative` (nullptr: no limit). Returns 0 when
// woken (or spuriously), EAGAIN if the word did not hold `expected`, ETIMEDOUT, or EINTR.
// The caller re-checks its condition in every case.
inline int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                      const timespec* relative) noexcept {
  long r = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT, expected,
                     relative, nullptr, 0);
  return r == 0 ? 0 : errno;
}

// Wakes at most `n` sleepers on `word`. Returns how many were woken.
inline int futex_wake(std::atomic<std::uint32_t>* word, int n) noexcept {
  long r = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, n, nullptr,
                     nullptr, 0);
  return r < 0 ? 0 : static_cast<int>(r);
}

inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Timeouts in seconds, as every call of the runtime takes them: negative is no limit, and so
// is anything the clocks cannot hold — they count nanoseconds in 64 bits, so a timeout over
// 292 years would come out of the conversion as any value, the past included — and NaN.
inline constexpr double kLongestTimeout = 1e9;  // seconds: 31 years
inline bool unlimited(double timeout_seconds) noexcept {
  return !(timeout_seconds >= 0 && timeout_seconds < kLongestTimeout);
}

// The end of a timeout given in seconds on std::chrono::steady_clock (time_point::max()
// when unlimited).
inline std::chrono::steady_clock::time_point steady_deadline(double timeout_seconds) noexcept {
  using Clock = std::chrono::steady_clock;
  if (unlimited(timeout_seconds)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(timeout_seconds));
}

// The seconds left until `deadline` (zero once passed), or -1 for time_point::max(): the
// timeout that a call taking seconds waits until `deadline` with.
inline double seconds_until(std::chrono::steady_clock::time_point deadline) noexcept {
  using Clock = std::chrono::steady_clock;
  if (deadline == Clock::time_point::max()) return -1;
  return std::max(0.0, std::chrono::duration<double>(deadline - Clock::now()).count());
}

// The end of a timeout given in seconds (see unlimited()).
class Deadline {
 public:
  explicit Deadline(double timeout_seconds) noexcept
      : end_ns_(unlimited(timeout_seconds)
                    ? -1
                    : monotonic_ns() + static_cast<std::int64_t>(timeout_seconds * 1e9)) {}

  [[nodiscard]] bool infinite() const noexcept { return end_ns_ < 0; }
  [[nodiscard]] bool expired() const noexcept { return end_ns_ >= 0 && monotonic_ns() >= end_ns_; }

  // Nanoseconds left (zero or less once expired). Meaningless for an infinite deadline.
  [[nodiscard]] std::int64_t remaining_ns() const noexcept { return end_ns_ - monotonic_ns(); }

  // The time left, at most `cap_ns` (negative cap: no cap), as a relative timespec for
  // futex_wait. Returns nullptr when there is neither a deadline nor a cap (sleep without
  // limit), and sets `expired` when the deadline has passed.
  const timespec* slice(std::int64_t cap_ns, timespec& out, bool& expired) const noexcept {
    expired = false;
    std::int64_t left = -1;
    if (end_ns_ >= 0) {
      left = end_ns_ - monotonic_ns();
      if (left <= 0) {
        expired = true;
        return nullptr;
      }
    }
    if (cap_ns >= 0 && (left < 0 || cap_ns < left)) left = cap_ns;
    if (left < 0) return nullptr;
    out.tv_sec = static_cast<time_t>(left / 1'000'000'000);
    out.tv_nsec = static_cast<long>(left % 1'000'000'000);
    return &out;
  }

 private:
  std::int64_t end_ns_;
};

}  // namespace mp::detail
