// The harness tests itself: deliberately broken primitives must be caught, within a bounded
// number of cases, under fork and under thread. If one of these tests fails, the property
// tests of the runtime prove nothing.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "broken/broken_primitives.h"
#include "ipcheck/proptest/rapidcheck.h"
#include "mp/models/barrier.h"
#include "mp/models/lock.h"
#include "mp/models/semaphore.h"
#include "mp/models/value.h"
#include "mp/synchronize.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using I = std::int64_t;

// Many short critical sections in every process: contention is what exposes a racy lock.
constexpr ProgramShape kBusy{.min_branches = 3, .max_branches = 4, .max_branch_blocks = 8};

rc::Gen<std::vector<m::LockOp>> lock_block() {
  return rc::gen::element(
      std::vector<m::LockOp>{{m::LockOpKind::kAcquire}, {m::LockOpKind::kRelease}});
}

rc::Gen<std::vector<m::ValueOp<I>>> counter_block() {
  return single(rc::gen::oneOf(rc::gen::just(m::ValueOp<I>{m::ValueOpKind::kAdd, 1}),
                               rc::gen::just(m::ValueOp<I>{m::ValueOpKind::kGet})));
}

// Up to `cases` seeded cases under `mode` (the same cases every run): the text of the first
// failing case's report, or "" if none fails.
template <class M, class Sut, class Op>
std::string first_failure(const std::string& name, const M& model, rc::Gen<Program<Op>> programs,
                          StartMode mode, int cases) {
  Search search{.cases = cases, .seed = 0x5eed};
  search.options.mode = mode;
  search.options.watchdog = std::chrono::milliseconds(3000);
  const auto report = find_counterexample(
      name, model, [] { return Sut{}; }, programs, search);
  return report ? report->text : "";
}

class FindsBugs : public testing::TestWithParam<StartMode> {};

TEST_P(FindsBugs, TwoHoldersOfARacyLock) {
  const std::string report = first_failure<m::Lock, broken::RacyLockSut>(
      std::string("FindsBugs.RacyLock_") + to_string(GetParam()), m::Lock{},
      gen_program(lock_block(), kBusy), GetParam(), 200);
  ASSERT_FALSE(report.empty()) << "the harness missed a lock that lets two holders in";
  EXPECT_NE(report.find("not linearizable"), std::string::npos) << report;
  std::cout << report;
}

TEST_P(FindsBugs, ALostIncrement) {
  const std::string report = first_failure<m::Value<I>, broken::UnlockedCounterSut>(
      std::string("FindsBugs.LostIncrement_") + to_string(GetParam()), m::Value<I>{},
      gen_program(counter_block()), GetParam(), 200);
  ASSERT_FALSE(report.empty()) << "the harness missed a non-atomic increment";
  EXPECT_NE(report.find("not linearizable"), std::string::npos) << report;
}

TEST_P(FindsBugs, ABarrierThatLetsAPartyThroughEarly) {
  namespace b = broken;
  const auto programs = rc::gen::map(rc::gen::inRange(2, 5), [](int parties) {
    Program<m::BarrierOp> program;
    program.branches.assign(parties, {{m::BarrierOpKind::kArrive}, {m::BarrierOpKind::kArrive}});
    return program;
  });
  std::string report;
  for (int i = 0; i < 100 && report.empty(); ++i) {
    const Program<m::BarrierOp> program = programs(rc::Random(500 + i), 50).value();
    const int parties = static_cast<int>(program.branches.size());
    RunOptions options;
    options.mode = GetParam();
    options.schedule.seed = 0xba + i;
    options.schedule.max_delay_us = 300;
    CaseReport result = check_program(
        std::string("FindsBugs.EarlyBarrier_") + to_string(GetParam()), m::Barrier(parties),
        [=] { return b::EarlyBarrierSut{b::EarlyBarrier(parties)}; }, program, options);
    if (!result.passed) report = result.text;
  }
  ASSERT_FALSE(report.empty()) << "the harness missed a barrier that lets a party through early";
  EXPECT_NE(report.find("not linearizable"), std::string::npos) << report;
}

// A waiter that misses a release sleeps for good while a unit is free: the case ends only by
// its watchdog, and the report says so (with the history up to then).
TEST_P(FindsBugs, ASemaphoreThatLosesAWakeUp) {
  const auto block = rc::gen::just(std::vector<m::SemaphoreOp>{{m::SemaphoreOpKind::kAcquire},
                                                               {m::SemaphoreOpKind::kRelease, 1}});
  // Usually found within the first few cases; 60 were once not enough under TSan and load.
  Search search{.cases = 150, .seed = 0x1057};
  search.options.mode = GetParam();
  search.options.watchdog = std::chrono::milliseconds(1000);
  const auto report = find_counterexample(
      std::string("FindsBugs.LostWakeup_") + to_string(GetParam()), m::Semaphore(1),
      [] { return broken::LostWakeupSemaphoreSut{}; }, gen_program(block, kBusy), search);
  ASSERT_TRUE(report) << "the harness missed a semaphore that loses a wake-up";
  EXPECT_NE(report->text.find("watchdog"), std::string::npos) << report->text;
}

