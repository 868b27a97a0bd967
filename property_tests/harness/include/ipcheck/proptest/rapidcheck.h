// ipcheck/proptest/rapidcheck.h — generating cases with RapidCheck.
//
//   ipcheck::proptest::ProgramShape        how big generated programs get
//   ipcheck::proptest::gen_program()       programs from a generator of operation blocks
//   ipcheck::proptest::gen_run_options()   start mode, schedule seed and fault plan
//   ipcheck::proptest::rc_check_program()  check_program, failing the property on failure
//   ipcheck::proptest::find_counterexample() the first failing case among a fixed series:
//                                          a test that a known bug is caught
//
// A property test of one's own primitive, in full:
//
//   RC_GTEST_PROP(MyLock, Linearizable, ()) {
//     auto program = *gen_program(gen_lock_block());   // e.g. {acquire, release}
//     auto options = *gen_run_options({StartMode::kFork, StartMode::kThread});
//     rc_check_program("MyLock.Linearizable", mp::models::Lock{},
//                      [] { return MyLockSut{}; }, program, options);
//   }
//
// RapidCheck shrinks a failing case (fewer operations, fewer branches, no noise, no fault)
// and prints its reproduce string; the harness prints the run's options and writes the
// report of each failing case it checks (the last one written is the shrunk one).
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipcheck/proptest/program.h"
#include "ipcheck/proptest/runner.h"

namespace ipcheck::proptest {

struct ProgramShape {
  int min_branches = 2;
  int max_branches = 4;
  int max_prefix_blocks = 2;
  int max_branch_blocks = 3;
  int max_suffix_blocks = 2;
};

// A program whose prefix, branches and suffix are each a concatenation of blocks drawn from
// `block` (a block keeps related operations together: acquire then release).
template <class Op>
rc::Gen<Program<Op>> gen_program(rc::Gen<std::vector<Op>> block, ProgramShape shape = {}) {
  auto sequence = [block](int min_blocks, int max_blocks) {
    return rc::gen::mapcat(rc::gen::inRange(min_blocks, max_blocks + 1), [block](int n) {
      return rc::gen::map(rc::gen::container<std::vector<std::vector<Op>>>(n, block),
                          [](const std::vector<std::vector<Op>>& blocks) {
                            std::vector<Op> ops;
                            for (const auto& b : blocks) ops.insert(ops.end(), b.begin(), b.end());
                            return ops;
                          });
    });
  };
  return rc::gen::build<Program<Op>>(
      rc::gen::set(&Program<Op>::prefix, sequence(0, shape.max_prefix_blocks)),
      rc::gen::set(&Program<Op>::branches,
                   rc::gen::mapcat(rc::gen::inRange(shape.min_branches, shape.max_branches + 1),
                                   [=](int n) {
                                     return rc::gen::container<std::vector<std::vector<Op>>>(
                                         n, sequence(1, shape.max_branch_blocks));
                                   })),
      rc::gen::set(&Program<Op>::suffix, sequence(0, shape.max_suffix_blocks)));
}

// A block of one operation from `op`.
template <class Op>
rc::Gen<std::vector<Op>> single(rc::Gen<Op> op) {
  return rc::gen::map(op, [](const Op& o) { return std::vector<Op>{o}; });
}

// Options for one run: a start mode from `modes`, a schedule seed (0, no noise, is what a
// failing case shrinks to), and, when `kill_points` is not empty, in about `kill_percent`
// of the cases a plan to kill a branch process (1..max_process) at the 1st–3rd hit of one of
// those points ("" = any point). Kill plans apply to fork and spawn only. In about
// `storm_percent` of the cases (any mode) an interrupt storm at 10–60% of hook hits (see
// FaultPlan::interrupt_percent): every call must survive EINTR.
inline rc::Gen<RunOptions> gen_run_options(std::vector<StartMode> modes,
                                           std::vector<std::string> kill_points = {},
                                           int kill_percent = 20, int max_process = 4,
                                           int storm_percent = 25) {
  auto plan = rc::gen::apply(
      [](int process, const std::string& point, int hit) {
        FaultPlan plan;
        plan.process = process;
        point.copy(plan.point, sizeof plan.point - 1);
        plan.hit = hit;
        return plan;
      },
      rc::gen::inRange(1, max_process + 1),
      rc::gen::elementOf(kill_points.empty() ? std::vector<std::string>{""} : kill_points),
      rc::gen::inRange(1, 4));
  auto fault =
      kill_points.empty()
          ? rc::gen::just(FaultPlan{})
          : rc::gen::weightedOneOf<FaultPlan>(
                {{static_cast<std::size_t>(100 - kill_percent), rc::gen::just(FaultPlan{})},
                 {static_cast<std::size_t>(kill_percent), plan}});
  auto storm = rc::gen::weightedOneOf<int>(
      {{static_cast<std::size_t>(100 - storm_percent), rc::gen::just(0)},
       {static_cast<std::size_t>(storm_percent), rc::gen::inRange(10, 61)}});
  return rc::gen::apply(
      [](StartMode mode, std::uint64_t seed, FaultPlan plan, int interrupt_percent) {
        RunOptions options;
        options.mode = mode;
        options.schedule.seed = seed;
        options.fault = plan;
        options.fault.interrupt_percent = interrupt_percent;
        return options;
      },
      rc::gen::elementOf(modes), rc::gen::arbitrary<std::uint64_t>(), fault, storm);
}

// check_program inside a RapidCheck property: fails the property with the report's text.
template <mp::models::Model M, class Factory>
void rc_check_program(const std::string& name, const M& initial, Factory&& make_sut,
                      const Program<typename M::Op>& program, const RunOptions& options,
                      const CheckOptions& check = {}) {
  CaseReport report = check_program(name, initial, make_sut, program, options, check);
  if (!report.passed) RC_FAIL(report.text);
}

}  // namespace ipcheck::proptest

