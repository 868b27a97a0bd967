// mp/models/served.h — an object served by a manager whose server can die.
//
//   mp::models::ServedOp<Op>  an operation of the inner model, or the server's death
//   mp::models::Served<M>     model M behind a server: alive, it is M; once the server is
//                             dead, every call fails with kGone (mp::ManagerGone)
//
// The kill of the server is an operation of the history like any other (the process that
// killed it records it), so the checker places it: a call that overlaps the kill may have
// been served before it (M's result) or failed after it (kGone), a call that starts after
// the kill returned can only fail. A call never fails with kGone while the server is alive.
// A call that failed with kGone may yet have taken effect: the server served it and died
// before its reply was written (lost_reply): the checker lets its effect happen, unseen,
// anywhere in the call, or not at all, and places the failure itself after the kill.
#pragma once

#include <string>
#include <vector>

#include "mp/models/model.h"

namespace mp::models {

template <class InnerOp>
struct ServedOp {
  bool kill_server = false;  // the server process is killed (SIGKILL) and reaped
  InnerOp op{};
  friend bool operator==(const ServedOp&, const ServedOp&) = default;
};

template <class InnerOp>
std::string to_string(const ServedOp<InnerOp>& served) {
  return served.kill_server ? "kill(server)" : to_string(served.op);
}

template <class M>
class Served {
 public:
  using Op = ServedOp<typename M::Op>;
  using Result = typename M::Result;

  Served() = default;
  explicit Served(M inner) : inner_(std::move(inner)) {}

  static bool lost_reply(const Result& result) { return result.status == Status::kGone; }

  bool step(ProcessId p, const Op& op, const Result& result) {
    if (op.kill_server) {
      if (result.status != Status::kOk || dead_) return false;  // a server dies once
      dead_ = true;
      return true;
    }
    if (dead_) return result.status == Status::kGone;
    if (result.status == Status::kGone) return false;
    return inner_.step(p, op.op, result);
  }

  std::vector<Result> possible_results(ProcessId p, const Op& op) const {
    if (op.kill_server) return {Result{Status::kOk}};
    std::vector<Result> results = inner_.possible_results(p, op.op);
    results.push_back(Result{Status::kGone});
    return results;
  }

  // A client that dies loses nothing the server holds (the inner model decides what its
  // death means, if anything).
  void crash(ProcessId p) {
    if constexpr (CrashAware<M>) inner_.crash(p);
  }

  [[nodiscard]] bool dead() const { return dead_; }
  const M& inner() const { return inner_; }
  std::size_t hash() const {
    std::size_t seed = inner_.hash();
    hash_combine(seed, dead_);
    return seed;
  }
  friend bool operator==(const Served&, const Served&) = default;

 private:
  M inner_{};
  bool dead_ = false;
};

}  // namespace mp::models
