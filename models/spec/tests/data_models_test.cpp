// The data models: Value, Array, Pipe, Queue, JoinableQueue, Dict, List, Namespace, and an
// object served by a manager that can die (Served).
#include <gtest/gtest.h>

#include <algorithm>

#include "mp/models/all.h"

namespace mp::models {
namespace {

using I = std::int64_t;
static_assert(Model<Value<I>> && Model<Array<I>> && Partitioned<Array<I>>);
static_assert(Model<Pipe> && Model<Queue<I>> && Model<JoinableQueue<I>>);
static_assert(Model<Dict<I, I>> && Partitioned<Dict<I, I>> && Model<List<I>>);
static_assert(Model<Namespace> && Partitioned<Namespace>);
static_assert(!Partitioned<Queue<I>> && !CrashAware<Queue<I>>);
static_assert(Model<Served<Dict<I, I>>> && !Partitioned<Served<Dict<I, I>>>,
              "a server's death touches every key: a served dict is checked whole");

const Reply<> kOk{Status::kOk};

TEST(ValueModel, GetSeesTheLastSetAndAddIsOneStep) {
  Value<I> value(5);
  EXPECT_TRUE(value.step(1, {ValueOpKind::kGet}, ok<I>(5)));
  EXPECT_FALSE(value.step(1, {ValueOpKind::kGet}, ok<I>(4)));
  EXPECT_TRUE(value.step(1, {ValueOpKind::kSet, 7}, kOk));
  EXPECT_TRUE(value.step(2, {ValueOpKind::kAdd, 3}, ok<I>(10)));
  EXPECT_FALSE(value.step(2, {ValueOpKind::kAdd, 3}, ok<I>(10))) << "a lost increment";
}

TEST(ArrayModel, IndexesAreIndependentAndOutOfRangeIsMissing) {
  Array<I> array(3);
  EXPECT_TRUE(array.step(1, {ValueOpKind::kSet, 9, 1}, kOk));
  EXPECT_TRUE(array.step(1, {ValueOpKind::kGet, 0, 0}, ok<I>(0)));
  EXPECT_TRUE(array.step(1, {ValueOpKind::kGet, 0, 1}, ok<I>(9)));
  EXPECT_TRUE(array.step(1, {ValueOpKind::kGet, 0, 3}, Reply<I>{Status::kMissing}));
  EXPECT_EQ(Array<I>::partition({ValueOpKind::kGet, 0, 2}), 2u);
}

TEST(PipeModel, MessagesArriveInOrderAtTheOtherEnd) {
  Pipe pipe;
  EXPECT_TRUE(pipe.step(1, {PipeOpKind::kSend, 0, 10}, kOk));
  EXPECT_TRUE(pipe.step(1, {PipeOpKind::kSend, 0, 11}, kOk));
  EXPECT_TRUE(pipe.step(2, {PipeOpKind::kPoll, 0}, Reply<>{Status::kFalse})) << "own end";
  EXPECT_FALSE(pipe.step(2, {PipeOpKind::kRecv, 1}, ok<I>(11)));
  EXPECT_TRUE(pipe.step(2, {PipeOpKind::kRecv, 1}, ok<I>(10)));
  EXPECT_TRUE(pipe.step(2, {PipeOpKind::kRecv, 1}, ok<I>(11)));
  EXPECT_FALSE(pipe.step(2, {PipeOpKind::kRecv, 1}, Reply<>{Status::kEof})) << "peer open";
  EXPECT_FALSE(pipe.step(2, {PipeOpKind::kTryRecv, 1}, ok<I>(1)));
  EXPECT_TRUE(pipe.step(2, {PipeOpKind::kTryRecv, 1}, Reply<>{Status::kFalse}));
  EXPECT_TRUE(pipe.step(1, {PipeOpKind::kClose, 0}, kOk));
  EXPECT_TRUE(pipe.step(2, {PipeOpKind::kRecv, 1}, Reply<>{Status::kEof}));
}

TEST(QueueModel, PreservesPerProducerOrderOnly) {
  Queue<I> queue;
  ASSERT_TRUE(queue.step(1, {QueueOpKind::kPut, 100}, ok<I>(0)));
  ASSERT_TRUE(queue.step(1, {QueueOpKind::kPut, 101}, ok<I>(0)));
  ASSERT_TRUE(queue.step(2, {QueueOpKind::kPut, 200}, ok<I>(0)));
  EXPECT_FALSE(queue.step(3, {QueueOpKind::kGet}, ok<I>(101))) << "101 is behind 100";
  EXPECT_TRUE(queue.step(3, {QueueOpKind::kGet}, ok<I>(200))) << "producers interleave";
  EXPECT_TRUE(queue.step(3, {QueueOpKind::kQsize}, ok<I>(2)));
  EXPECT_TRUE(queue.step(3, {QueueOpKind::kGet}, ok<I>(100)));
  EXPECT_FALSE(queue.step(3, {QueueOpKind::kGetNowait}, Reply<I>{Status::kEmpty}));
  EXPECT_TRUE(queue.step(3, {QueueOpKind::kGet}, ok<I>(101)));
  EXPECT_FALSE(queue.step(3, {QueueOpKind::kGet}, ok<I>(101))) << "get waits when empty";
  EXPECT_TRUE(queue.step(3, {QueueOpKind::kGetNowait}, Reply<I>{Status::kEmpty}));
}

TEST(QueueModel, BoundedPutWaitsOrReportsFull) {
  Queue<I> queue(1);
  ASSERT_TRUE(queue.step(1, {QueueOpKind::kPut, 1}, ok<I>(0)));
  EXPECT_FALSE(queue.step(1, {QueueOpKind::kPut, 2}, ok<I>(0)));
  EXPECT_TRUE(queue.step(1, {QueueOpKind::kPutNowait, 2}, Reply<I>{Status::kFull}));
}

TEST(QueueModel, EqualityIgnoresProducersWithNothingQueued) {
  Queue<I> a, b;
  ASSERT_TRUE(a.step(1, {QueueOpKind::kPut, 1}, ok<I>(0)));
  ASSERT_TRUE(a.step(2, {QueueOpKind::kGet}, ok<I>(1)));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
}

TEST(JoinableQueueModel, JoinWaitsForEveryTaskDone) {
  JoinableQueue<I> queue;
  EXPECT_TRUE(queue.step(1, {QueueOpKind::kJoin}, ok<I>(0)));
  ASSERT_TRUE(queue.step(1, {QueueOpKind::kPut, 1}, ok<I>(0)));
  ASSERT_TRUE(queue.step(2, {QueueOpKind::kGet}, ok<I>(1)));
  EXPECT_FALSE(queue.step(1, {QueueOpKind::kJoin}, ok<I>(0)));
  EXPECT_TRUE(queue.step(2, {QueueOpKind::kTaskDone}, ok<I>(0)));
  EXPECT_TRUE(queue.step(1, {QueueOpKind::kJoin}, ok<I>(0)));
  EXPECT_TRUE(queue.step(2, {QueueOpKind::kTaskDone}, Reply<I>{Status::kValueError}));
  Queue<I> plain;
  EXPECT_FALSE(plain.step(1, {QueueOpKind::kTaskDone}, Reply<I>{Status::kValueError}));
}

TEST(JoinableQueueModel, ATimedJoinTimesOutOnlyWhileATaskIsUnfinished) {
  JoinableQueue<I> queue;
  EXPECT_FALSE(queue.step(1, {QueueOpKind::kJoinTimed}, Reply<I>{Status::kFalse}));
  EXPECT_TRUE(queue.step(1, {QueueOpKind::kJoinTimed}, ok<I>(0)));
  ASSERT_TRUE(queue.step(1, {QueueOpKind::kPut, 1}, ok<I>(0)));
  EXPECT_FALSE(queue.step(1, {QueueOpKind::kJoinTimed}, ok<I>(0)));
  EXPECT_TRUE(queue.step(1, {QueueOpKind::kJoinTimed}, Reply<I>{Status::kFalse}));
  ASSERT_TRUE(queue.step(2, {QueueOpKind::kGet}, ok<I>(1)));
  EXPECT_TRUE(queue.step(1, {QueueOpKind::kJoinTimed}, Reply<I>{Status::kFalse}))
      << "got, not done";
  ASSERT_TRUE(queue.step(2, {QueueOpKind::kTaskDone}, ok<I>(0)));
  EXPECT_TRUE(queue.step(1, {QueueOpKind::kJoinTimed}, ok<I>(0)));
}

TEST(DictModel, KeysAreIndependent) {
  Dict<I, I> dict;
  EXPECT_TRUE(dict.step(1, {DictOpKind::kGet, 1}, Reply<I>{Status::kMissing}));
  EXPECT_TRUE(dict.step(1, {DictOpKind::kAdd, 1, 5}, ok<I>(5)));
  EXPECT_TRUE(dict.step(1, {DictOpKind::kSet, 2, 7}, kOk));
  EXPECT_TRUE(dict.step(1, {DictOpKind::kLen}, ok<I>(2)));
  EXPECT_TRUE(dict.step(1, {DictOpKind::kDel, 1}, kOk));
  EXPECT_TRUE(dict.step(1, {DictOpKind::kContains, 1}, Reply<I>{Status::kFalse}));
  EXPECT_TRUE(dict.step(1, {DictOpKind::kGet, 2}, ok<I>(7)));
  EXPECT_EQ((Dict<I, I>::partition({DictOpKind::kLen})), std::nullopt);
  EXPECT_EQ((Dict<I, I>::partition({DictOpKind::kGet, 4})), 4);
}

TEST(ListModel, IndexesCountFromTheEndWhenNegative) {
  List<I> list;
  EXPECT_TRUE(list.step(1, {ListOpKind::kGet, 0}, Reply<I>{Status::kMissing}));
  ASSERT_TRUE(list.step(1, {ListOpKind::kAppend, 0, 4}, kOk));
  ASSERT_TRUE(list.step(1, {ListOpKind::kAppend, 0, 5}, kOk));
  EXPECT_TRUE(list.step(1, {ListOpKind::kGet, -1}, ok<I>(5)));
  EXPECT_TRUE(list.step(1, {ListOpKind::kSet, 0, 9}, kOk));
  EXPECT_TRUE(list.step(1, {ListOpKind::kGet, 0}, ok<I>(9)));
  EXPECT_TRUE(list.step(1, {ListOpKind::kLen}, ok<I>(2)));
}

TEST(NamespaceModel, MissingAttributeThenSetThenDelete) {
  Namespace ns;
  EXPECT_TRUE(ns.step(1, {NamespaceOpKind::kGetattr, 3}, Reply<>{Status::kMissing}));
  EXPECT_TRUE(ns.step(1, {NamespaceOpKind::kSetattr, 3, 8}, kOk));
  EXPECT_TRUE(ns.step(2, {NamespaceOpKind::kGetattr, 3}, ok<I>(8)));
  EXPECT_TRUE(ns.step(2, {NamespaceOpKind::kDelattr, 3}, kOk));
  EXPECT_TRUE(ns.step(2, {NamespaceOpKind::kDelattr, 3}, Reply<>{Status::kMissing}));
}

TEST(ServedModel, AliveItIsTheInnerModelDeadEveryCallIsGone) {
  using Op = Served<Dict<I, I>>::Op;
  const Reply<I> gone{Status::kGone};
  Served<Dict<I, I>> served;
  EXPECT_TRUE(served.step(1, Op{false, {DictOpKind::kSet, 1, 7}}, ok<I>(0)));
  EXPECT_FALSE(served.step(1, Op{false, {DictOpKind::kGet, 1}}, gone)) << "alive: never gone";
  EXPECT_FALSE(served.step(1, Op{false, {DictOpKind::kGet, 1}}, ok<I>(8)));
  EXPECT_TRUE(served.step(1, Op{false, {DictOpKind::kGet, 1}}, ok<I>(7)));
  EXPECT_TRUE(served.step(2, Op{true}, ok<I>(0)));
  EXPECT_TRUE(served.dead());
  EXPECT_FALSE(served.step(2, Op{true}, ok<I>(0))) << "a server dies once";
  EXPECT_FALSE(served.step(1, Op{false, {DictOpKind::kGet, 1}}, ok<I>(7))) << "dead: no answer";
  EXPECT_TRUE(served.step(1, Op{false, {DictOpKind::kGet, 1}}, gone));
  EXPECT_TRUE(served.step(1, Op{false, {DictOpKind::kSet, 2, 1}}, gone));
  EXPECT_EQ(served.inner().items().size(), 1u) << "a failed call changed nothing";
  const auto results = served.possible_results(1, Op{false, {DictOpKind::kGet, 1}});
  EXPECT_NE(std::find(results.begin(), results.end(), gone), results.end())
      << "a call cut off by a kill may have failed";
  EXPECT_EQ(to_string(Op{true}), "kill(server)");
  EXPECT_EQ(to_string(Op{false, {DictOpKind::kGet, 3}}), "get(3)");
}

}  // namespace
}  // namespace mp::models
