// A property test of a user's own IPC code, the way property_tests/README.md describes it:
// a ticket dispenser that processes share, its sequential model, a system under test, and
// three properties (the model agrees with the code in one process; concurrent histories are
// linearizable under fork, thread and spawn; the same code without its lock is caught).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/hook.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace tickets {

// The code under test: hands out tickets 1, 2, 3, ... to any process, each ticket once.
class TicketDispenser {
 public:
  TicketDispenser() = default;
  explicit TicketDispenser(bool locked) : locked_(locked) {}

  std::int64_t take() {
    if (!locked_) return take_unlocked();
    mp::LockGuard guard(last_.get_lock());
    return take_unlocked();
  }
  std::int64_t last_taken() const { return last_.get(); }

  template <class Archive>
  void serialize(Archive& archive) {  // spawn: the shared value travels to the child
    archive(last_, locked_);
  }

 private:
  std::int64_t take_unlocked() {
    const std::int64_t ticket = last_.get() + 1;
    MP_HOOK("tickets.take.after_read");  // where another process could step in
    last_.set(ticket);
    return ticket;
  }

  mp::Value<std::int64_t> last_{0};
  bool locked_ = true;
};

// 1. The model: what a dispenser means, one operation at a time.
enum class TicketOpKind : std::uint8_t { kTake, kLastTaken };

struct TicketOp {
  TicketOpKind kind = TicketOpKind::kTake;
  friend bool operator==(const TicketOp&, const TicketOp&) = default;
};

inline std::string to_string(const TicketOp& op) {
  return op.kind == TicketOpKind::kTake ? "take()" : "last_taken()";
}

class TicketModel {
 public:
  using Op = TicketOp;
  using Result = mp::models::Reply<>;  // a status and an int64_t value

  // True (and the state moves on) if `op` may return `result` now.
  bool step(mp::models::ProcessId, const Op& op, const Result& result) {
    if (op.kind == TicketOpKind::kLastTaken) return result == mp::models::ok(issued_);
    if (result != mp::models::ok(issued_ + 1)) return false;
    ++issued_;
    return true;
  }
  // What `op` could return: for an operation whose process was killed before it returned.
  std::vector<Result> possible_results(mp::models::ProcessId, const Op& op) const {
    return {mp::models::ok(op.kind == TicketOpKind::kTake ? issued_ + 1 : issued_)};
  }
  std::size_t hash() const { return std::hash<std::int64_t>{}(issued_); }
  friend bool operator==(const TicketModel&, const TicketModel&) = default;

 private:
  std::int64_t issued_ = 0;
};

// 2. The system under test: runs one operation on the real object.
struct TicketSut {
  TicketDispenser dispenser;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(dispenser);
  }
  mp::models::Reply<> run(mp::models::ProcessId, const TicketOp& op) {
    if (op.kind == TicketOpKind::kTake) return mp::models::ok(dispenser.take());
    return mp::models::ok(dispenser.last_taken());
  }
};

rc::Gen<TicketOp> gen_ticket_op() {
  return rc::gen::element(TicketOp{TicketOpKind::kTake}, TicketOp{TicketOpKind::kLastTaken});
}

using namespace ipcheck::proptest;

// 3. The properties.
RC_GTEST_PROP(TicketDispenser, AgreesWithItsModelInOneProcess, ()) {
  rc_check_sequential(
      TicketModel{}, [] { return TicketSut{}; }, gen_ticket_op());
}

RC_GTEST_PROP(TicketDispenser, IsLinearizable, ()) {
  const auto program = *gen_program(single(gen_ticket_op()));
  const auto options = *gen_run_options({StartMode::kFork, StartMode::kThread, StartMode::kSpawn});
  rc_check_program(
      "TicketDispenser.IsLinearizable", TicketModel{}, [] { return TicketSut{}; }, program,
      options);
}

// The same code without its lock hands a ticket out twice: the harness finds it.
TEST(TicketDispenser, WithoutItsLockATicketIsHandedOutTwice) {
  const auto programs = gen_program(single(gen_ticket_op()));
  for (StartMode mode : {StartMode::kFork, StartMode::kSpawn}) {
    bool caught = false;
    for (int i = 0; i < 100 && !caught; ++i) {
      RunOptions options;
      options.mode = mode;
      options.schedule.seed = 1 + i;
      const CaseReport report = check_program(
          std::string("TicketDispenser.Unlocked_") + to_string(mode), TicketModel{},
          [] { return TicketSut{TicketDispenser(/*locked=*/false)}; },
          programs(rc::Random(i), 30).value(), options);
      caught = report.verdict == Verdict::kNotLinearizable;
    }
    EXPECT_TRUE(caught) << "no duplicate ticket found under " << to_string(mode);
  }
}

}  // namespace tickets
