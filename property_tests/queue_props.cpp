// mp::Queue and mp::JoinableQueue against mp::models::Queue / JoinableQueue: sequentially in
// one process, and concurrently under fork, thread and spawn with schedule noise (a put is
// visible to every process when it returns: no lagging visibility). And a queue that loses
// its last item under contention, which the harness must catch.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <stdexcept>

#include "broken/lossy_queue.h"
#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/models/queue.h"
#include "mp/queues.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using I = std::int64_t;
using Op = m::QueueOp<I>;
using Q = m::QueueOpKind;

const std::vector<StartMode> kAllModes = {StartMode::kFork, StartMode::kThread, StartMode::kSpawn,
                                          StartMode::kForkserver};

// How long a generated join(timeout) waits (seconds).
constexpr double kJoinTimeout = 0.002;

template <class Queue>
m::Reply<I> run_queue_op(Queue& q, const Op& op) {
  try {
    switch (op.kind) {
      case Q::kPut:
        q.put(op.item);
        return {};
      case Q::kPutNowait:
        q.put_nowait(op.item);
        return {};
      case Q::kGet:
        return m::ok(q.get());
      case Q::kGetNowait:
        return m::ok(q.get_nowait());
      case Q::kQsize:
        return m::ok<I>(q.qsize());
      case Q::kEmpty:
        return {q.empty() ? m::Status::kOk : m::Status::kFalse};
      case Q::kTaskDone:
        if constexpr (requires { q.task_done(); }) {
          q.task_done();
          return {};
        }
        break;
      case Q::kJoin:
        if constexpr (requires { q.join(); }) {
          q.join();
          return {};
        }
        break;
      case Q::kJoinTimed:
        if constexpr (requires { q.join(); }) {
          return {q.join(kJoinTimeout) ? m::Status::kOk : m::Status::kFalse};
        }
        break;
    }
  } catch (const mp::Empty&) {
    return {m::Status::kEmpty};
  } catch (const mp::Full&) {
    return {m::Status::kFull};
  } catch (const std::logic_error&) {
    return {m::Status::kValueError};
  }
  return {m::Status::kValueError};
}

// Small storage: a few items already reach the arena and its overflow path.
mp::QueueOptions small_storage() { return {.ring_bytes = 4096, .arena_bytes = 1 << 20}; }

struct QueueSut {
  mp::Queue<I> queue{2, small_storage()};

  template <class Archive>
  void serialize(Archive& archive) {
    archive(queue);
  }
  m::Reply<I> run(ProcessId, const Op& op) { return run_queue_op(queue, op); }
};

struct JoinableQueueSut {
  mp::JoinableQueue<I> queue{0, small_storage()};

  template <class Archive>
  void serialize(Archive& archive) {
    archive(queue);
  }
  m::Reply<I> run(ProcessId, const Op& op) { return run_queue_op(queue, op); }
};

