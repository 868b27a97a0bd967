// mp/models/semaphore.h — specifications of mp::Semaphore and mp::BoundedSemaphore.
//
//   mp::models::Semaphore          a counter that acquire takes from (blocking at zero)
//                                  and release gives to
//   mp::models::BoundedSemaphore   the same, where release past the initial value is a
//                                  ValueError
#pragma once

#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class SemaphoreOpKind : std::uint8_t { kAcquire, kTryAcquire, kRelease, kGetValue };

struct SemaphoreOp {
  SemaphoreOpKind kind = SemaphoreOpKind::kAcquire;
  std::int64_t n = 1;  // for release(n)
  friend bool operator==(const SemaphoreOp&, const SemaphoreOp&) = default;
};

inline std::string to_string(const SemaphoreOp& op) {
  switch (op.kind) {
    case SemaphoreOpKind::kAcquire:
      return "acquire()";
    case SemaphoreOpKind::kTryAcquire:
      return "try_acquire()";
    case SemaphoreOpKind::kRelease:
      return "release(" + std::to_string(op.n) + ")";
    case SemaphoreOpKind::kGetValue:
      return "get_value()";
  }
  return "?";
}

// Semaphore (bounded = false) and BoundedSemaphore (bounded = true).
//   acquire      kOk when the value is positive (takes one); otherwise not yet.
//   try_acquire  as acquire, or kFalse at zero.
//   release(n)   kOk, adds n; bounded: kValueError (and no change) if that would pass the
//                initial value.
//   get_value    kOk with the value.
template <bool kBounded>
class BasicSemaphore {
 public:
  using Op = SemaphoreOp;
  using Result = Reply<>;

  BasicSemaphore() = default;
  explicit BasicSemaphore(std::int64_t initial) : value_(initial), bound_(initial) {}

  bool step(ProcessId, const Op& op, const Result& result) {
    switch (op.kind) {
      case SemaphoreOpKind::kAcquire:
      case SemaphoreOpKind::kTryAcquire:
        if (value_ == 0) {
          return op.kind == SemaphoreOpKind::kTryAcquire && result.status == Status::kFalse;
        }
        if (result.status != Status::kOk) return false;
        --value_;
        return true;
      case SemaphoreOpKind::kRelease:
        if (kBounded && value_ + op.n > bound_) return result.status == Status::kValueError;
        if (result.status != Status::kOk) return false;
        value_ += op.n;
        return true;
      case SemaphoreOpKind::kGetValue:
        return result == ok(value_);
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op& op) const {
    if (op.kind == SemaphoreOpKind::kGetValue) return {ok(value_)};
    return {{Status::kOk}, {Status::kFalse}, {Status::kValueError}};
  }

  std::int64_t value() const { return value_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_combine(seed, value_);
    hash_combine(seed, bound_);
    return seed;
  }
  friend bool operator==(const BasicSemaphore&, const BasicSemaphore&) = default;

 private:
  std::int64_t value_ = 1;
  std::int64_t bound_ = 1;
};

using Semaphore = BasicSemaphore<false>;
using BoundedSemaphore = BasicSemaphore<true>;

}  // namespace mp::models
