// ipcheck/proptest/stateful.h — validating a model against the real thing, in one process.
//
//   ipcheck::proptest::expected_result()       what the model says an operation returns now
//   ipcheck::proptest::ModelCommand<M, Sut>    a RapidCheck command: one operation
//   ipcheck::proptest::rc_check_sequential()   rc::state::check over generated operations
//
// Before a model can judge concurrent histories it must agree with the primitive when
// nothing runs concurrently. These tests generate a sequence of operations, skip those the
// model says would block (a blocking operation that cannot complete would hang the only
// process), run each on the system under test (the same SUT type as the concurrent tests)
// and require the model to accept every result.
#pragma once

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <memory>
#include <optional>
#include <sstream>

#include "mp/models/model.h"

namespace ipcheck::proptest {

// The result `op` by process `p` has in state `model`, or nullopt if it cannot complete now
// (it would block). If several results are allowed, the first of possible_results().
template <mp::models::Model M>
std::optional<typename M::Result> expected_result(const M& model, mp::models::ProcessId p,
                                                  const typename M::Op& op) {
  for (const auto& result : model.possible_results(p, op)) {
    M copy = model;
    if (copy.step(p, op, result)) return result;
  }
  return std::nullopt;
}

template <mp::models::Model M, class Sut>
struct ModelCommand : rc::state::Command<M, Sut> {
  mp::models::ProcessId process = 0;
  typename M::Op op;

  ModelCommand(mp::models::ProcessId p, typename M::Op o) : process(p), op(o) {}

  // The whole call, both phases of a two-phase operation (Sut::second_phase), applied with
  // `result`; false if the model does not allow it.
  bool step(M& model, const typename M::Result& result) const {
    if (!model.step(process, op, result)) return false;
    if constexpr (requires { Sut::second_phase(op); }) {
      if (auto second = Sut::second_phase(op)) return model.step(process, *second, result);
    }
    return true;
  }
  // The result the model expects of the whole call, or nullopt if it would block.
  std::optional<typename M::Result> expected(const M& model) const {
    for (const auto& result : model.possible_results(process, op)) {
      M copy = model;
      if (step(copy, result)) return result;
    }
    return std::nullopt;
  }

  void checkPreconditions(const M& model) const override { RC_PRE(expected(model).has_value()); }
  void apply(M& model) const override { step(model, *expected(model)); }
  void run(const M& model, Sut& sut) const override {
    const typename M::Result result = sut.run(process, op);
    M copy = model;
    if (!step(copy, result)) {
      RC_FAIL("the model does not allow " + to_string(op) + " -> " + to_string(result) +
              " (it expects " + to_string(*expected(model)) + ")");
    }
  }
  void show(std::ostream& os) const override { os << 'p' << process << ' ' << to_string(op); }
};

// Runs rc::state::check: operations from `gen_op` (by process 0) applied to the model
// `initial` and to a fresh `make_sut()`. Use inside an RC_GTEST_PROP / rc::check property.
template <mp::models::Model M, class Factory>
void rc_check_sequential(const M& initial, Factory&& make_sut, rc::Gen<typename M::Op> gen_op) {
  auto sut = make_sut();
  using Sut = decltype(sut);
  rc::state::check(initial, sut, [gen_op](const M&) {
    return rc::gen::map(gen_op, [](const typename M::Op& op) {
      return std::shared_ptr<const rc::state::Command<M, Sut>>(
          std::make_shared<ModelCommand<M, Sut>>(0, op));
    });
  });
}

}  // namespace ipcheck::proptest
