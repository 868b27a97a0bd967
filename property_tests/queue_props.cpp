// mp::Queue and mp::JoinableQueue against mp::models::Queue / JoinableQueue: sequentially in
// one process, and concurrently under fork, thread and spawn with schedule noise (a put is
// visible to every process when it returns: no lagging visibility). And a queue that loses
// its last item under contention, which the harness must catch.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

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

const std::vector<StartMode> kAllModes = {StartMode::kFork, StartMode::kThread, StartMode::kSpawn};

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
  if (joinable) kinds.push_back(Q::kTaskDone);
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
// JoinableQueue adds {put, get, task_done} and a lone {task_done} (ValueError or not).
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
      put_get(Q::kGetNowait), look, single(rc::gen::just(Op{Q::kTaskDone})));
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
  for (StartMode mode : {StartMode::kFork, StartMode::kThread}) {
    bool caught = false;
    for (int i = 0; i < 200 && !caught; ++i) {
      RunOptions options;
      options.mode = mode;
      options.schedule.seed = 0x1055 + i;
      options.schedule.max_delay_us = 300;
      CaseReport report = check_program(
          std::string("QueueProps.LossyQueue_") + to_string(mode), m::Queue<I>(),
          [] { return LossyQueueSut{}; }, programs(rc::Random(4242 + i), 50).value(), options);
      caught = !report.passed && report.verdict == Verdict::kNotLinearizable;
    }
    EXPECT_TRUE(caught) << "the harness missed a queue that loses items under " << to_string(mode);
  }
}

}  // namespace
}  // namespace ipcheck::proptest