// Items from a wide range, so that two equal items in one case are improbable (see
// mp/models/queue.h on why the model wants them distinct).
rc::Gen<I> gen_item() { return rc::gen::inRange<I>(0, 1'000'000'000); }

rc::Gen<Op> gen_queue_op(bool joinable) {
  std::vector<Q> kinds = {Q::kPut, Q::kPutNowait, Q::kGetNowait, Q::kQsize, Q::kEmpty};
  if (joinable) kinds.insert(kinds.end(), {Q::kTaskDone, Q::kJoin, Q::kJoinTimed});
  return rc::gen::apply(
      [](Q kind, I item) {
        return Op{kind, item};
      },
      rc::gen::elementOf(kinds), gen_item());
}

// Blocks after which no call waits for good. No block takes more items than it put, so
// every blocking get finds an item in the end (another process may take the block's own
// item first, but then an item of that process is left for it):
//   bounded (maxsize 2)   {put, get}, {qsize}, {empty}: puts block while full, and every
//                         item put is taken, so a full queue always drains;
//   unbounded             also {put, get_nowait} and {put_nowait}, which may leave items.
// JoinableQueue adds {put, get, task_done}, a lone {task_done} (ValueError or not) and
// {join(timeout)} (an untimed join could wait for good: {put, get_nowait} leaves tasks
// nobody finishes; JoinReturnsOnceEveryTaskIsDone has untimed joins).
enum class Flavour { kBounded, kUnbounded, kJoinable };

rc::Gen<std::vector<Op>> gen_queue_block(Flavour flavour) {
  auto put_get = [](Q get) {
    return rc::gen::map(gen_item(), [get](I x) { return std::vector<Op>{{Q::kPut, x}, {get}}; });
  };
  auto look = single(rc::gen::element(Op{Q::kQsize}, Op{Q::kEmpty}));
  switch (flavour) {
    case Flavour::kBounded:
      return rc::gen::oneOf(put_get(Q::kGet), look);
    case Flavour::kUnbounded:
      return rc::gen::oneOf(put_get(Q::kGet), put_get(Q::kGetNowait), look,
                            rc::gen::map(gen_item(), [](I x) {
                              return std::vector<Op>{{Q::kPutNowait, x}};
                            }));
    case Flavour::kJoinable:
      break;
  }
  return rc::gen::oneOf(
      rc::gen::map(gen_item(),
                   [](I x) {
                     return std::vector<Op>{{Q::kPut, x}, {Q::kGet}, {Q::kTaskDone}};
                   }),
      put_get(Q::kGetNowait), look, single(rc::gen::element(Op{Q::kTaskDone}, Op{Q::kJoinTimed})));
}

RC_GTEST_PROP(QueueProps, SequentialModelAgreesWithQueue, ()) {
  rc_check_sequential(
      m::Queue<I>(2), [] { return QueueSut{}; }, gen_queue_op(false));
}

RC_GTEST_PROP(QueueProps, SequentialModelAgreesWithJoinableQueue, ()) {
  rc_check_sequential(
      m::JoinableQueue<I>(), [] { return JoinableQueueSut{}; }, gen_queue_op(true));
}

RC_GTEST_PROP(QueueProps, BoundedQueueIsLinearizable, ()) {
  const auto program = *gen_program(gen_queue_block(Flavour::kBounded));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "QueueProps.BoundedQueueIsLinearizable", m::Queue<I>(2), [] { return QueueSut{}; }, program,
      options);
}

RC_GTEST_PROP(QueueProps, UnboundedQueueIsLinearizable, ()) {
  const auto program = *gen_program(gen_queue_block(Flavour::kUnbounded));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "QueueProps.UnboundedQueueIsLinearizable", m::Queue<I>(),
      [] { return QueueSut{mp::Queue<I>(0, small_storage())}; }, program, options);
}

RC_GTEST_PROP(QueueProps, JoinableQueueIsLinearizable, ()) {
  const auto program = *gen_program(gen_queue_block(Flavour::kJoinable));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "QueueProps.JoinableQueueIsLinearizable", m::JoinableQueue<I>(),
      [] { return JoinableQueueSut{}; }, program, options);
}

// SimpleQueue: put, get (blocking), empty; the same core as Queue, whose kill tests below
// cover it (it has no get_nowait to drain a queue with after a kill).
struct SimpleQueueSut {
  mp::SimpleQueue<I> queue{small_storage()};

  template <class Archive>
  void serialize(Archive& archive) {
    archive(queue);
  }
  m::Reply<I> run(ProcessId, const Op& op) {
    switch (op.kind) {
      case Q::kPut:
        queue.put(op.item);
        return {};
      case Q::kGet:
        return m::ok(queue.get());
      case Q::kEmpty:
        return {queue.empty() ? m::Status::kOk : m::Status::kFalse};
      default:
        break;
    }
    return {m::Status::kValueError};
  }
};

RC_GTEST_PROP(QueueProps, SequentialModelAgreesWithSimpleQueue, ()) {
  rc_check_sequential(
      m::Queue<I>(), [] { return SimpleQueueSut{}; },
      rc::gen::apply(
          [](Q kind, I item) {
            return Op{kind, item};
          },
          rc::gen::element(Q::kPut, Q::kGet, Q::kEmpty), gen_item()));
}