namespace ipcheck::proptest {
// Lets RapidCheck print a program: one line per part, operations by to_string.
template <class Op>
void showValue(const Program<Op>& program, std::ostream& os) {
  auto list = [&](const std::vector<Op>& ops) {
    os << '[';
    for (std::size_t i = 0; i < ops.size(); ++i) os << (i ? ", " : "") << to_string(ops[i]);
    os << ']';
  };
  os << "prefix: ";
  list(program.prefix);
  for (std::size_t i = 0; i < program.branches.size(); ++i) {
    os << "\nprocess " << i + 1 << ": ";
    list(program.branches[i]);
  }
  os << "\nsuffix: ";
  list(program.suffix);
}
inline void showValue(const RunOptions& options, std::ostream& os) { os << to_string(options); }
// How find_counterexample searches: `cases` cases, the i-th made from the program seed
// `seed + i` and run with `options` under the schedule seed `seed + i` (noise always on), so
// that every run of a test tries the same cases.
struct Search {
  int cases = 100;
  std::uint64_t seed = 1;
  RunOptions options = [] {
    RunOptions o;
    o.schedule.max_delay_us = 300;
    return o;
  }();
};

// Runs the cases of `search` and returns the report of the first that fails, or nullopt if
// none does. For a test that a deliberately broken primitive (or a user's known bug) is
// caught within a bounded number of cases.
template <mp::models::Model M, class Factory>
std::optional<CaseReport> find_counterexample(const std::string& name, const M& initial,
                                              Factory&& make_sut,
                                              const rc::Gen<Program<typename M::Op>>& programs,
                                              const Search& search) {
  for (int i = 0; i < search.cases; ++i) {
    const std::uint64_t seed = search.seed + static_cast<std::uint64_t>(i);
    RunOptions options = search.options;
    options.schedule.seed = seed;
    CaseReport report =
        check_program(name, initial, make_sut, programs(rc::Random(seed), 50).value(), options);
    if (!report.passed) return report;
  }
  return std::nullopt;
}

}  // namespace ipcheck::proptest
