// ipcheck/proptest/program.h — the shape of a test case.
//
//   ipcheck::proptest::Program<Op>   a sequential prefix, 2–4 concurrent branches, a suffix
//
// A program is plain data, made in the parent (usually by RapidCheck, see rapidcheck.h),
// so that a failing case can be shrunk and printed. Process 0 runs the prefix, then the
// branches run at once in processes 1..n, then process 0 runs the suffix.
#pragma once

#include <string>
#include <vector>

namespace ipcheck::proptest {

template <class Op>
struct Program {
  std::vector<Op> prefix;
  std::vector<std::vector<Op>> branches;
  std::vector<Op> suffix;

  // The number of processes of a run: 1 (prefix and suffix) + the branches.
  int processes() const { return 1 + static_cast<int>(branches.size()); }
  std::size_t operation_count() const {
    std::size_t count = prefix.size() + suffix.size();
    for (const auto& branch : branches) count += branch.size();
    return count;
  }
};

}  // namespace ipcheck::proptest
