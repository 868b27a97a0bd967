// mp/models/lock.h — specifications of mp::Lock and mp::RLock.
//
//   mp::models::Lock    a lock held by one process at a time, robust to its holder's death
//   mp::models::RLock   the same, recursive: the holder may acquire again and must release
//                       as many times
//
// Robustness, as mp::Lock documents it: a holder that dies leaves the lock *held by a dead
// process*. A blocking acquire takes it over and reports kOwnerDied (mp::OwnerDied) with the
// lock held; the lock is then inconsistent until its holder calls mark_consistent(), and
// every acquire that gets it meanwhile reports kOwnerDied too. A non-blocking acquire never
// takes over from the dead: it reports kFalse.
#pragma once

#include <vector>

#include "mp/models/model.h"

namespace mp::models {

// What a process can do to a lock. Acquire blocks; TryAcquire stands for both
// acquire(false) and a timed acquire (each may report kFalse while the lock is held).
enum class LockOpKind : std::uint8_t {
  kAcquire,
  kTryAcquire,
  kRelease,
  kReleaseIfHeld,  // a test's `if (got) release()`: releases if the caller holds it, else
                   // kFalse — so that a generated program can follow try_acquire
  kLocked,
  kMarkConsistent,
};

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
    case LockOpKind::kReleaseIfHeld:
      return "release_if_held()";
    case LockOpKind::kLocked:
      return "locked()";
    case LockOpKind::kMarkConsistent:
      return "mark_consistent()";
  }
  return "?";
}

namespace detail {

// What Lock and RLock share: the holder (a process, nobody, or a dead process), the
// recursion count, and whether the protected state is inconsistent.
template <bool kRecursive>
class BasicLock {
 public:
  using Op = LockOp;
  using Result = Reply<>;
  static constexpr ProcessId kNobody = -1;
  static constexpr ProcessId kDead = -2;

  bool step(ProcessId p, const Op& op, const Result& result) {
    switch (op.kind) {
      case LockOpKind::kAcquire:
      case LockOpKind::kTryAcquire: {
        const bool block = op.kind == LockOpKind::kAcquire;
        if (kRecursive && owner_ == p) {
          if (result.status != Status::kOk) return false;
          ++count_;
          return true;
        }
        if (owner_ == kDead && block) {  // takes over from the dead holder
          if (result.status != Status::kOwnerDied) return false;
          take(p);
          inconsistent_ = true;
          return true;
        }
        if (owner_ != kNobody) return !block && result.status == Status::kFalse;
        if (result.status != (inconsistent_ ? Status::kOwnerDied : Status::kOk)) return false;
        take(p);
        return true;
      }
      case LockOpKind::kRelease:
      case LockOpKind::kReleaseIfHeld: {
        // A Lock may be released by anyone while held; an RLock only by its holder.
        const bool may = kRecursive ? owner_ == p : owner_ != kNobody;
        if (op.kind == LockOpKind::kReleaseIfHeld) {
          if (owner_ != p) return result.status == Status::kFalse;
        } else if (!may) {
          return result.status == Status::kValueError;
        }
        if (result.status != Status::kOk) return false;
        if (--count_ <= 0 || !kRecursive) {
          owner_ = kNobody;
          count_ = 0;
        }
        return true;
      }
      case LockOpKind::kLocked:
        return result.status == (owner_ != kNobody ? Status::kOk : Status::kFalse);
      case LockOpKind::kMarkConsistent:
        if (owner_ != p) return result.status == Status::kValueError;
        if (result.status != Status::kOk) return false;
        inconsistent_ = false;
        return true;
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op&) const {
    return {{Status::kOk}, {Status::kFalse}, {Status::kOwnerDied}, {Status::kValueError}};
  }

  // Process `p` died: a lock it held stays held, by the dead.
  void crash(ProcessId p) {
    if (owner_ == p) {
      owner_ = kDead;
      count_ = 0;
    }
  }

  ProcessId owner() const { return owner_; }
  int count() const { return count_; }
  bool inconsistent() const { return inconsistent_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_combine(seed, owner_);
    hash_combine(seed, count_);
    hash_combine(seed, inconsistent_);
    return seed;
  }
  friend bool operator==(const BasicLock&, const BasicLock&) = default;

 private:
  void take(ProcessId p) {
    owner_ = p;
    count_ = 1;
  }

  ProcessId owner_ = kNobody;
  int count_ = 0;
  bool inconsistent_ = false;
};

}  // namespace detail

// Lock
//   acquire          kOk when free; kOwnerDied when free but inconsistent, or when held by a
//                    dead process (takes it over: inconsistent); not yet while a live
//                    process holds it (it blocks — a holder acquiring again waits for itself).
//   try_acquire      as acquire when free; kFalse while held, by the living or the dead.
//   release          kOk while held, by any process (as Python's Lock); kValueError
//                    (std::logic_error) when not held, and nothing changes.
//   release_if_held  release() if the caller holds it, else kFalse.
//   locked           kOk while held (by the living or the dead), kFalse otherwise.
//   mark_consistent  kOk by the holder (clears inconsistent); kValueError otherwise.
// crash(p) of the holder leaves the lock held by the dead.
using Lock = detail::BasicLock<false>;

// RLock
//   As Lock, except: the holder's acquire and try_acquire count one more level (kOk);
//   release by the holder drops a level and frees the lock at zero; release by anyone
//   else is kValueError.
using RLock = detail::BasicLock<true>;

}  // namespace mp::models