// An interrupt storm makes the broken lock's sleeps fail with EINTR; it then returns without
// the lock, and two processes hold it at once.
TEST_P(FindsBugs, ALockThatGivesUpOnEintr) {
  Search search{.cases = 100, .seed = 0xe1};
  search.options.mode = GetParam();
  search.options.fault.interrupt_percent = 60;
  const auto report = find_counterexample(
      std::string("FindsBugs.EintrLock_") + to_string(GetParam()), m::Lock{},
      [] { return broken::EintrLockSut{}; }, gen_program(lock_block(), kBusy), search);
  ASSERT_TRUE(report) << "the harness missed a lock that does not survive EINTR";
  EXPECT_NE(report->text.find("eintr:60%"), std::string::npos)
      << "the storm is in the reproduce line";
}

INSTANTIATE_TEST_SUITE_P(Modes, FindsBugs,
                         testing::Values(StartMode::kFork, StartMode::kThread, StartMode::kSpawn,
                                         StartMode::kForkserver),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// A property that fails is shrunk by RapidCheck to a small case, and the report written last
// is that small case: what a person reads (and property_tests/docs/timeline.png shows).
TEST(Shrinking, ARacyLockShrinksToAFewOperations) {
  const std::string name = "Shrinking.RacyLock";
  std::remove((output_directory() + "/Shrinking_RacyLock.json").c_str());
  const bool passed = rc::check("a racy lock is linearizable", [&] {
    const auto program = *gen_program(lock_block(), kBusy);
    const auto options = *gen_run_options({StartMode::kFork});
    // A race shows in some runs only: each candidate runs a few times, so that RapidCheck
    // keeps shrinking while a smaller case still fails now and then.
    for (int attempt = 0; attempt < 4; ++attempt) {
      rc_check_program(
          name, m::Lock{}, [] { return broken::RacyLockSut{}; }, program, options);
    }
  });
  ASSERT_FALSE(passed) << "the racy lock was not caught";
  std::ifstream file(output_directory() + "/Shrinking_RacyLock.json");
  ASSERT_TRUE(file) << "no report of the shrunk case";
  const std::string json((std::istreambuf_iterator<char>(file)), {});
  std::size_t operations = 0;
  for (std::size_t at = 0; (at = json.find("\"process\":", at)) != std::string::npos; ++at) {
    ++operations;
  }
  // Two processes that each acquire is the smallest failing case; schedule noise may keep a
  // release or two of the case it shrank from.
  EXPECT_GE(operations, 2u);
  EXPECT_LE(operations, 12u) << json;
  EXPECT_NE(json.find("\"stuck\": true"), std::string::npos) << "the failing operation is marked";
}

struct SleepySut {  // a process that never returns from its operation
  m::Reply<> run(ProcessId p, const m::LockOp&) {
    if (p == 1) pause();
    return {};
  }
};

TEST(Supervisor, ADeadlockBecomesAFailingCaseWithItsReason) {
  Program<m::LockOp> program;
  program.branches = {{{m::LockOpKind::kAcquire}}, {{m::LockOpKind::kAcquire}}};
  RunOptions options;
  options.watchdog = std::chrono::milliseconds(200);
  RunOutcome<m::Lock> outcome = run_program<m::Lock>([] { return SleepySut{}; }, program, options);
  EXPECT_NE(outcome.failure.find("watchdog"), std::string::npos) << outcome.failure;
  ASSERT_EQ(outcome.history.size(), 2u);
  int pending = 0;
  for (const auto& entry : outcome.history) pending += entry.indeterminate();
  EXPECT_EQ(pending, 1) << "the blocked operation is recorded as cut off";
}

struct CrashingSut {
  m::Reply<> run(ProcessId p, const m::LockOp&) {
    if (p == 2) *static_cast<volatile int*>(nullptr) = 1;
    return {};
  }
};

TEST(Supervisor, ACrashBecomesAFailingCaseWithItsReason) {
  Program<m::LockOp> program;
  program.branches = {{{m::LockOpKind::kAcquire}}, {{m::LockOpKind::kAcquire}}};
  RunOutcome<m::Lock> outcome = run_program<m::Lock>([] { return CrashingSut{}; }, program, {});
  EXPECT_NE(outcome.failure.find("process 2 was killed by signal 11"), std::string::npos)
      << outcome.failure;
}

// A system under test that leaves a descriptor open, or a named segment in /dev/shm, in the
// case process: the case fails and names what was left behind.
struct LeakingSut {
  bool segment = false;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(segment);
  }
  m::Reply<> run(ProcessId p, const m::LockOp&) {
    if (p != 0) return {};
    if (segment) {
      // Kept open (a leaked descriptor as well): held by the case process, it cannot pass
      // for another program's segment, here or in a test running beside this one.
      (void)!shm_open("/ipcheck-proptest-leak-test", O_CREAT | O_RDWR, 0600);
    } else {
      (void)!memfd_create("ipcheck-leak", 0);
    }
    return {};
  }
};

