// mp/models/lock.h — specifications of mp::Lock and mp::RLock.
//
//   mp::models::Lock    a mutual-exclusion lock owned by one process, robust to its death
//   mp::models::RLock   the same, reentrant: the owner may acquire again and must release
//                       as many times
#pragma once

#include <vector>

#include "mp/models/model.h"

namespace mp::models {

// What a process can do to a lock. Acquire blocks; TryAcquire stands for both
// acquire(false) and a timed acquire (each may report kFalse while the lock is held).
enum class LockOpKind : std::uint8_t { kAcquire, kTryAcquire, kRelease, kLocked };

struct LockOp {
  LockOpKind kind = LockOpKind::kAcquire;
  friend bool operator==(const LockOp&, const LockOp&) = default;
};

inline std::string to_string(const LockOp& op) {
  switch (op.kind) {
    case LockOpKind::kAcquire:
      return "acquire()";
    case LockOpKind::kTryAcquire:
      return "try_acquire()";
    case LockOpKind::kRelease:
      return "release()";
    case LockOpKind::kLocked:
      return "locked()";
  }
  return "?";
}

// Lock
//
// State: the owner (or none) and whether the last owner died holding it. Results:
//   acquire       kOk when free; kOwnerDied when its holder died (the caller now holds
//                 it); otherwise not yet (it blocks).
//   try_acquire   as acquire, or kFalse while another process holds it.
//   release       kOk, by the owner only (anything else is an invalid operation: no result
//                 is allowed).
//   locked        kOk if held, kFalse if not.
// crash(p) of the owner frees the lock and marks it orphaned.
class Lock {
 public:
  using Op = LockOp;
  using Result = Reply<>;
  static constexpr ProcessId kNobody = -1;

  bool step(ProcessId p, const Op& op, const Result& result) {
    switch (op.kind) {
      case LockOpKind::kAcquire:
      case LockOpKind::kTryAcquire:
        if (owner_ != kNobody) {
          return op.kind == LockOpKind::kTryAcquire && result.status == Status::kFalse;
        }
        if (result.status != (orphaned_ ? Status::kOwnerDied : Status::kOk)) return false;
        owner_ = p;
        orphaned_ = false;
        return true;
      case LockOpKind::kRelease:
        if (owner_ != p || result.status != Status::kOk) return false;
        owner_ = kNobody;
        return true;
      case LockOpKind::kLocked:
        return result.status == (owner_ != kNobody ? Status::kOk : Status::kFalse);
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op& op) const {
    return {{Status::kOk}, {Status::kFalse}, {Status::kOwnerDied}};
  }

  void crash(ProcessId p) {
    if (owner_ == p) {
      owner_ = kNobody;
      orphaned_ = true;
    }
  }

  ProcessId owner() const { return owner_; }
  bool orphaned() const { return orphaned_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_combine(seed, owner_);
    hash_combine(seed, orphaned_);
    return seed;
  }
  friend bool operator==(const Lock&, const Lock&) = default;

 private:
  ProcessId owner_ = kNobody;
  bool orphaned_ = false;
};

// RLock
//
// As Lock, with a recursion count: the owner's acquire always succeeds and counts up,
// release counts down and frees the lock at zero.
class RLock {
 public:
  using Op = LockOp;
  using Result = Reply<>;
  static constexpr ProcessId kNobody = -1;

  bool step(ProcessId p, const Op& op, const Result& result) {
    switch (op.kind) {
      case LockOpKind::kAcquire:
      case LockOpKind::kTryAcquire:
        if (owner_ == p) {
          if (result.status != Status::kOk) return false;
          ++count_;
          return true;
        }
        if (owner_ != kNobody) {
          return op.kind == LockOpKind::kTryAcquire && result.status == Status::kFalse;
        }
        if (result.status != (orphaned_ ? Status::kOwnerDied : Status::kOk)) return false;
        owner_ = p;
        count_ = 1;
        orphaned_ = false;
        return true;
      case LockOpKind::kRelease:
        if (owner_ != p || result.status != Status::kOk) return false;
        if (--count_ == 0) owner_ = kNobody;
        return true;
      case LockOpKind::kLocked:
        return result.status == (owner_ != kNobody ? Status::kOk : Status::kFalse);
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op&) const {
    return {{Status::kOk}, {Status::kFalse}, {Status::kOwnerDied}};
  }

  void crash(ProcessId p) {
    if (owner_ == p) {
      owner_ = kNobody;
      count_ = 0;
      orphaned_ = true;
    }
  }

  ProcessId owner() const { return owner_; }
  int count() const { return count_; }
  bool orphaned() const { return orphaned_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_combine(seed, owner_);
    hash_combine(seed, count_);
    hash_combine(seed, orphaned_);
    return seed;
  }
  friend bool operator==(const RLock&, const RLock&) = default;

 private:
  ProcessId owner_ = kNobody;
  int count_ = 0;
  bool orphaned_ = false;
};

}  // namespace mp::models
