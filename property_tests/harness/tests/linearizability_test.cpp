// The linearizability checker on hand-written histories.
#include "ipcheck/proptest/linearizability.h"

#include <gtest/gtest.h>

#include "mp/models/all.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using I = std::int64_t;

template <class M>
struct HistoryBuilder {
  History<M> history;

  HistoryBuilder& call(ProcessId p, typename M::Op op, typename M::Result result, I from, I to) {
    history.push_back(
        {p, Operation<typename M::Op, typename M::Result>::Kind::kCall, op, result, from, to});
    return *this;
  }
  HistoryBuilder& cut_off(ProcessId p, typename M::Op op, I from, I to = kNever) {
    history.push_back({p, Operation<typename M::Op, typename M::Result>::Kind::kCall, op,
                       std::nullopt, from, to});
    return *this;
  }
  HistoryBuilder& crash(ProcessId p, I at) {
    history.push_back(
        {p, Operation<typename M::Op, typename M::Result>::Kind::kCrash, {}, std::nullopt, at, at});
    return *this;
  }
};

const m::Reply<> kOk{m::Status::kOk};
const m::LockOp kAcquire{m::LockOpKind::kAcquire};
const m::LockOp kRelease{m::LockOpKind::kRelease};

TEST(Linearizability, AcceptsALockWaitedFor) {
  HistoryBuilder<m::Lock> h;
  h.call(1, kAcquire, kOk, 0, 10).call(1, kRelease, kOk, 20, 30);
  h.call(2, kAcquire, kOk, 5, 40).call(2, kRelease, kOk, 50, 60);
  CheckResult result = check_linearizable(m::Lock{}, h.history);
  EXPECT_EQ(result.verdict, Verdict::kLinearizable);
  EXPECT_EQ(result.linearization, (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(Linearizability, RejectsTwoHoldersAtOnce) {
  HistoryBuilder<m::Lock> h;
  h.call(1, kAcquire, kOk, 0, 10).call(1, kRelease, kOk, 20, 30);
  h.call(2, kAcquire, kOk, 5, 15).call(2, kRelease, kOk, 25, 35);
  CheckResult result = check_linearizable(m::Lock{}, h.history);
  EXPECT_EQ(result.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(result.linearization.size(), 1u) << "one acquire fits, the other cannot follow it";
  ASSERT_TRUE(result.stuck.has_value());
}

TEST(Linearizability, RejectsAnOperationOrderedAgainstRealTime) {
  // get() returns the old value although set() completed before get() began.
  HistoryBuilder<m::Value<I>> h;
  h.call(1, {m::ValueOpKind::kSet, 5}, m::ok<I>(0), 0, 10);
  h.call(2, {m::ValueOpKind::kGet}, m::ok<I>(0), 11, 20);
  EXPECT_EQ(check_linearizable(m::Value<I>{}, h.history).verdict, Verdict::kNotLinearizable);
  h.history[1].invoked_ns = 9;  // now they overlap: get may come first
  EXPECT_EQ(check_linearizable(m::Value<I>{}, h.history).verdict, Verdict::kLinearizable);
}

TEST(Linearizability, RejectsALostIncrement) {
  HistoryBuilder<m::Value<I>> h;
  h.call(1, {m::ValueOpKind::kAdd, 1}, m::ok<I>(1), 0, 10);
  h.call(2, {m::ValueOpKind::kAdd, 1}, m::ok<I>(1), 0, 10);
  EXPECT_EQ(check_linearizable(m::Value<I>{}, h.history).verdict, Verdict::kNotLinearizable);
}

TEST(Linearizability, AnIndeterminateOperationMayOrMayNotHaveTakenEffect) {
  for (I seen : {0, 1, 2}) {
    HistoryBuilder<m::Value<I>> h;
    h.cut_off(1, {m::ValueOpKind::kAdd, 1}, 0);
    h.call(2, {m::ValueOpKind::kGet}, m::ok<I>(seen), 100, 110);
    EXPECT_EQ(check_linearizable(m::Value<I>{}, h.history).verdict,
              seen <= 1 ? Verdict::kLinearizable : Verdict::kNotLinearizable)
        << "get() saw " << seen;
  }
}

TEST(Linearizability, AnIndeterminateOperationTakesEffectBeforeItsProcessDied) {
  HistoryBuilder<m::Value<I>> h;
  h.call(2, {m::ValueOpKind::kGet}, m::ok<I>(0), 100, 110);
  h.call(2, {m::ValueOpKind::kGet}, m::ok<I>(1), 120, 130);
  h.cut_off(1, {m::ValueOpKind::kAdd, 1}, 0, 50).crash(1, 50);
  EXPECT_EQ(check_linearizable(m::Value<I>{}, h.history).verdict, Verdict::kNotLinearizable)
      << "the add could not take effect between the two gets: its process was dead";
  h.history[2].completed_ns = h.history[3].invoked_ns = h.history[3].completed_ns = 115;
  EXPECT_EQ(check_linearizable(m::Value<I>{}, h.history).verdict, Verdict::kLinearizable);
}

TEST(Linearizability, AHolderKilledLeavesTheLockOrphaned) {
  for (m::Status seen : {m::Status::kOwnerDied, m::Status::kOk}) {
    HistoryBuilder<m::Lock> h;
    h.call(1, kAcquire, kOk, 0, 10).crash(1, 20);
    h.call(2, kAcquire, {seen}, 15, 40);
    EXPECT_EQ(check_linearizable(m::Lock{}, h.history).verdict,
              seen == m::Status::kOwnerDied ? Verdict::kLinearizable : Verdict::kNotLinearizable)
        << m::to_string(seen);
  }
}

TEST(Linearizability, AProcessKilledInAcquireMayHaveTakenTheLock) {
  HistoryBuilder<m::Lock> h;
  h.cut_off(1, kAcquire, 0, 20).crash(1, 20);
  h.call(2, kAcquire, {m::Status::kOwnerDied}, 30, 40);
  EXPECT_EQ(check_linearizable(m::Lock{}, h.history).verdict, Verdict::kLinearizable);
  h.history[2].result = kOk;
  EXPECT_EQ(check_linearizable(m::Lock{}, h.history).verdict, Verdict::kLinearizable);
}

TEST(Linearizability, ConditionWaitIsTwoOperationsInProgramOrder) {
  using C = m::ConditionOpKind;
  HistoryBuilder<m::Condition> h;
  h.call(1, {C::kAcquire}, kOk, 0, 10);
  h.call(1, {C::kWaitBegin}, kOk, 20, 100).call(1, {C::kWaitEnd}, kOk, 20, 100);
  h.call(1, {C::kRelease}, kOk, 110, 120);
  h.call(2, {C::kAcquire}, kOk, 30, 40).call(2, {C::kNotify}, kOk, 50, 60);
  h.call(2, {C::kRelease}, kOk, 70, 80);
  EXPECT_EQ(check_linearizable(m::Condition(false), h.history).verdict, Verdict::kLinearizable);
  h.history[5].op = {C::kRelease};  // no notify: only a spurious wake-up explains it
  h.history[6].op = {C::kAcquire};
  h.history[6].invoked_ns = 85;
  h.history[6].completed_ns = 86;
  h.call(2, {C::kRelease}, kOk, 87, 88);
  EXPECT_EQ(check_linearizable(m::Condition(false), h.history).verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(check_linearizable(m::Condition(true), h.history).verdict, Verdict::kLinearizable);
}

TEST(Linearizability, BarrierWaitsOfAPassOverlap) {
  using B = m::BarrierOpKind;
  HistoryBuilder<m::Barrier> h;
  h.call(1, {B::kArrive}, m::ok<I>(0), 0, 50).call(1, {B::kLeave}, m::ok<I>(0), 0, 50);
  h.call(2, {B::kArrive}, m::ok<I>(1), 40, 60).call(2, {B::kLeave}, m::ok<I>(1), 40, 60);
  EXPECT_EQ(check_linearizable(m::Barrier(2), h.history).verdict, Verdict::kLinearizable);
  for (int i : {2, 3}) h.history[i].invoked_ns = 51;  // 1 left before 2 arrived
  EXPECT_EQ(check_linearizable(m::Barrier(2), h.history).verdict, Verdict::kNotLinearizable);
}

TEST(Linearizability, QueueKeepsEachProducersOrder) {
  using Q = m::QueueOpKind;
  HistoryBuilder<m::Queue<I>> h;
  h.call(1, {Q::kPut, 10}, m::ok<I>(0), 0, 10).call(1, {Q::kPut, 11}, m::ok<I>(0), 20, 30);
  h.call(2, {Q::kPut, 20}, m::ok<I>(0), 0, 30);
  h.call(3, {Q::kGet}, m::ok<I>(20), 40, 50).call(3, {Q::kGet}, m::ok<I>(10), 60, 70);
  h.call(3, {Q::kGet}, m::ok<I>(11), 80, 90);
  EXPECT_EQ(check_linearizable(m::Queue<I>{}, h.history).verdict, Verdict::kLinearizable);
  std::swap(h.history[4].result, h.history[5].result);
  EXPECT_EQ(check_linearizable(m::Queue<I>{}, h.history).verdict, Verdict::kNotLinearizable);
}

TEST(Linearizability, ChecksADictKeyByKeyAndNamesTheBadKey) {
  using D = m::DictOpKind;
  HistoryBuilder<m::Dict<I, I>> h;
  h.call(1, {D::kSet, 1, 5}, kOk, 0, 10).call(2, {D::kGet, 1}, m::ok<I>(5), 20, 30);
  h.call(1, {D::kSet, 2, 7}, kOk, 40, 50).call(2, {D::kGet, 2}, m::ok<I>(6), 60, 70);
  CheckResult result = check_linearizable(m::Dict<I, I>{}, h.history);
  EXPECT_EQ(result.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(result.partition, "2");
  h.history[3].result = m::ok<I>(7);
  h.call(3, {D::kLen}, m::ok<I>(2), 80, 90);  // a whole-dict operation: no split
  result = check_linearizable(m::Dict<I, I>{}, h.history);
  EXPECT_EQ(result.verdict, Verdict::kLinearizable);
  EXPECT_EQ(result.partition, "");
}

TEST(Linearizability, ManyKeysStayFast) {
  using D = m::DictOpKind;
  HistoryBuilder<m::Dict<I, I>> h;
  I t = 0;
  for (int i = 0; i < 10000; ++i) {
    const ProcessId p = i % 4;
    const I key = (i * 7) % 100;
    h.call(p, {D::kAdd, key, 1}, m::ok<I>(i / 100 + 1), t, t + 15);
    t += 10;
  }
  const auto start = std::chrono::steady_clock::now();
  CheckResult result = check_linearizable(m::Dict<I, I>{}, h.history);
  EXPECT_EQ(result.verdict, Verdict::kLinearizable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

// A call that failed with ManagerGone may have been served just before the server died:
// its effect is seen by others (it may or may not have happened), its failure comes after
// the kill.
TEST(Linearizability, ACallWhoseReplyWasLostMayHaveTakenEffect) {
  using D = m::DictOpKind;
  using Served = m::Served<m::Dict<I, I>>;
  const m::Reply<> kGone{m::Status::kGone};
  const Served::Op kill{true};
  const Served::Op add_13{false, {D::kAdd, 1, 13}};
  for (I seen : {50, 63, 76}) {
    // Process 1's add is lost in the kill; process 2 adds 50 and sees 50 (not served), 63
    // (served) or 76 (served twice: impossible), then kills the server.
    HistoryBuilder<Served> h;
    h.call(1, add_13, kGone, 0, 100);
    h.call(2, {false, {D::kAdd, 1, 50}}, m::ok<I>(seen), 10, 50).call(2, kill, kOk, 60, 70);
    CheckResult result = check_linearizable(Served{}, h.history);
    EXPECT_EQ(result.verdict, seen == 76 ? Verdict::kNotLinearizable : Verdict::kLinearizable)
        << "the other add saw " << seen;
    if (seen == 63) {
      EXPECT_EQ(result.linearization, (std::vector<std::size_t>{0, 1, 2}))
          << "the lost call stands where it took effect";
    }
  }
}

TEST(Linearizability, ACallFailsWithALostReplyOnlyOnceTheServerIsDying) {
  using D = m::DictOpKind;
  using Served = m::Served<m::Dict<I, I>>;
  const m::Reply<> kGone{m::Status::kGone};
  const Served::Op kill{true};
  HistoryBuilder<Served> h;
  h.call(1, {false, {D::kSet, 1, 5}}, kGone, 0, 30);
  h.call(2, kill, kOk, 40, 50);
  CheckResult result = check_linearizable(Served{}, h.history);
  EXPECT_EQ(result.verdict, Verdict::kNotLinearizable) << "ManagerGone while the server lived";
  ASSERT_TRUE(result.stuck.has_value());
  EXPECT_EQ(*result.stuck, 0u);
  h.history[1].invoked_ns = 20;  // the kill began before the failure returned
  EXPECT_EQ(check_linearizable(Served{}, h.history).verdict, Verdict::kLinearizable);
  // A call that began after the kill returned cannot have been served.
  h.call(1, {false, {D::kGet, 1}}, m::ok<I>(5), 60, 70);
  EXPECT_EQ(check_linearizable(Served{}, h.history).verdict, Verdict::kNotLinearizable);
}

TEST(Linearizability, ReportsUnknownWhenTheBudgetRunsOut) {
  HistoryBuilder<m::Value<I>> h;
  for (int p = 0; p < 24; ++p) h.call(p, {m::ValueOpKind::kSet, p}, kOk, 0, 100);
  h.call(99, {m::ValueOpKind::kGet}, m::ok<I>(999), 0, 100);  // never written
  CheckResult result = check_linearizable(m::Value<I>{}, h.history, {std::chrono::milliseconds(1)});
  EXPECT_EQ(result.verdict, Verdict::kUnknown);
}

}  // namespace
}  // namespace ipcheck::proptest