RC_GTEST_PROP(QueueProps, SimpleQueueIsLinearizable, ()) {
  const auto program =
      *gen_program(rc::gen::oneOf(rc::gen::map(gen_item(),
                                               [](I x) {
                                                 return std::vector<Op>{{Q::kPut, x}, {Q::kGet}};
                                               }),
                                  rc::gen::just(std::vector<Op>{{Q::kEmpty}})));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "QueueProps.SimpleQueueIsLinearizable", m::Queue<I>(), [] { return SimpleQueueSut{}; },
      program, options);
}

// Producers put every item, then join (untimed); consumers get and finish exactly as many:
// every join must return, and only after the last task_done.
RC_GTEST_PROP(QueueProps, JoinReturnsOnceEveryTaskIsDone, ()) {
  const auto takes =
      *rc::gen::container<std::vector<int>>(*rc::gen::inRange(1, 4), rc::gen::inRange(1, 4));
  Program<Op> program;
  std::vector<Op> producer;
  I item = 1;
  for (int n : takes) {
    std::vector<Op> consumer;
    for (int i = 0; i < n; ++i) {
      producer.push_back({Q::kPut, item++});
      consumer.insert(consumer.end(), {Op{Q::kGet}, Op{Q::kTaskDone}});
    }
    program.branches.push_back(consumer);
  }
  producer.push_back({Q::kJoin});
  program.branches.insert(program.branches.begin(), producer);
  if (*rc::gen::arbitrary<bool>()) program.branches.push_back({{Q::kJoin}});  // a second joiner
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "QueueProps.JoinReturnsOnceEveryTaskIsDone", m::JoinableQueue<I>(),
      [] { return JoinableQueueSut{}; }, program, options);
}

// The suffix empties the queue: every item whose put completed and that no completed get
// took must still be there, whole (a lost, duplicated or torn item is not linearizable).
Program<Op> with_drain(Program<Op> program, bool joinable) {
  std::size_t puts = 0;
  auto count = [&](const std::vector<Op>& ops) {
    for (const Op& op : ops) puts += op.kind == Q::kPut || op.kind == Q::kPutNowait;
  };
  count(program.prefix);
  for (const auto& branch : program.branches) count(branch);
  count(program.suffix);
  program.suffix.push_back({Q::kQsize});
  program.suffix.insert(program.suffix.end(), puts + 1, Op{Q::kGetNowait});
  if (joinable) program.suffix.push_back({Q::kJoinTimed});
  return program;
}

// Every hook point of a put and a get, and the harness's own.
const std::vector<std::string> kQueueKillPoints = {"queue.put.after_lock",
                                                   "queue.put.mid_payload",
                                                   "queue.put.before_commit",
                                                   "queue.put.after_commit",
                                                   "queue.get.after_lock",
                                                   "queue.get.before_commit",
                                                   "queue.get.after_commit",
                                                   "queue.wait.before_sleep",
                                                   "proptest.op.gap",
                                                   "proptest.op.after",
                                                   ""};

// Every case kills one process at a hook point (under fork and spawn): nobody hangs (a side
// lock the dead held is taken over), a put cut off leaves its item whole or not at all, a get
// cut off takes its item or leaves it, and what completed is not lost.
RC_GTEST_PROP(QueueProps, BoundedQueueSurvivesAKilledProcess, ()) {
  const auto program = with_drain(*gen_program(gen_queue_block(Flavour::kBounded)), false);
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kQueueKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "QueueProps.BoundedQueueSurvivesAKilledProcess", m::Queue<I>(2), [] { return QueueSut{}; },
      program, options);
}

RC_GTEST_PROP(QueueProps, UnboundedQueueSurvivesAKilledProcess, ()) {
  const auto program = with_drain(*gen_program(gen_queue_block(Flavour::kUnbounded)), false);
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kQueueKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "QueueProps.UnboundedQueueSurvivesAKilledProcess", m::Queue<I>(),
      [] { return QueueSut{mp::Queue<I>(0, small_storage())}; }, program, options);
}

