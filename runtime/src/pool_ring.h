// Private to the runtime: the shared-memory channels between a Pool and its workers.
//
//   Parker     spin-then-park on a shared futex word (an eventcount)
//   RingHeader one single-producer single-consumer byte ring, in a Segment
//   Ring       a process's view of a ring: write_some / read_some, never blocking
//
// Each worker has two rings (tasks in, results out); the pool's result thread is the only
// producer of one and the only consumer of the other, the worker the only party at the other
// end. A ring is a byte stream: frames larger than the ring go through in pieces. A process
// killed in the middle of a frame leaves a partial frame, which its peer drops with the ring:
// the ring of a dead worker is never reused.
//
// Visibility: bytes written before tail is published (release) are visible to the reader that
// loads tail (acquire); the same for head and free space. ThreadSanitizer understands these
// atomics, so thread mode needs no annotation.
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "mp/detail/futex.h"

namespace mp::detail {

// Sleepers announce themselves before re-checking their condition; wakers publish, then
// look for sleepers, so one of the two always sees the other (both sides fence seq_cst).
struct Parker {
  std::atomic<std::uint32_t> epoch{0};
  std::atomic<std::uint32_t> sleepers{0};

  // Sleeps until notified, `timeout_ns` passes, or a signal, unless ready() already holds.
  template <class Ready>
  void park(Ready&& ready, std::int64_t timeout_ns) {
    const std::uint32_t seen = epoch.load(std::memory_order_acquire);
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!ready()) {
      timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                  static_cast<long>(timeout_ns % 1'000'000'000)};
      (void)futex_wait(&epoch, seen, &ts);
    }
    sleepers.fetch_sub(1, std::memory_order_relaxed);
  }

  // Wakes every sleeper, if any. Call after publishing what they wait for. No system call
  // when nobody sleeps.
  void notify() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_relaxed) != 0) {
      epoch.fetch_add(1, std::memory_order_release);
      (void)futex_wake(&epoch, INT_MAX);
    }
  }
};

// How long a waiter polls before it sleeps in the kernel: a wake-up through the kernel costs
// about 50 µs on these machines, so a short spin, then yields to whoever else is runnable
// (the machine may have fewer cores than busy threads), then the futex.
inline constexpr int kSpinIterations = 256;
inline constexpr int kYieldIterations = 64;

// Waits until ready() holds, spinning then parking on `parker` for at most `park_ns` at a
// time; `tick()` runs after every park (for checks such as "is my parent alive"). Returns
// when ready() holds or tick() returns false.
template <class Ready, class Tick>
bool spin_then_park(Parker& parker, Ready&& ready, Tick&& tick, std::int64_t park_ns) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  for (int i = 0; i < kYieldIterations; ++i) {
    if (ready()) return true;
    ::sched_yield();
  }
  for (;;) {
    if (ready()) return true;
    parker.park(ready, park_ns);
    if (ready()) return true;
    if (!tick()) return false;
  }
}

struct RingHeader {
  alignas(64) std::atomic<std::uint64_t> tail{0};  // bytes ever written (producer)
  alignas(64) std::atomic<std::uint64_t> head{0};  // bytes ever read (consumer)
  alignas(64) Parker readable;                     // the consumer sleeps here
  alignas(64) Parker writable;                     // the producer sleeps here
  // The producer is the pool's thread, which sleeps on the pool's doorbell rather than
  // here: set while it has bytes waiting for room, so that the consumer rings it.
  std::atomic<std::uint32_t> producer_waiting{0};
};

class Ring {
 public:
  Ring() = default;
  Ring(RingHeader* header, char* data, std::uint64_t capacity)
      : header_(header), data_(data), capacity_(capacity) {}

  RingHeader& header() const noexcept { return *header_; }

  // Copies up to `n` bytes in; returns how many fit. Never blocks.
  std::size_t write_some(const char* bytes, std::size_t n) noexcept {
    const std::uint64_t tail = header_->tail.load(std::memory_order_relaxed);
    const std::uint64_t head = header_->head.load(std::memory_order_acquire);
    const std::size_t k = std::min<std::uint64_t>(n, capacity_ - (tail - head));
    if (k == 0) return 0;
    const std::size_t at = tail % capacity_;
    const std::size_t first = std::min<std::size_t>(k, capacity_ - at);
    std::memcpy(data_ + at, bytes, first);
    std::memcpy(data_, bytes + first, k - first);
    header_->tail.store(tail + k, std::memory_order_release);
    return k;
  }

  // Bytes ready to read. Never blocks.
  [[nodiscard]] std::size_t readable() const noexcept {
    return header_->tail.load(std::memory_order_acquire) -
           header_->head.load(std::memory_order_relaxed);
  }
  [[nodiscard]] bool has_room() const noexcept {
    return header_->tail.load(std::memory_order_relaxed) -
               header_->head.load(std::memory_order_acquire) <
           capacity_;
  }

  // Copies up to `n` bytes out; returns how many there were. Never blocks.
  std::size_t read_some(char* out, std::size_t n) noexcept {
    const std::uint64_t head = header_->head.load(std::memory_order_relaxed);
    const std::uint64_t tail = header_->tail.load(std::memory_order_acquire);
    const std::size_t k = std::min<std::uint64_t>(n, tail - head);
    if (k == 0) return 0;
    const std::size_t at = head % capacity_;
    const std::size_t first = std::min<std::size_t>(k, capacity_ - at);
    std::memcpy(out, data_ + at, first);
    std::memcpy(out + first, data_, k - first);
    header_->head.store(head + k, std::memory_order_release);
    return k;
  }

 private:
  RingHeader* header_ = nullptr;
  char* data_ = nullptr;
  std::uint64_t capacity_ = 0;
};

}  // namespace mp::detail

namespace mp::detail {

// A growable byte queue: bytes are appended at the end (space + commit) and taken from the
// front (consume). No zero-filling, so a buffer reused for every frame costs nothing.
class ByteBuffer {
 public:
  // At least `n` writable bytes at the end (moving or growing the buffer).
  char* space(std::size_t n) {
    if (capacity_ - end_ < n) {
      if (begin_ > 0) {
        std::memmove(bytes_.get(), bytes_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (capacity_ - end_ < n) {
        std::size_t grown = std::max<std::size_t>({capacity_ * 2, end_ + n, 4096});
        std::unique_ptr<char[]> bigger(new char[grown]);
        if (end_ > 0) std::memcpy(bigger.get(), bytes_.get(), end_);
        bytes_ = std::move(bigger);
        capacity_ = grown;
      }
    }
    return bytes_.get() + end_;
  }
  void commit(std::size_t n) noexcept { end_ += n; }
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  [[nodiscard]] const char* data() const noexcept { return bytes_.get() + begin_; }
  [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
  void clear() noexcept { begin_ = end_ = 0; }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace mp::detail
