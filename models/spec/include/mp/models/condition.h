// mp/models/condition.h — specification of mp::Condition.
//
//   mp::models::Condition   a lock (mp::models::Lock, robust to its holder's death) with a
//                           wait/notify protocol
//
// Condition::wait releases the lock, sleeps, and takes the lock again: no single instant
// stands for it. It is modelled as two operations of the waiting process, in program order:
// kWaitBegin (releases the lock and joins the waiters) and kWaitEnd (leaves the waiters and
// takes the lock), both spanning the call and both carrying the call's result. A notification
// is a count of wake-up tokens, at most one per waiter; a woken waiter takes one. The model is
// a sound over-approximation of a FIFO condition: it does not say which waiter a notify wakes.
//
// Spurious wake-ups: mp::Condition has none, except once after a waiter was killed while
// waiting (its token may be left for a later waiter). Condition(false) forbids them, for
// tests without kills; Condition() and Condition(true) allow a wait to return kOk without a
// token, as Python's documentation allows.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "mp/models/lock.h"
#include "mp/models/model.h"

namespace mp::models {

enum class ConditionOpKind : std::uint8_t {
  kAcquire,
  kRelease,
  kWaitBegin,
  kWaitEnd,  // result kOk (notified, or woken spuriously) or kFalse (timed out)
  kNotify,
  kNotifyAll,
  kMarkConsistent,
};

struct ConditionOp {
  ConditionOpKind kind = ConditionOpKind::kAcquire;
  std::int64_t n = 1;  // for notify(n)
  friend bool operator==(const ConditionOp&, const ConditionOp&) = default;
};

inline std::string to_string(const ConditionOp& op) {
  switch (op.kind) {
    case ConditionOpKind::kAcquire:
      return "acquire()";
    case ConditionOpKind::kRelease:
      return "release()";
    case ConditionOpKind::kWaitBegin:
      return "wait()<begin>";
    case ConditionOpKind::kWaitEnd:
      return "wait()<end>";
    case ConditionOpKind::kNotify:
      return "notify(" + std::to_string(op.n) + ")";
    case ConditionOpKind::kNotifyAll:
      return "notify_all()";
    case ConditionOpKind::kMarkConsistent:
      return "mark_consistent()";
  }
  return "?";
}

// Condition
//   acquire, release, mark_consistent
//                 as mp::models::Lock (kOwnerDied when the holder died, and so on).
//   wait<begin>   by the holder: frees the lock, one more waiter. Not the holder: kValueError
//                 (std::logic_error), nothing changes, and wait<end> is kValueError too.
//   wait<end>     when the lock can be taken, takes it: kOk consumes a token (or, with
//                 spurious wake-ups allowed, needs none); kFalse (timed out) needs none;
//                 kOwnerDied takes over a lock whose holder died (a token if one is left).
//   notify(n)     kOk, by the holder: up to n more tokens, never more tokens than waiters;
//                 kValueError by anyone else.
//   notify_all    kOk, by the holder: a token for every waiter; kValueError otherwise.
// crash(p): the lock as Lock::crash; a waiter that dies stays counted (mp::Condition cannot
// tell), so a later notify may give it a token nobody takes.
class Condition {
 public:
  using Op = ConditionOp;
  using Result = Reply<>;
  static constexpr ProcessId kNobody = Lock::kNobody;

  Condition() = default;
  explicit Condition(bool allow_spurious_wakeups) : allow_spurious_(allow_spurious_wakeups) {}

  bool step(ProcessId p, const Op& op, const Result& result) {
    const bool owner = lock_.owner() == p;
    switch (op.kind) {
      case ConditionOpKind::kAcquire:
        return lock_.step(p, {LockOpKind::kAcquire}, result);
      case ConditionOpKind::kRelease:
        return lock_.step(p, {LockOpKind::kRelease}, result);
      case ConditionOpKind::kMarkConsistent:
        return lock_.step(p, {LockOpKind::kMarkConsistent}, result);
      case ConditionOpKind::kWaitBegin:
        if (!owner) return result.status == Status::kValueError;
        if (!is_wait_result(result) || waiting(p)) return false;
        if (!lock_.step(p, {LockOpKind::kRelease}, {Status::kOk})) return false;
        waiting_ |= bit(p);
        return true;
      case ConditionOpKind::kWaitEnd: {
        if (!waiting(p)) return result.status == Status::kValueError;
        if (!is_wait_result(result)) return false;
        Lock lock = lock_;
        const Status taken = result.status == Status::kOwnerDied ? Status::kOwnerDied : Status::kOk;
        if (!lock.step(p, {LockOpKind::kAcquire}, {taken})) return false;
        std::int64_t tokens = tokens_;
        if (result.status == Status::kOk || result.status == Status::kOwnerDied) {
          if (tokens > 0) {
            --tokens;
          } else if (result.status == Status::kOk && !allow_spurious_) {
            return false;
          }
        }
        lock_ = lock;
        waiting_ &= ~bit(p);
        tokens_ = std::min(tokens, waiters());
        return true;
      }
      case ConditionOpKind::kNotify:
      case ConditionOpKind::kNotifyAll:
        if (!owner) return result.status == Status::kValueError;
        if (result.status != Status::kOk) return false;
        tokens_ = op.kind == ConditionOpKind::kNotifyAll
                      ? waiters()
                      : std::min(waiters(), tokens_ + std::max<std::int64_t>(op.n, 0));
        return true;
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op&) const {
    return {{Status::kOk}, {Status::kFalse}, {Status::kOwnerDied}, {Status::kValueError}};
  }

  void crash(ProcessId p) {
    lock_.crash(p);
    if (waiting(p)) {
      waiting_ &= ~bit(p);
      ++dead_waiters_;
    }
  }

  ProcessId owner() const { return lock_.owner(); }
  std::int64_t waiters() const { return std::popcount(waiting_) + dead_waiters_; }
  std::int64_t tokens() const { return tokens_; }
  std::size_t hash() const {
    std::size_t seed = lock_.hash();
    hash_combine(seed, waiting_);
    hash_combine(seed, dead_waiters_);
    hash_combine(seed, tokens_);
    return seed;
  }
  friend bool operator==(const Condition&, const Condition&) = default;

 private:
  static std::uint64_t bit(ProcessId p) { return std::uint64_t{1} << (p & 63); }
  static bool is_wait_result(const Result& result) {
    return result.status == Status::kOk || result.status == Status::kFalse ||
           result.status == Status::kOwnerDied;
  }
  bool waiting(ProcessId p) const { return (waiting_ & bit(p)) != 0; }

  Lock lock_;
  std::uint64_t waiting_ = 0;  // processes (ids < 64) between wait<begin> and wait<end>
  std::int64_t dead_waiters_ = 0;
  std::int64_t tokens_ = 0;
  bool allow_spurious_ = true;
};

}  // namespace mp::models
