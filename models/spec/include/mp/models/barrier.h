// mp/models/barrier.h — specification of mp::Barrier.
//
//   mp::models::Barrier   `parties` processes wait until all of them have arrived
//
// Barrier::wait is modelled as two operations of the waiting process, in program order, both
// spanning the call and both carrying the call's result: kArrive (joins the current pass) and
// kLeave (returns once the pass is complete, or the barrier broke). So a pass's waits must
// all overlap in time: no process leaves before the last one arrived.
#pragma once

#include <cstdint>
#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class BarrierOpKind : std::uint8_t { kArrive, kLeave, kAbort, kReset, kNWaiting, kBroken };

struct BarrierOp {
  BarrierOpKind kind = BarrierOpKind::kArrive;
  friend bool operator==(const BarrierOp&, const BarrierOp&) = default;
};

inline std::string to_string(const BarrierOp& op) {
  switch (op.kind) {
    case BarrierOpKind::kArrive:
      return "wait()<arrive>";
    case BarrierOpKind::kLeave:
      return "wait()<leave>";
    case BarrierOpKind::kAbort:
      return "abort()";
    case BarrierOpKind::kReset:
      return "reset()";
    case BarrierOpKind::kNWaiting:
      return "n_waiting()";
    case BarrierOpKind::kBroken:
      return "broken()";
  }
  return "?";
}

// Barrier
//   arrive     result ok(index): joins the pass with an index no other process of the pass
//              has; the last arrival completes the pass. Result kBroken: the call failed,
//              either at once (the barrier is broken) or later (it joins, then breaks).
//   leave      ok(index) once the caller's pass completed; kBroken if the barrier broke
//              (abort, reset) while the caller waited; not yet otherwise.
//   abort      breaks the barrier: every waiter fails, every later wait fails until reset.
//   reset      waiters fail; the barrier is whole and empty again.
//   n_waiting  ok(number of processes in the current pass); broken: kOk / kFalse.
// Barrier(parties, /*timed_waits=*/true): waits have a timeout, so a waiter may also leave
// with kBroken before its pass completes — its timeout broke the barrier for every waiter of
// the pass and every later wait, until reset (Python's Barrier does the same). That is how
// the others learn that a party died while they waited.
// crash(p): a process that dies inside wait() may have held the barrier's internal lock,
// which breaks the barrier (mp::Barrier documents it); the model cannot tell where it died,
// so after any death a wait may also end with kBroken, breaking the barrier for all.
class Barrier {
 public:
  using Op = BarrierOp;
  using Result = Reply<>;

  Barrier() = default;
  explicit Barrier(int parties, bool timed_waits = false)
      : parties_(parties), timed_waits_(timed_waits) {}

  bool step(ProcessId p, const Op& op, const Result& result) {
    switch (op.kind) {
      case BarrierOpKind::kArrive:
        if (phase(p) != kIdle) return false;
        if (result.status == Status::kBroken && broken_) {
          set_phase(p, kFailed);
          return true;
        }
        if (broken_) return false;
        if (result.status == Status::kOk) {
          if (result.value < 0 || result.value >= parties_) return false;
          if (used_indexes_ & (1ULL << result.value)) return false;
          used_indexes_ |= 1ULL << result.value;
        } else if (result.status != Status::kBroken) {
          return false;
        }
        set_phase(p, kWaiting);
        if (++arrived_ == parties_) {
          for (auto& phase : phases_) {
            if (phase == kWaiting) phase = kPassed;
          }
          arrived_ = 0;
          used_indexes_ = 0;
        }
        return true;
      case BarrierOpKind::kLeave:
        if (result.status == Status::kOk && phase(p) == kPassed) {
          set_phase(p, kIdle);
          return true;
        }
        if (result.status == Status::kBroken && phase(p) == kFailed) {
          set_phase(p, kIdle);
          return true;
        }
        if (result.status == Status::kBroken &&
            ((phase(p) == kWaiting && timed_waits_) || (phase(p) == kPassed && after_death_))) {
          break_pass();
          broken_ = true;
          set_phase(p, kIdle);
          return true;
        }
        return false;
      case BarrierOpKind::kAbort:
      case BarrierOpKind::kReset:
        if (result.status != Status::kOk) return false;
        break_pass();
        broken_ = op.kind == BarrierOpKind::kAbort;
        return true;
      case BarrierOpKind::kNWaiting:
        return result == ok<std::int64_t>(arrived_);
      case BarrierOpKind::kBroken:
        return result.status == (broken_ ? Status::kOk : Status::kFalse);
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op& op) const {
    std::vector<Result> results = {{Status::kOk}, {Status::kFalse}, {Status::kBroken}};
    for (int i = 0; i < parties_; ++i) results.push_back(ok<std::int64_t>(i));
    return results;
  }

  void crash(ProcessId) { after_death_ = true; }

  int parties() const { return parties_; }
  int n_waiting() const { return arrived_; }
  bool broken() const { return broken_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_combine(seed, arrived_);
    hash_combine(seed, used_indexes_);
    hash_combine(seed, broken_);
    hash_combine(seed, after_death_);
    hash_range(seed, phases_);
    return seed;
  }
  friend bool operator==(const Barrier& a, const Barrier& b) {
    return a.parties_ == b.parties_ && a.timed_waits_ == b.timed_waits_ &&
           a.arrived_ == b.arrived_ && a.used_indexes_ == b.used_indexes_ &&
           a.broken_ == b.broken_ && a.trimmed_phases() == b.trimmed_phases();
  }

 private:
  enum Phase : std::uint8_t { kIdle, kWaiting, kPassed, kFailed };

  // Every waiter of the current pass fails; the pass is empty again.
  void break_pass() {
    for (auto& phase : phases_) {
      if (phase == kWaiting) phase = kFailed;
    }
    arrived_ = 0;
    used_indexes_ = 0;
  }

  Phase phase(ProcessId p) const {
    return static_cast<std::size_t>(p) < phases_.size() ? phases_[p] : kIdle;
  }
  void set_phase(ProcessId p, Phase phase) {
    if (static_cast<std::size_t>(p) >= phases_.size()) phases_.resize(p + 1, kIdle);
    phases_[p] = phase;
    while (!phases_.empty() && phases_.back() == kIdle) phases_.pop_back();
  }
  const std::vector<Phase>& trimmed_phases() const { return phases_; }

  int parties_ = 2;
  bool timed_waits_ = false;
  int arrived_ = 0;
  std::uint64_t used_indexes_ = 0;
  bool broken_ = false;
  bool after_death_ = false;   // a process died: a later wait may find the barrier broken
  std::vector<Phase> phases_;  // per process; trailing kIdle trimmed so == is canonical
};

}  // namespace mp::models
