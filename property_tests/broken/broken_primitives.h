// Deliberately broken primitives, built only into the test tree: the harness must catch each.
//
//   RacyLock        a "lock" that checks a flag, then sets it: two processes both get in
//   UnlockedCounter an increment as a read then a write, without a lock: increments are lost
//   EarlyBarrier    a barrier that lets a pass through when all but one party have arrived
//   LostWakeupSemaphore  a semaphore whose acquire checks the count, then reads the wake-up
//                   sequence to sleep on: a release in between is missed, and the waiter
//                   sleeps while a unit is free (a deadlock the watchdog reports)
//   EintrLock       a futex lock whose acquire takes an interrupted sleep (EINTR) for a
//                   wake-up meant for it, and returns without the lock
//
// They live in shared memory (mp::detail::Segment) like the runtime's primitives, so they are
// shared across fork as well as threads, and they call MP_HOOK at their racy steps as the
// runtime does, so schedule noise can widen the window.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <optional>

#include "broken/shared.h"
#include "mp/detail/futex.h"
#include "mp/detail/segment.h"
#include "mp/hook.h"
#include "mp/models/barrier.h"
#include "mp/models/lock.h"
#include "mp/models/semaphore.h"
#include "mp/models/value.h"

namespace ipcheck::broken {

using mp::models::ProcessId;

class RacyLock {
 public:
  void acquire() {
    for (;;) {
      while (held_->load(std::memory_order_acquire) != 0) sched_yield();
      MP_HOOK("broken.lock.checked");  // the window: another process may check here too
      held_->store(1, std::memory_order_release);
      return;
    }
  }
  bool try_acquire() {
    if (held_->load(std::memory_order_acquire) != 0) return false;
    MP_HOOK("broken.lock.checked");
    held_->store(1, std::memory_order_release);
    return true;
  }
  void release() { held_->store(0, std::memory_order_release); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(held_);
  }

 private:
  Shared<std::atomic<int>> held_{"racy-lock", 0};
};

// The system under test for RacyLock, against mp::models::Lock.
struct RacyLockSut {
  RacyLock lock;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock);
  }
  mp::models::Reply<> run(ProcessId, const mp::models::LockOp& op) {
    using K = mp::models::LockOpKind;
    switch (op.kind) {
      case K::kAcquire:
        lock.acquire();
        return {};
      case K::kTryAcquire:
        return {lock.try_acquire() ? mp::models::Status::kOk : mp::models::Status::kFalse};
      case K::kRelease:
        lock.release();
        return {};
      default:
        break;
    }
    return {mp::models::Status::kValueError};
  }
};

class UnlockedCounter {
 public:
  std::int64_t get() const { return value_->load(std::memory_order_acquire); }
  void set(std::int64_t v) { value_->store(v, std::memory_order_release); }
  // value += d, as `v.value += 1` does without get_lock(): a read, then a write.
  std::int64_t add(std::int64_t d) {
    const std::int64_t read = value_->load(std::memory_order_acquire);
    MP_HOOK("broken.counter.read");
    value_->store(read + d, std::memory_order_release);
    return read + d;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(value_);
  }

 private:
  Shared<std::atomic<std::int64_t>> value_{"counter", 0};
};

// The system under test for UnlockedCounter, against mp::models::Value<int64_t>.
struct UnlockedCounterSut {
  UnlockedCounter counter;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(counter);
  }
  mp::models::Reply<std::int64_t> run(ProcessId, const mp::models::ValueOp<std::int64_t>& op) {
    switch (op.kind) {
      case mp::models::ValueOpKind::kGet:
        return mp::models::ok(counter.get());
      case mp::models::ValueOpKind::kSet:
        counter.set(op.value);
        return {};
      case mp::models::ValueOpKind::kAdd:
        return mp::models::ok(counter.add(op.value));
    }
    return {mp::models::Status::kValueError};
  }
};