TEST(Supervisor, ALeakedDescriptorOrSegmentBecomesAFailingCase) {
  Program<m::LockOp> program;
  program.prefix = {{m::LockOpKind::kLocked}};
  program.branches = {{{m::LockOpKind::kLocked}}, {{m::LockOpKind::kLocked}}};
  RunOutcome<m::Lock> fd =
      run_program<m::Lock>([] { return LeakingSut{false}; }, program, RunOptions{});
  EXPECT_NE(fd.failure.find("leaked after the case: fd "), std::string::npos) << fd.failure;
  EXPECT_NE(fd.failure.find("memfd:ipcheck-leak"), std::string::npos) << fd.failure;
  RunOutcome<m::Lock> segment =
      run_program<m::Lock>([] { return LeakingSut{true}; }, program, RunOptions{});
  shm_unlink("/ipcheck-proptest-leak-test");
  EXPECT_NE(segment.failure.find("/dev/shm/ipcheck-proptest-leak-test"), std::string::npos)
      << segment.failure;
  RunOutcome<m::Lock> clean =
      run_program<m::Lock>([] { return broken::RacyLockSut{}; }, program, RunOptions{});
  EXPECT_EQ(clean.failure, "") << "a segment given back is no leak";
}

struct RealLockSut {
  mp::Lock lock;
  m::Reply<> run(ProcessId, const m::LockOp& op) {
    if (op.kind == m::LockOpKind::kAcquire) {
      (void)lock.acquire();
    } else {
      lock.release();
    }
    return {};
  }
};

// The storm reaches the runtime's blocking calls (the signals arrive: counted in this
// process in thread mode), and mp::Lock survives every one of them.
TEST(FaultPlan, AnInterruptStormReachesBlockingCallsThatSurviveIt) {
  const auto programs = gen_program(lock_block(), kBusy);
  const std::uint64_t before = interrupts_received();
  for (int i = 0; i < 20; ++i) {
    RunOptions options;
    options.mode = StartMode::kThread;
    options.schedule.seed = 0x51 + i;
    options.fault.interrupt_percent = 50;
    CaseReport report = check_program(
        "FaultPlan.InterruptStorm", m::Lock{}, [] { return RealLockSut{}; },
        programs(rc::Random(300 + i), 50).value(), options);
    ASSERT_TRUE(report.passed) << report.text;
  }
  EXPECT_GT(interrupts_received(), before + 20) << "the storm's signals did not arrive";
}

TEST(FaultPlan, AKilledProcessLeavesAnIndeterminateOperationAndADeath) {
  Program<m::ValueOp<I>> program;
  program.branches = {{{m::ValueOpKind::kAdd, 1}, {m::ValueOpKind::kAdd, 1}},
                      {{m::ValueOpKind::kGet}}};
  program.suffix = {{m::ValueOpKind::kGet}};
  RunOptions options;
  options.fault.process = 1;
  std::strcpy(options.fault.point, "proptest.op.after");
  options.fault.hit = 2;  // after the second add took effect, before it was recorded
  RunOutcome<m::Value<I>> outcome =
      run_program<m::Value<I>>([] { return broken::UnlockedCounterSut{}; }, program, options);
  ASSERT_EQ(outcome.failure, "");
  int cut_off = 0, deaths = 0;
  for (const auto& entry : outcome.history) {
    cut_off += entry.indeterminate();
    deaths += entry.kind == Operation<m::ValueOp<I>, m::Reply<I>>::Kind::kCrash;
  }
  EXPECT_EQ(cut_off, 1);
  EXPECT_EQ(deaths, 1);
  const auto& last = outcome.history[outcome.history.size() - 1 - 1 - 2 - 1];  // by process
  ASSERT_EQ(last.process, 0);
  EXPECT_EQ(*last.result, m::ok<I>(2)) << "the cut-off add took effect";
  EXPECT_EQ(check_linearizable(m::Value<I>{}, outcome.history).verdict, Verdict::kLinearizable);
}

