// mp::Value and mp::Array against mp::models::Value / Array: sequentially in one process,
// concurrently under fork, thread and spawn (an increment under get_lock() is one step), and
// the mistake the runtime cannot prevent: `v.value() += 1` without the lock loses updates,
// which the harness must find.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/errors.h"
#include "mp/models/value.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using I = std::int64_t;
using Op = m::ValueOp<I>;
using V = m::ValueOpKind;

const std::vector<StartMode> kAllModes = {StartMode::kFork, StartMode::kThread, StartMode::kSpawn,
                                          StartMode::kForkserver};

// Runs `op` on a Value or Array; if its lock's holder died (mp::OwnerDied: the caller holds
// the lock now), declares the value repaired — a write is one store, so a holder killed
// mid-operation leaves it whole — gives the lock back and runs `op` again.
template <class F>
auto recovering(mp::RLock& lock, F op) {
  for (;;) {
    try {
      return op();
    } catch (const mp::OwnerDied&) {
      lock.mark_consistent();
      lock.release();
    }
  }
}

// add under get_lock() when `locked_add`, else through the proxy's `+=` (read, then write).
struct ValueSut {
  mp::Value<I> value{0};
  bool locked_add = true;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(value, locked_add);
  }

  m::Reply<I> run(ProcessId p, const Op& op) {
    return recovering(value.get_lock(), [&] { return run_once(p, op); });
  }
  m::Reply<I> run_once(ProcessId, const Op& op) {
    switch (op.kind) {
      case V::kGet:
        return m::ok(value.get());
      case V::kSet:
        value.set(op.value);
        return {};
      case V::kAdd:
        if (!locked_add) {
          auto ref = value.value();
          ref += op.value;
          return m::ok<I>(ref);  // may read a later value: that is the point
        }
        mp::LockGuard guard(value.get_lock());
        value.set(value.get() + op.value);
        return m::ok(value.get());
    }
    return {m::Status::kValueError};
  }
};

struct ArraySut {
  mp::Array<I> array = mp::Array<I>(std::size_t{3});  // not {3}: that is one element, 3

  template <class Archive>
  void serialize(Archive& archive) {
    archive(array);
  }

  m::Reply<I> run(ProcessId p, const Op& op) {
    return recovering(array.get_lock(), [&] { return run_once(p, op); });
  }
  m::Reply<I> run_once(ProcessId, const Op& op) {
    try {
      switch (op.kind) {
        case V::kGet:
          return m::ok(array.get(op.index));
        case V::kSet:
          array.set(op.index, op.value);
          return {};
        case V::kAdd: {
          mp::LockGuard guard(array.get_lock());
          array.set(op.index, array.get(op.index) + op.value);
          return m::ok(array.get(op.index));
        }
      }
    } catch (const std::out_of_range&) {
      return {m::Status::kMissing};
    }
    return {m::Status::kValueError};
  }
};

rc::Gen<Op> gen_value_op(std::size_t max_index) {
  return rc::gen::apply(
      [](V kind, I value, std::size_t index) {
        return Op{kind, value, index};
      },
      rc::gen::element(V::kGet, V::kSet, V::kAdd), rc::gen::inRange<I>(-3, 4),
      rc::gen::inRange<std::size_t>(0, max_index + 1));
}

RC_GTEST_PROP(ValueProps, SequentialModelAgreesWithValue, ()) {
  rc_check_sequential(
      m::Value<I>{}, [] { return ValueSut{mp::Value<I>(0)}; }, gen_value_op(0));
}

RC_GTEST_PROP(ValueProps, SequentialModelAgreesWithArray, ()) {
  rc_check_sequential(
      m::Array<I>(3), [] { return ArraySut{}; }, gen_value_op(3));
}

RC_GTEST_PROP(ValueProps, ValueIsLinearizable, ()) {
  const auto program = *gen_program(single(gen_value_op(0)));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "ValueProps.ValueIsLinearizable", m::Value<I>{}, [] { return ValueSut{mp::Value<I>(0)}; },
      program, options);
}

RC_GTEST_PROP(ValueProps, ArrayIsLinearizableIndexByIndex, ()) {
  const auto program = *gen_program(single(gen_value_op(2)));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "ValueProps.ArrayIsLinearizableIndexByIndex", m::Array<I>(3), [] { return ArraySut{}; },
      program, options);
}

const std::vector<std::string> kValueKillPoints = {"rlock.acquire.after_cas",
                                                   "rlock.release.after_exchange",
                                                   "proptest.op.gap", "proptest.op.after", ""};

// Every case kills one process, often while it holds the value's lock: the others take the
// lock over (OwnerDied, recovered above) instead of hanging, and no completed write is lost.
RC_GTEST_PROP(ValueProps, ValueSurvivesAKilledProcess, ()) {
  const auto program = *gen_program(single(gen_value_op(0)));
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kValueKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "ValueProps.ValueSurvivesAKilledProcess", m::Value<I>{},
      [] { return ValueSut{mp::Value<I>(0)}; }, program, options);
}

RC_GTEST_PROP(ValueProps, ArraySurvivesAKilledProcess, ()) {
  const auto program = *gen_program(single(gen_value_op(2)));
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kValueKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "ValueProps.ArraySurvivesAKilledProcess", m::Array<I>(3), [] { return ArraySut{}; }, program,
      options);
}

// The harness must catch Python's classic: `v.value += 1` without get_lock().
TEST(ValueProps, AnIncrementWithoutTheLockIsCaughtLosingUpdates) {
  const auto programs = gen_program(single(rc::gen::element(Op{V::kAdd, 1}, Op{V::kGet})));
  for (StartMode mode : kAllModes) {
    Search search{.cases = 100, .seed = 0xadd};
    search.options.mode = mode;
    const auto report = find_counterexample(
        std::string("ValueProps.UnlockedIncrement_") + to_string(mode), m::Value<I>{},
        [] {
          return ValueSut{mp::Value<I>(0), false};
        },
        programs, search);
    ASSERT_TRUE(report) << "no lost update found under " << to_string(mode);
    EXPECT_EQ(report->verdict, Verdict::kNotLinearizable) << report->text;
  }
}

}  // namespace
}  // namespace ipcheck::proptest
