// ipcheck/proptest/history.h — what happened in a test run, as the checker reads it.
//
//   ipcheck::proptest::Operation<Op, Result>   one call by one process, or one process's death
//   ipcheck::proptest::History<M>              every operation of a run, for model M
//
// Times are CLOCK_MONOTONIC nanoseconds (now_ns()), taken just before a call starts and
// just after it returns. An operation whose result nobody saw — its process was killed in
// the middle of it, or the run was stopped — is *indeterminate*: it may or may not have
// taken effect, and if it did, it did so before `completed_ns` (the death of its process,
// or kNever when not even that is known).
#pragma once

#include <time.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "mp/models/model.h"

namespace ipcheck::proptest {

using mp::models::ProcessId;

// A completion time later than any other: for operations that never completed.
inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

// CLOCK_MONOTONIC, in nanoseconds: the clock every timestamp of a history uses.
inline std::int64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

template <class Op, class Result>
struct Operation {
  enum class Kind : std::uint8_t {
    kCall,   // `op` was invoked by `process`; `result` is what it returned
    kCrash,  // `process` died at `invoked_ns` (op and result unused)
  };

  ProcessId process = 0;
  Kind kind = Kind::kCall;
  Op op{};
  std::optional<Result> result;  // nullopt: indeterminate
  std::int64_t invoked_ns = 0;
  std::int64_t completed_ns = kNever;

  bool indeterminate() const { return kind == Kind::kCall && !result.has_value(); }
};

template <class M>
using History = std::vector<Operation<typename M::Op, typename M::Result>>;

}  // namespace ipcheck::proptest