TEST(Report, AFailingCaseWritesJsonAndAnHtmlTimeline) {
  Program<m::LockOp> program;
  program.branches = {{{m::LockOpKind::kAcquire}}, {{m::LockOpKind::kAcquire}}};
  struct TwoHolders {
    m::Reply<> run(ProcessId, const m::LockOp&) { return {}; }
  };
  CaseReport report =
      check_program("Report.TwoHolders", m::Lock{}, [] { return TwoHolders{}; }, program, {});
  ASSERT_FALSE(report.passed);
  EXPECT_NE(report.text.find("ipcheck-proptest: Report.TwoHolders mode=fork"), std::string::npos)
      << "the first line reproduces the run";
  EXPECT_NE(report.text.find("cannot be placed"), std::string::npos) << report.text;
  const std::string html = output_directory() + "/Report_TwoHolders.html";
  std::ifstream file(html);
  ASSERT_TRUE(file) << html;
  std::string text((std::istreambuf_iterator<char>(file)), {});
  EXPECT_NE(text.find("data-process=\"2\""), std::string::npos) << "a lane per process";
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_TRUE(std::ifstream(output_directory() + "/Report_TwoHolders.json"));
}

struct TwoHoldersSut {  // every acquire succeeds at once
  m::Reply<> run(ProcessId, const m::LockOp&) { return {}; }
};

// The report's one line names the run (mode, schedule seed, fault plan) and a command that
// replays exactly that case: the same program under the same options.
TEST(Report, TheReproduceLineReplaysTheCaseExactly) {
  Program<m::LockOp> program;
  program.prefix = {{m::LockOpKind::kLocked}};
  program.branches = {{{m::LockOpKind::kAcquire}},
                      {{m::LockOpKind::kAcquire}},
                      {{m::LockOpKind::kAcquire}, {m::LockOpKind::kLocked}}};
  RunOptions options;
  options.schedule.seed = 0x77;
  options.fault.process = 3;
  std::strcpy(options.fault.point, "proptest.op.gap");
  options.fault.hit = 2;
  options.fault.interrupt_percent = 20;
  const CaseReport first = check_program(
      "Report.Replay", m::Lock{}, [] { return TwoHoldersSut{}; }, program, options);
  ASSERT_FALSE(first.passed);
  const std::string line = first.text.substr(0, first.text.find('\n'));
  EXPECT_NE(line.find("ipcheck-proptest: Report.Replay mode=fork schedule=seed:0x77 "
                      "fault=kill:p3@proptest.op.gap#2+eintr:20%"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("--gtest_filter='Report.TheReproduceLineReplaysTheCaseExactly'"),
            std::string::npos)
      << line;
  const std::size_t start = line.find("IPCHECK_PROPTEST_REPRODUCE='");
  ASSERT_NE(start, std::string::npos) << line;
  const std::size_t value = start + std::strlen("IPCHECK_PROPTEST_REPRODUCE='");
  const std::string encoded = line.substr(value, line.find('\'', value) - value);

  ASSERT_EQ(setenv("IPCHECK_PROPTEST_REPRODUCE", encoded.c_str(), 1), 0);
  Program<m::LockOp> other;
  other.branches = {{}, {}};  // nothing to do: passes, unless the replay replaces it
  const CaseReport replayed =
      check_program("Report.Replay", m::Lock{}, [] { return TwoHoldersSut{}; }, other, {});
  const CaseReport not_named =
      check_program("Report.Other", m::Lock{}, [] { return TwoHoldersSut{}; }, other, {});
  ASSERT_EQ(setenv("IPCHECK_PROPTEST_REPRODUCE", "Report.Replay/v1:0badcase", 1), 0);
  EXPECT_THROW(
      (void)check_program("Report.Replay", m::Lock{}, [] { return TwoHoldersSut{}; }, other, {}),
      std::invalid_argument);
  unsetenv("IPCHECK_PROPTEST_REPRODUCE");

  ASSERT_FALSE(replayed.passed);
  EXPECT_EQ(replayed.text.substr(0, replayed.text.find('\n')), line) << "the same run";
  EXPECT_NE(replayed.text.find("<killed>"), std::string::npos) << "with its fault plan";
  EXPECT_NE(replayed.text.find("acquire()"), std::string::npos) << "its program" << replayed.text;
  EXPECT_TRUE(not_named.passed) << "another test's case is not replaced";
  const auto decoded = decode_case<m::LockOp>(encoded.substr(encoded.find('/') + 1));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->first.branches.size(), 3u);
  EXPECT_EQ(to_string(decoded->second), to_string(options));
}

}  // namespace
}  // namespace ipcheck::proptest
