// mp/models/condition.h — specification of mp::Condition.
//
//   mp::models::Condition   a lock with a wait/notify protocol
//
// Condition::wait releases the lock, sleeps, and takes the lock again: no single instant
// stands for it. It is modelled as two operations of the waiting process, in program order:
// kWaitBegin (releases the lock and joins the waiters) and kWaitEnd (leaves the waiters and
// takes the lock), both spanning the call. A notification is a count of wake-up tokens, at
// most one per waiter; a woken waiter takes one. The model is a sound over-approximation of a
// FIFO condition: it does not say which waiter a notify wakes.
#pragma once

#include <algorithm>
#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class ConditionOpKind : std::uint8_t {
  kAcquire,
  kRelease,
  kWaitBegin,
  kWaitEnd,  // result kOk (notified, or woken spuriously) or kFalse (timed out)
  kNotify,
  kNotifyAll,
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
  }
  return "?";
}

// Condition
//   acquire       kOk when the lock is free; not yet otherwise.
//   release       kOk, by the owner only.
//   wait<begin>   kOk, by the owner: frees the lock, one more waiter.
//   wait<end>     when the lock is free, takes it: kOk consumes a token (or, with spurious
//                 wake-ups allowed, needs none); kFalse (timed out) needs none.
//   notify(n)     kOk, by the owner: up to n more tokens, never more tokens than waiters.
//   notify_all    kOk, by the owner: a token for every waiter.
class Condition {
 public:
  using Op = ConditionOp;
  using Result = Reply<>;
  static constexpr ProcessId kNobody = -1;

  Condition() = default;
  explicit Condition(bool allow_spurious_wakeups) : allow_spurious_(allow_spurious_wakeups) {}

  bool step(ProcessId p, const Op& op, const Result& result) {
    const bool owner = owner_ == p;
    switch (op.kind) {
      case ConditionOpKind::kAcquire:
        if (owner_ != kNobody || result.status != Status::kOk) return false;
        owner_ = p;
        return true;
      case ConditionOpKind::kRelease:
      case ConditionOpKind::kWaitBegin:
        if (!owner || result.status != Status::kOk) return false;
        owner_ = kNobody;
        if (op.kind == ConditionOpKind::kWaitBegin) ++waiters_;
        return true;
      case ConditionOpKind::kWaitEnd:
        if (owner_ != kNobody || waiters_ == 0) return false;
        if (result.status == Status::kOk) {
          if (tokens_ > 0) {
            --tokens_;
          } else if (!allow_spurious_) {
            return false;
          }
        } else if (result.status != Status::kFalse) {
          return false;
        }
        --waiters_;
        tokens_ = std::min(tokens_, waiters_);
        owner_ = p;
        return true;
      case ConditionOpKind::kNotify:
      case ConditionOpKind::kNotifyAll:
        if (!owner || result.status != Status::kOk) return false;
        tokens_ =
            op.kind == ConditionOpKind::kNotifyAll ? waiters_ : std::min(waiters_, tokens_ + op.n);
        return true;
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op&) const {
    return {{Status::kOk}, {Status::kFalse}};
  }

  ProcessId owner() const { return owner_; }
  std::int64_t waiters() const { return waiters_; }
  std::int64_t tokens() const { return tokens_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_combine(seed, owner_);
    hash_combine(seed, waiters_);
    hash_combine(seed, tokens_);
    return seed;
  }
  friend bool operator==(const Condition&, const Condition&) = default;

 private:
  ProcessId owner_ = kNobody;
  std::int64_t waiters_ = 0;
  std::int64_t tokens_ = 0;
  bool allow_spurious_ = true;
};

}  // namespace mp::models