// The same for a JoinableQueue; a consumer killed between its get and its task_done leaves
// that task unfinished for good (as in Python), which the timed joins must show.
RC_GTEST_PROP(QueueProps, JoinableQueueSurvivesAKilledProcess, ()) {
  const auto program = with_drain(*gen_program(gen_queue_block(Flavour::kJoinable)), true);
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kQueueKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "QueueProps.JoinableQueueSurvivesAKilledProcess", m::JoinableQueue<I>(),
      [] { return JoinableQueueSut{}; }, program, options);
}

// A consumer killed after its get, before its task_done: the other consumer still gets and
// finishes its item, join(timeout) reports the unfinished task (False, never a hang), and
// the item the dead took is gone with it — no more, no less.
TEST(QueueProps, AConsumerKilledBeforeTaskDoneLeavesJoinUnfinished) {
  Program<Op> program;
  program.prefix = {{Q::kPut, 1}, {Q::kPut, 2}, {Q::kPut, 3}};
  program.branches = {{{Q::kGet}, {Q::kTaskDone}}, {{Q::kGet}, {Q::kTaskDone}}};
  program.suffix = {{Q::kGet}, {Q::kTaskDone}, {Q::kJoinTimed}, {Q::kQsize}};
  for (StartMode mode : {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}) {
    RunOptions options;
    options.mode = mode;
    options.fault.process = 1;
    std::strcpy(options.fault.point, "proptest.op.gap");
    options.fault.hit = 2;  // after its get, before its task_done
    RunOutcome<m::JoinableQueue<I>> outcome =
        run_program<m::JoinableQueue<I>>([] { return JoinableQueueSut{}; }, program, options);
    ASSERT_EQ(outcome.failure, "") << to_string(mode);
    auto result_of = [&](Q kind) -> std::optional<m::Reply<I>> {
      for (const auto& entry : outcome.history) {
        if (entry.process == 0 && entry.op.kind == kind && entry.result) return entry.result;
      }
      return std::nullopt;
    };
    EXPECT_EQ(result_of(Q::kJoinTimed), m::Reply<I>{m::Status::kFalse})
        << to_string(mode) << ": a task is unfinished";
    EXPECT_EQ(result_of(Q::kQsize), m::ok<I>(0)) << to_string(mode);
    EXPECT_EQ(check_linearizable(m::JoinableQueue<I>(), outcome.history).verdict,
              Verdict::kLinearizable)
        << to_string(mode);
  }
}

struct LossyQueueSut {
  broken::LossyQueue queue;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(queue);
  }
  m::Reply<I> run(ProcessId, const Op& op) {
    try {
      switch (op.kind) {
        case Q::kPut:
          queue.put(op.item);
          return {};
        case Q::kGetNowait:
          return m::ok(queue.get_nowait());
        case Q::kQsize:
          return m::ok<I>(queue.qsize());
        default:
          break;
      }
    } catch (const mp::Empty&) {
      return {m::Status::kEmpty};
    }
    return {m::Status::kValueError};
  }
};

// The harness must catch a queue that drops its last item when two gets race for it.
TEST(QueueProps, AQueueThatDropsTheLastItemUnderContentionIsCaught) {
  constexpr ProgramShape kBusy{.min_branches = 3, .max_branches = 4, .max_branch_blocks = 6};
  const auto programs = gen_program(
      rc::gen::oneOf(rc::gen::map(gen_item(),
                                  [](I x) {
                                    return std::vector<Op>{{Q::kPut, x}, {Q::kGetNowait}};
                                  }),
                     single(rc::gen::element(Op{Q::kGetNowait}, Op{Q::kQsize}))),
      kBusy);
  for (StartMode mode : kAllModes) {
    Search search{.cases = 200, .seed = 0x1055};
    search.options.mode = mode;
    const auto report = find_counterexample(
        std::string("QueueProps.LossyQueue_") + to_string(mode), m::Queue<I>(),
        [] { return LossyQueueSut{}; }, programs, search);
    ASSERT_TRUE(report) << "the harness missed a queue that loses items under " << to_string(mode);
    EXPECT_EQ(report->verdict, Verdict::kNotLinearizable) << report->text;
  }
}

}  // namespace
}  // namespace ipcheck::proptest
