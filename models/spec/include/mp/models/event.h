// mp/models/event.h — specification of mp::Event.
//
//   mp::models::Event   a flag that processes set, clear and wait for
#pragma once

#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class EventOpKind : std::uint8_t { kSet, kClear, kIsSet, kWait, kTimedWait };

struct EventOp {
  EventOpKind kind = EventOpKind::kSet;
  friend bool operator==(const EventOp&, const EventOp&) = default;
};

inline std::string to_string(const EventOp& op) {
  switch (op.kind) {
    case EventOpKind::kSet:
      return "set()";
    case EventOpKind::kClear:
      return "clear()";
    case EventOpKind::kIsSet:
      return "is_set()";
    case EventOpKind::kWait:
      return "wait()";
    case EventOpKind::kTimedWait:
      return "wait(timeout)";
  }
  return "?";
}

// Event
//   set, clear    kOk.
//   is_set        kOk if set, kFalse if not.
//   wait          kOk once the flag is set; not yet while it is clear.
//   wait(timeout) kOk if set, kFalse (timed out) if clear at its linearization point.
class Event {
 public:
  using Op = EventOp;
  using Result = Reply<>;

  bool step(ProcessId, const Op& op, const Result& result) {
    switch (op.kind) {
      case EventOpKind::kSet:
      case EventOpKind::kClear:
        if (result.status != Status::kOk) return false;
        set_ = op.kind == EventOpKind::kSet;
        return true;
      case EventOpKind::kIsSet:
      case EventOpKind::kTimedWait:
        return result.status == (set_ ? Status::kOk : Status::kFalse);
      case EventOpKind::kWait:
        return set_ && result.status == Status::kOk;
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op&) const {
    return {{Status::kOk}, {Status::kFalse}};
  }

  bool is_set() const { return set_; }
  std::size_t hash() const { return std::hash<bool>{}(set_); }
  friend bool operator==(const Event&, const Event&) = default;

 private:
  bool set_ = false;
};

}  // namespace mp::models
