// ipcheck/proptest/runner.h — running a program in real processes and checking it.
//
//   ipcheck::proptest::StartMode      how the branches become processes
//   ipcheck::proptest::RunOptions     start mode, schedule, fault plan, watchdog
//   ipcheck::proptest::run_program()  one case, supervised: its history or why it failed
//   ipcheck::proptest::check_program() run_program + the linearizability check + the report
//   ipcheck::proptest::encode_case()   a case (program and options) as one printable word
//
// A failing case's report starts with one line that reproduces it exactly: the start mode,
// schedule seed and fault plan, and a command that replays the same program with the same
// options — IPCHECK_PROPTEST_REPRODUCE='<name>/<encoded case>' makes check_program(<name>, …)
// run that case instead of the one it was given (RC_PARAMS="max_success=1 noshrink=1" runs
// the property once). Progress: with stderr on a terminal, or IPCHECK_PROPTEST_PROGRESS=1,
// check_program prints cases done, cases per second and failures so far, about once a second.
//
// The system under test is made by a factory, fresh for every case, in the case's own
// process, before the branches start (so a fork-mode branch inherits it, as a Python child
// inherits a Lock). It performs one operation at a time for a process:
//
//   struct LockSut {
//     mp::Lock lock;
//     mp::models::Reply<> run(ProcessId p, const mp::models::LockOp& op);
//     // Optional: an operation recorded as two (Condition::wait, Barrier::wait).
//     static std::optional<Op> second_phase(const Op& op);
//   };
//
// Each case runs in a throwaway child process (the supervisor) with a watchdog: a crash, an
// unexpected exit or a deadlock there becomes a failing case with its reason and the history
// recorded up to that point, and the test process carries on (so RapidCheck can shrink). So
// does a leak: a descriptor or a /dev/shm segment the case process still holds once the
// system under test is destroyed and every branch has ended (killed ones included).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(GOOGLETEST_INCLUDE_GTEST_GTEST_H_)  // the caller is a GoogleTest program
#include <gtest/gtest.h>
#endif

#include "ipcheck/proptest/history.h"
#include "ipcheck/proptest/linearizability.h"
#include "ipcheck/proptest/program.h"
#include "ipcheck/proptest/recorder.h"
#include "ipcheck/proptest/report.h"
#include "ipcheck/proptest/schedule.h"
#include "mp/models/model.h"
#include "mp/process.h"
#include "mp/serialize.h"