class EarlyBarrier {
 public:
  explicit EarlyBarrier(int parties = 2) : parties_(parties) {}
  int wait() {
    const int index = arrived_->fetch_add(1, std::memory_order_acq_rel);
    const int pass_end = (index / parties_ + 1) * parties_;
    MP_HOOK("broken.barrier.arrived");
    while (arrived_->load(std::memory_order_acquire) < pass_end - 1) sched_yield();  // the bug
    return index % parties_;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(arrived_, parties_);
  }

 private:
  Shared<std::atomic<int>> arrived_{"early-barrier", 0};
  int parties_ = 2;
};

// The system under test for EarlyBarrier, against mp::models::Barrier (wait in two phases).
struct EarlyBarrierSut {
  EarlyBarrier barrier;
  static std::optional<mp::models::BarrierOp> second_phase(const mp::models::BarrierOp& op) {
    if (op.kind == mp::models::BarrierOpKind::kArrive) {
      return mp::models::BarrierOp{mp::models::BarrierOpKind::kLeave};
    }
    return std::nullopt;
  }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(barrier);
  }
  mp::models::Reply<> run(ProcessId, const mp::models::BarrierOp&) {
    return mp::models::ok<std::int64_t>(barrier.wait());
  }
};

class EintrLock {
 public:
  void acquire() {
    while (word_->exchange(1, std::memory_order_acquire) != 0) {
      MP_HOOK("broken.eintr_lock.before_sleep");
      if (mp::detail::futex_wait(&*word_, 1, nullptr) == EINTR) return;  // the bug: no retry
    }
  }
  void release() {
    word_->store(0, std::memory_order_release);
    mp::detail::futex_wake(&*word_, 1);
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(word_);
  }

 private:
  Shared<std::atomic<std::uint32_t>> word_{"eintr-lock", 0};
};

// The system under test for EintrLock, against mp::models::Lock (acquire and release only).
struct EintrLockSut {
  EintrLock lock;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(lock);
  }
  mp::models::Reply<> run(ProcessId, const mp::models::LockOp& op) {
    if (op.kind == mp::models::LockOpKind::kAcquire) {
      lock.acquire();
    } else {
      lock.release();
    }
    return {};
  }
};

class LostWakeupSemaphore {
 public:
  LostWakeupSemaphore() : LostWakeupSemaphore(1) {}
  explicit LostWakeupSemaphore(std::uint32_t initial) { state_->count.store(initial); }

  void acquire() {
    for (;;) {
      std::uint32_t count = state_->count.load(std::memory_order_acquire);
      if (count > 0) {
        if (state_->count.compare_exchange_weak(count, count - 1)) return;
        continue;
      }
      MP_HOOK("broken.semaphore.checked");  // a release here is not seen: the bug
      const std::uint32_t seq = state_->seq.load(std::memory_order_acquire);
      mp::detail::futex_wait(&state_->seq, seq, nullptr);
    }
  }
  void release() {
    state_->count.fetch_add(1, std::memory_order_release);
    state_->seq.fetch_add(1, std::memory_order_release);
    mp::detail::futex_wake(&state_->seq, 1);
  }
  std::int64_t value() const { return state_->count.load(); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(state_);
  }

 private:
  struct State {
    std::atomic<std::uint32_t> count{0};
    std::atomic<std::uint32_t> seq{0};
  };
  Shared<State> state_{"lost-wakeup-semaphore"};
};

// The system under test for LostWakeupSemaphore, against mp::models::Semaphore.
struct LostWakeupSemaphoreSut {
  LostWakeupSemaphore sem;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(sem);
  }
  mp::models::Reply<> run(ProcessId, const mp::models::SemaphoreOp& op) {
    using K = mp::models::SemaphoreOpKind;
    switch (op.kind) {
      case K::kAcquire:
        sem.acquire();
        return {};
      case K::kRelease:
        for (std::int64_t i = 0; i < op.n; ++i) sem.release();
        return {};
      case K::kGetValue:
        return mp::models::ok(sem.value());
      default:
        break;
    }
    return {mp::models::Status::kValueError};
  }
};

}  // namespace ipcheck::broken
