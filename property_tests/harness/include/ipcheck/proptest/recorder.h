// ipcheck/proptest/recorder.h — a history recorded in shared memory, safe against kills.
//
//   ipcheck::proptest::Recorder<Op, Result>
//
// Every process of a test writes only its own slots, without locks (a lock here could hide
// the very bugs the test looks for), so any process may be killed at any instant: an
// operation it invoked and never completed stays in the history as indeterminate. The
// recorder lives in an mp::detail::Segment made before the processes start, so it is shared
// by fork (and by threads); the parent reads the history after they have ended.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "ipcheck/proptest/history.h"
#include "mp/detail/segment.h"

namespace ipcheck::proptest {

template <class Op, class Result>
class Recorder {
  static_assert(std::is_trivially_copyable_v<Op> && std::is_trivially_copyable_v<Result>,
                "operations and results are recorded in shared memory: make them trivially "
                "copyable (fixed-size values, no pointers or strings)");

 public:
  using Entry = Operation<Op, Result>;

  // Room for `processes` processes (ids 0 .. processes-1) of `capacity` operations each.
  // Throws std::system_error if the segment cannot be made.
  Recorder(int processes, std::size_t capacity)
      : processes_(processes),
        capacity_(capacity),
        segment_(mp::detail::Segment::create(bytes(processes, capacity), "ipcheck-history")) {}

  // The recorder made by another process, reached through its segment (a spawned child
  // receives the segment as an inherited descriptor).
  Recorder(mp::detail::SegmentRef segment, int processes, std::size_t capacity)
      : processes_(processes), capacity_(capacity), segment_(std::move(segment)) {}

  const mp::detail::SegmentRef& segment() const { return segment_; }
  std::size_t capacity() const { return capacity_; }

  // Records that process `p` invokes `op`, now. Returns the slot to complete. Only `p` may
  // call this (one writer per process). Async-signal-safe.
  std::size_t invoke(ProcessId p, const Op& op) noexcept {
    Lane& lane = this->lane(p);
    const std::uint32_t index = lane.count.load(std::memory_order_relaxed);
    if (index >= capacity_) overflow();
    Slot& slot = this->slot(p, index);
    slot.op = op;
    slot.invoked_ns = now_ns();
    slot.state.store(kInvoked, std::memory_order_release);
    lane.count.store(index + 1, std::memory_order_release);
    return index;
  }

  // Records that the call in `slot` of process `p` returned `result`, now.
  void complete(ProcessId p, std::size_t index, const Result& result) noexcept {
    Slot& slot = this->slot(p, index);
    slot.result = result;
    slot.completed_ns = now_ns();
    slot.state.store(kCompleted, std::memory_order_release);
  }

  // Records that process `p` dies now (called just before it is killed). Its pending
  // operation, if any, took effect before this instant or not at all.
  void crash(ProcessId p) noexcept {
    std::int64_t expected = 0;
    lane(p).crashed_ns.compare_exchange_strong(expected, now_ns());
  }

  // Records a problem of the run that is not an operation (an unexpected exit, an exception):
  // the first reason wins.
  void fail(const char* reason) noexcept {
    bool expected = false;
    if (!header().failed.compare_exchange_strong(expected, true)) return;
    std::strncpy(header().reason, reason, sizeof(header().reason) - 1);
  }
  std::string failure() const {
    return header().failed.load(std::memory_order_acquire) ? header().reason : "";
  }

  // A start line: blocks (spinning, yielding) until `parties` processes have called it, so
  // that branches started one after another by fork still run at the same time.
  void start_together(int parties) noexcept {
    header().started.fetch_add(1, std::memory_order_acq_rel);
    while (header().started.load(std::memory_order_acquire) < parties) sched_yield();
  }

  bool crashed(ProcessId p) const { return lane(p).crashed_ns.load() != 0; }

  // The history so far. Call when the processes have ended (or been killed).
  std::vector<Entry> history() const {
    std::vector<Entry> result;
    for (ProcessId p = 0; p < processes_; ++p) {
      const Lane& lane = this->lane(p);
      const std::int64_t crashed = lane.crashed_ns.load(std::memory_order_acquire);
      const std::uint32_t count = lane.count.load(std::memory_order_acquire);
      for (std::uint32_t i = 0; i < count; ++i) {
        const Slot& slot = this->slot(p, i);
        Entry entry;
        entry.process = p;
        entry.op = slot.op;
        entry.invoked_ns = slot.invoked_ns;
        if (slot.state.load(std::memory_order_acquire) == kCompleted) {
          entry.result = slot.result;
          entry.completed_ns = slot.completed_ns;
        } else {
          entry.completed_ns = crashed != 0 ? std::max(crashed, slot.invoked_ns) : kNever;
        }
        result.push_back(entry);
      }
      if (crashed != 0) {
        Entry death;
        death.process = p;
        death.kind = Entry::Kind::kCrash;
        death.invoked_ns = death.completed_ns = crashed;
        result.push_back(death);
      }
    }
    return result;
  }

  // Forgets everything recorded (between cases).
  void clear() noexcept { std::memset(segment_.data(), 0, segment_.get()->size()); }

  int processes() const { return processes_; }

 private:
  enum : std::uint32_t { kEmpty = 0, kInvoked = 1, kCompleted = 2 };
  struct alignas(64) Header {
    std::atomic<bool> failed;
    std::atomic<int> started;
    char reason[512];
  };
  struct alignas(64) Lane {
    std::atomic<std::uint32_t> count;
    std::atomic<std::int64_t> crashed_ns;
  };
  struct Slot {
    std::atomic<std::uint32_t> state;
    std::int64_t invoked_ns;
    std::int64_t completed_ns;
    Op op;
    Result result;
  };

  static std::size_t stride(std::size_t capacity) {
    return (sizeof(Lane) + capacity * sizeof(Slot) + 63) / 64 * 64;
  }
  static std::size_t bytes(int processes, std::size_t capacity) {
    return sizeof(Header) + processes * stride(capacity);
  }
  [[noreturn]] static void overflow() noexcept {
    static const char message[] = "ipcheck::proptest::Recorder: more operations than capacity\n";
    (void)!write(2, message, sizeof message - 1);
    std::abort();
  }

  Header& header() const { return *static_cast<Header*>(segment_.data()); }
  Lane& lane(ProcessId p) const {
    auto* base = static_cast<char*>(segment_.data()) + sizeof(Header);
    return *reinterpret_cast<Lane*>(base + p * stride(capacity_));
  }
  Slot& slot(ProcessId p, std::size_t i) const {
    auto* first = reinterpret_cast<Slot*>(reinterpret_cast<char*>(&lane(p)) + sizeof(Lane));
    return first[i];
  }

  int processes_;
  std::size_t capacity_;
  mp::detail::SegmentRef segment_;
};

}  // namespace ipcheck::proptest