namespace ipcheck::proptest {

enum class StartMode : std::uint8_t {
  kFork,        // each branch is a forked process
  kThread,      // each branch is a thread of the case process (ThreadSanitizer sees races)
  kSpawn,       // each branch is a spawned process (mp::Process, a fresh image of the program):
                // the system under test must be serializable (mp::Serializable), which carries
                // its shared state as inherited descriptors, and main must call mp::init first
  kForkserver,  // each branch is forked by the case's forkserver (mp::kForkserver): as spawn
                // for what the system under test must be, with a start that costs a fork
};

const char* to_string(StartMode mode);

struct RunOptions {
  StartMode mode = StartMode::kFork;
  Schedule schedule;
  FaultPlan fault;  // its kill is ignored in thread mode (it would take every thread)
  std::chrono::milliseconds watchdog{5000};
};

// "mode=fork schedule=seed=0x2a fault=none": the run's half of a reproduce line.
std::string to_string(const RunOptions& options);

template <class M>
struct RunOutcome {
  std::vector<Operation<typename M::Op, typename M::Result>> history;
  std::string failure;  // empty when every process ran to its end as planned
};

template <class S, class M>
concept SystemUnderTest = requires(S& sut, ProcessId p, const typename M::Op& op) {
  { sut.run(p, op) } -> std::convertible_to<typename M::Result>;
};

namespace detail {

// What a case process holds that it must give back: its open descriptors (number -> what
// they name) and the named shared-memory segments in /dev/shm.
struct Resources {
  std::vector<std::pair<int, std::string>> descriptors;
  std::vector<std::string> segments;
};
Resources snapshot_resources();
// "" if nothing in `now` is new since `before`, else "leaked: fd 7 (memfd:mp.Lock), …".
std::string leaked(const Resources& before, const Resources& now);

// Runs `body` in a child process in its own process group and waits at most `watchdog` for
// it. Returns "" if it exited 0, else why not (killing the whole group on a timeout).
std::string supervise(const std::function<void()>& body, std::chrono::milliseconds watchdog);

// Starts `branches` forked children, waits for all; a child killed by SIGKILL whose death
// `planned(i)` confirms is fine. Returns "" or what went wrong.
std::string run_forked(const std::vector<std::function<void()>>& branches,
                       const std::function<bool(int)>& planned);

// Joins `processes`; a child killed by SIGKILL whose death `planned(i)` confirms is fine.
std::string join_all(std::vector<mp::Process>& processes, const std::function<bool(int)>& planned);

template <class M, class Sut>
void run_ops(Sut& sut, Recorder<typename M::Op, typename M::Result>& recorder, ProcessId p,
             const std::vector<typename M::Op>& ops) {
  for (const auto& op : ops) {
    std::optional<typename M::Op> second;
    if constexpr (requires { Sut::second_phase(op); }) second = Sut::second_phase(op);
    perturb("proptest.op.gap");  // between operations: e.g. the time a lock is held
    const std::size_t slot = recorder.invoke(p, op);
    const std::size_t second_slot = second ? recorder.invoke(p, *second) : 0;
    perturb("proptest.op.before");
    typename M::Result result = sut.run(p, op);
    perturb("proptest.op.after");
    recorder.complete(p, slot, result);
    if (second) recorder.complete(p, second_slot, result);
  }
}

template <class Op, class Result>
void observe_kill(void* recorder, ProcessId p) noexcept {
  static_cast<Recorder<Op, Result>*>(recorder)->crash(p);
}

// Trivially copyable values travel to a spawned child as their bytes.
template <class T>
std::string to_bytes(const T* data, std::size_t count) {
  return std::string(reinterpret_cast<const char*>(data), count * sizeof(T));
}
template <class T>
std::vector<T> from_bytes(const std::string& bytes) {
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

// The target of a spawned branch: a plain function, so that a fresh image finds it.
template <class M, class Sut>
void spawned_branch(Sut sut, mp::detail::SegmentRef segment, int processes, std::uint64_t capacity,
                    int p, int parties, std::string op_bytes, std::string schedule_bytes,
                    std::string fault_bytes) {
  using Op = typename M::Op;
  using Result = typename M::Result;
  const std::vector<Op> ops = from_bytes<Op>(op_bytes);
  const Schedule schedule = from_bytes<Schedule>(schedule_bytes).at(0);
  const FaultPlan fault = from_bytes<FaultPlan>(fault_bytes).at(0);
  Recorder<Op, Result> recorder(std::move(segment), processes, capacity);
  enter_process(p, schedule, fault, &observe_kill<Op, Result>, &recorder);
  recorder.start_together(parties);
  try {
    run_ops<M>(sut, recorder, p, ops);
  } catch (const std::exception& e) {
    recorder.fail(("process " + std::to_string(p) + " threw: " + e.what()).c_str());
  }
  leave_process();
}

}  // namespace detail

// Runs `program` once under `options`. Blocks until the case ended or its watchdog fired.
template <mp::models::Model M, class Factory>
RunOutcome<M> run_program(Factory&& make_sut, const Program<typename M::Op>& program,
                          const RunOptions& options) {
  using Op = typename M::Op;
  using Result = typename M::Result;
  Recorder<Op, Result> recorder(program.processes(), 2 * program.operation_count() + 2);
  FaultPlan fault = options.fault;
  if (options.mode == StartMode::kThread) fault.process = -1;  // a kill would take every thread
  auto enter = [&](ProcessId p) {
    detail::enter_process(p, options.schedule, fault, &detail::observe_kill<Op, Result>, &recorder);
  };
  auto guarded = [&](ProcessId p, const std::vector<Op>& ops, auto& sut) {
    try {
      detail::run_ops<M>(sut, recorder, p, ops);
    } catch (const std::exception& e) {
      recorder.fail(("process " + std::to_string(p) + " threw: " + e.what()).c_str());
    } catch (...) {
      recorder.fail(("process " + std::to_string(p) + " threw an unknown exception").c_str());
    }
  };

  // The case itself: the system under test lives in this scope only, so that what it holds
  // is given back before the leak check.
  auto run_case = [&] {
    enter(0);
    auto sut = make_sut();
    static_assert(SystemUnderTest<decltype(sut), M>,
                  "the factory must make an object with run(ProcessId, Op) -> Result");
    guarded(0, program.prefix, sut);
    if (!recorder.failure().empty()) return;
    std::vector<std::function<void()>> branches;
    for (std::size_t i = 0; i < program.branches.size(); ++i) {
      const auto p = static_cast<ProcessId>(i + 1);
      branches.push_back([&, i, p] {
        enter(p);
        recorder.start_together(static_cast<int>(program.branches.size()));
        guarded(p, program.branches[i], sut);
        detail::leave_process();
      });
    }
    if (options.mode == StartMode::kSpawn || options.mode == StartMode::kForkserver) {
      using Sut = std::remove_cvref_t<decltype(sut)>;
      if constexpr (mp::Serializable<Sut>) {
        const mp::Context context(options.mode == StartMode::kSpawn ? mp::StartMethod::kSpawn
                                                                    : mp::StartMethod::kForkserver);
        std::vector<mp::Process> children;
        for (std::size_t i = 0; i < program.branches.size(); ++i) {
          children.push_back(context.Process(
              &detail::spawned_branch<M, Sut>, sut, recorder.segment(), program.processes(),
              std::uint64_t{recorder.capacity()}, static_cast<int>(i + 1),
              static_cast<int>(program.branches.size()),
              detail::to_bytes(program.branches[i].data(), program.branches[i].size()),
              detail::to_bytes(&options.schedule, 1), detail::to_bytes(&fault, 1)));
          children.back().start();
        }
        std::string error = detail::join_all(
            children, [&](int i) { return recorder.crashed(static_cast<ProcessId>(i + 1)); });
        if (!error.empty()) recorder.fail(error.c_str());
      } else {
        recorder.fail(
            "spawn and forkserver modes need a system under test that mp::serialize accepts");
      }
    } else if (options.mode == StartMode::kFork) {
      std::string error = detail::run_forked(
          branches, [&](int i) { return recorder.crashed(static_cast<ProcessId>(i + 1)); });
      if (!error.empty()) recorder.fail(error.c_str());
    } else {
      std::vector<std::thread> threads;
      for (auto& branch : branches) threads.emplace_back(branch);
      for (auto& thread : threads) thread.join();
    }
    if (!recorder.failure().empty()) return;
    enter(0);
    guarded(0, program.suffix, sut);
    detail::leave_process();
  };
  std::string failure = detail::supervise(
      [&] {
        // The server's socket and pidfd belong to the start method, not to the case.
        if (options.mode == StartMode::kForkserver) mp::ensure_forkserver_running();
        const detail::Resources before = detail::snapshot_resources();
        run_case();
        if (!recorder.failure().empty()) return;
        const std::string leak = detail::leaked(before, detail::snapshot_resources());
        if (!leak.empty()) recorder.fail(leak.c_str());
      },
      options.watchdog);
  RunOutcome<M> outcome;
  outcome.history = recorder.history();
  outcome.failure = !recorder.failure().empty() ? recorder.failure() : failure;
  return outcome;
}

struct CaseReport {
  bool passed = false;
  Verdict verdict = Verdict::kUnknown;
  // For a failure: the reason, the per-process table, the reproduce line and the report
  // files. Empty for a pass.
  std::string text;
};

namespace detail {
std::string to_hex(const std::string& bytes);
std::optional<std::string> from_hex(const std::string& hex);
// The encoded case IPCHECK_PROPTEST_REPRODUCE names for test `name`, if it names this one.
std::optional<std::string> replay_for(const std::string& name);
// The shell command that replays `encoded` for `name` in this executable.
std::string reproduce_command(const std::string& name, const std::string& encoded,
                              const std::string& gtest_filter);
// Counts a checked case for the progress line (printed at most about once a second).
void note_case(bool passed);

template <class T>
void put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
template <class T>
bool take(const std::string& in, std::size_t& at, T& value) {
  if (in.size() - at < sizeof value) return false;
  std::memcpy(&value, in.data() + at, sizeof value);
  at += sizeof value;
  return true;
}
inline constexpr char kCaseFormat[] = "v1:";
}  // namespace detail

// `program` and `options` as one word of hex digits ("v1:…"): the operations' bytes (they are
// trivially copyable), the start mode, schedule, fault plan and watchdog.
template <class Op>
std::string encode_case(const Program<Op>& program, const RunOptions& options) {
  std::string bytes;
  auto ops = [&](const std::vector<Op>& list) {
    detail::put(bytes, static_cast<std::uint32_t>(list.size()));
    for (const Op& op : list) detail::put(bytes, op);
  };
  detail::put(bytes, static_cast<std::uint32_t>(sizeof(Op)));
  detail::put(bytes, options.mode);
  detail::put(bytes, options.schedule);
  detail::put(bytes, options.fault);
  detail::put(bytes, static_cast<std::int64_t>(options.watchdog.count()));
  ops(program.prefix);
  detail::put(bytes, static_cast<std::uint32_t>(program.branches.size()));
  for (const auto& branch : program.branches) ops(branch);
  ops(program.suffix);
  return detail::kCaseFormat + detail::to_hex(bytes);
}

// The case encode_case made, or nullopt if `text` is not one (for these operations).
template <class Op>
std::optional<std::pair<Program<Op>, RunOptions>> decode_case(const std::string& text) {
  const std::size_t prefix = std::strlen(detail::kCaseFormat);
  if (text.compare(0, prefix, detail::kCaseFormat) != 0) return std::nullopt;
  const std::optional<std::string> bytes = detail::from_hex(text.substr(prefix));
  if (!bytes) return std::nullopt;
  std::size_t at = 0;
  Program<Op> program;
  RunOptions options;
  std::uint32_t op_size = 0, branches = 0;
  std::int64_t watchdog = 0;
  auto ops = [&](std::vector<Op>& list) {
    std::uint32_t n = 0;
    if (!detail::take(*bytes, at, n) || n > 100000) return false;
    list.resize(n);
    for (Op& op : list) {
      if (!detail::take(*bytes, at, op)) return false;
    }
    return true;
  };
  if (!detail::take(*bytes, at, op_size) || op_size != sizeof(Op) ||
      !detail::take(*bytes, at, options.mode) || !detail::take(*bytes, at, options.schedule) ||
      !detail::take(*bytes, at, options.fault) || !detail::take(*bytes, at, watchdog) ||
      !ops(program.prefix) || !detail::take(*bytes, at, branches) || branches > 64) {
    return std::nullopt;
  }
  options.fault.point[sizeof options.fault.point - 1] = '\0';
  options.watchdog = std::chrono::milliseconds(watchdog);
  program.branches.resize(branches);
  for (auto& branch : program.branches) {
    if (!ops(branch)) return std::nullopt;
  }
  if (!ops(program.suffix) || at != bytes->size()) return std::nullopt;
  return std::pair{std::move(program), options};
}

// Runs `program` and checks its history against `initial`. A case passes only if it ran to
// its end, left nothing behind, and its history is linearizable; on failure the report is
// written (write_report) and summarised in CaseReport::text, whose first line reproduces the
// run. If IPCHECK_PROPTEST_REPRODUCE names this test, its case runs instead of `program`
// under `options` (a malformed one throws std::invalid_argument).
template <mp::models::Model M, class Factory>
CaseReport check_program(const std::string& name, const M& initial, Factory&& make_sut,
                         const Program<typename M::Op>& given_program,
                         const RunOptions& given_options, const CheckOptions& check = {}) {
  using Op = typename M::Op;
  Program<Op> program = given_program;
  RunOptions options = given_options;
  if (const std::optional<std::string> replay = detail::replay_for(name)) {
    auto decoded = decode_case<Op>(*replay);
    if (!decoded) {
      throw std::invalid_argument("IPCHECK_PROPTEST_REPRODUCE: not a case of " + name +
                                  " (made by another build, or cut short?)");
    }
    program = std::move(decoded->first);
    options = decoded->second;
  }
  RunOutcome<M> outcome = run_program<M>(make_sut, program, options);
  CaseReport report;
  CheckResult result;
  std::string verdict;
  if (outcome.failure.empty()) {
    result = check_linearizable(initial, outcome.history, check);
    report.verdict = result.verdict;
    report.passed = result.verdict == Verdict::kLinearizable;
    verdict = to_string(result.verdict);
    if (!result.partition.empty()) verdict += " (key " + result.partition + ")";
  } else {
    verdict = outcome.failure;
    report.verdict = Verdict::kNotLinearizable;
  }
  detail::note_case(report.passed);
  if (report.passed) return report;
  std::string filter = name;
#if defined(GOOGLETEST_INCLUDE_GTEST_GTEST_H_)
  if (const auto* test = testing::UnitTest::GetInstance()->current_test_info()) {
    filter = std::string(test->test_suite_name()) + "." + test->name();
  }
#endif
  Timeline timeline = make_timeline(outcome.history, outcome.failure.empty() ? &result : nullptr);
  timeline.title = name;
  timeline.verdict = verdict;
  timeline.reproduce = detail::reproduce_command(name, encode_case(program, options), filter);
  timeline.summary = "ipcheck-proptest: " + name + " " + to_string(options);
  const std::string file = write_report(timeline);
  report.text = timeline.summary + " | reproduce: " + timeline.reproduce + "\n" + name + ": " +
                verdict + "\n" + format_table(timeline);
  if (!file.empty()) report.text += "timeline: " + file + "\n";
  return report;
}

}  // namespace ipcheck::proptest
