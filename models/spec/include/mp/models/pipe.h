// mp/models/pipe.h — specification of mp::Pipe (a pair of connected mp::Connection ends).
//
//   mp::models::Pipe   two ends; what one end sends, the other receives, in order
#pragma once

#include <array>
#include <deque>
#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class PipeOpKind : std::uint8_t {
  kSend,
  kRecv,
  kTryRecv,  // poll(0), then recv if it said yes: one operation when only one process
             // receives on the end
  kPoll,
  kClose,
};

struct PipeOp {
  PipeOpKind kind = PipeOpKind::kSend;
  int end = 0;               // 0 or 1: the Connection used
  std::int64_t message = 0;  // send(message)
  friend bool operator==(const PipeOp&, const PipeOp&) = default;
};

inline std::string to_string(const PipeOp& op) {
  const std::string end = "[" + std::to_string(op.end) + "].";
  switch (op.kind) {
    case PipeOpKind::kSend:
      return end + "send(" + std::to_string(op.message) + ")";
    case PipeOpKind::kRecv:
      return end + "recv()";
    case PipeOpKind::kTryRecv:
      return end + "try_recv()";
    case PipeOpKind::kPoll:
      return end + "poll()";
    case PipeOpKind::kClose:
      return end + "close()";
  }
  return "?";
}

// Pipe (duplex)
//   send(m)   kOk: m joins the messages travelling to the other end.
//   recv      ok(m) with the oldest message travelling to this end; kEof when none is left
//             and the other end is closed; not yet otherwise.
//   try_recv  as recv, or kFalse when recv would block.
//   poll      kOk if recv would not block, kFalse otherwise.
//   close     kOk.
class Pipe {
 public:
  using Op = PipeOp;
  using Result = Reply<>;

  bool step(ProcessId, const Op& op, const Result& result) {
    auto& inbox = to_[op.end];
    const bool peer_closed = closed_[1 - op.end];
    switch (op.kind) {
      case PipeOpKind::kSend:
        if (result.status != Status::kOk) return false;
        to_[1 - op.end].push_back(op.message);
        return true;
      case PipeOpKind::kRecv:
      case PipeOpKind::kTryRecv:
        if (!inbox.empty()) {
          if (result != ok(inbox.front())) return false;
          inbox.pop_front();
          return true;
        }
        if (peer_closed) return result.status == Status::kEof;
        return op.kind == PipeOpKind::kTryRecv && result.status == Status::kFalse;
      case PipeOpKind::kPoll:
        return result.status == (!inbox.empty() || peer_closed ? Status::kOk : Status::kFalse);
      case PipeOpKind::kClose:
        if (result.status != Status::kOk) return false;
        closed_[op.end] = true;
        return true;
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op& op) const {
    std::vector<Result> results = {{Status::kOk}, {Status::kFalse}, {Status::kEof}};
    if (!to_[op.end].empty()) results.push_back(ok(to_[op.end].front()));
    return results;
  }

  const std::deque<std::int64_t>& in_flight_to(int end) const { return to_[end]; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_range(seed, to_[0]);
    hash_range(seed, to_[1]);
    hash_combine(seed, closed_[0]);
    hash_combine(seed, closed_[1]);
    return seed;
  }
  friend bool operator==(const Pipe&, const Pipe&) = default;

 private:
  std::array<std::deque<std::int64_t>, 2> to_;
  std::array<bool, 2> closed_ = {false, false};
};

}  // namespace mp::models
