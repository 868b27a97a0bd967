// mp::Queue, mp::SimpleQueue and mp::JoinableQueue under every start method (CPython's
// test_multiprocessing queue behaviours, and what mp promises beyond them).
#include "mp/queues.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mp/process.h"
#include "start_modes.h"

namespace mp {
namespace {

using Clock = std::chrono::steady_clock;

template <class Mode>
class QueueTest : public testing_modes::ModeTest<Mode> {};
TYPED_TEST_SUITE(QueueTest, testing_modes::AllModes, testing_modes::ModeNames);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Small storage, so that a few items reach the arena and the overflow path.
QueueOptions small_storage() { return {.ring_bytes = 4096, .arena_bytes = 1 << 20}; }

// A string of `size` bytes whose content depends on `seed` and the position.
std::string pattern(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed * 7) >> 3);
  return s;
}

void put_range(Queue<int> q, int first, int count) {
  for (int i = first; i < first + count; ++i) q.put(i);
}

void put_tagged(Queue<long> q, long producer, long count) {
  for (long i = 0; i < count; ++i) q.put(producer * 1'000'000 + i);
}

void put_one_string(Queue<std::string> q, std::size_t size, unsigned seed) {
  q.put(pattern(size, seed));
}

void get_and_task_done(JoinableQueue<int> q, Queue<int> seen) {
  for (;;) {
    int item = q.get();
    if (item < 0) {
      q.task_done();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    seen.put(item);
    q.task_done();
  }
}

void echo(Queue<int> in, Queue<int> out, int rounds) {
  for (int i = 0; i < rounds; ++i) out.put(in.get() + 1);
}

// ---- single process ----

TEST(Queue, GetWithTimeoutRaisesEmptyAfterAtLeastTheTimeout) {
  Queue<int> q;
  auto start = Clock::now();
  EXPECT_THROW(q.get(true, 0.2), Empty);
  double took = seconds_since(start);
  EXPECT_GE(took, 0.1);
  EXPECT_LT(took, 2.0);
  EXPECT_THROW(q.get_nowait(), Empty);
  EXPECT_THROW(q.get(false), Empty);
  EXPECT_THROW(q.get(true, 0), Empty);
}

TEST(Queue, PutNowaitOnAFullQueueRaisesFull) {
  Queue<int> q(2);
  q.put_nowait(1);
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(3), Full);
  auto start = Clock::now();
  EXPECT_THROW(q.put(3, true, 0.2), Full);
  EXPECT_GE(seconds_since(start), 0.1);
  EXPECT_EQ(q.get(), 1);
  EXPECT_FALSE(q.full());
  q.put_nowait(3);
  EXPECT_EQ(q.get(), 2);
  EXPECT_EQ(q.get(), 3);
}

TEST(Queue, QsizeTracksPutsAndGets) {
  Queue<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0);
  for (int i = 0; i < 5; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 5);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());  // unbounded
  (void)q.get();
  EXPECT_EQ(q.qsize(), 4);
  for (int i = 0; i < 4; ++i) (void)q.get();
  EXPECT_TRUE(q.empty());
}

TEST(Queue, NonPositiveMaxsizeIsUnbounded) {
  Queue<int> q(-3);
  EXPECT_EQ(q.maxsize(), 0);
  for (int i = 0; i < 10'000; ++i) q.put_nowait(i);
  EXPECT_EQ(q.qsize(), 10'000);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(q.get_nowait(), i);
}

TEST(Queue, PutAfterCloseIsAnError) {
  Queue<int> q;
  Queue<int> other = q;
  q.put(1);
  q.close();
  q.close();
  EXPECT_THROW(q.put(2), std::logic_error);
  EXPECT_THROW((void)q.get(), std::logic_error);
  EXPECT_EQ(other.get(), 1);  // close is per handle; the queue itself lives on
  other.put(3);
  EXPECT_EQ(other.get(), 3);
}

TEST(Queue, JoinThreadNeedsCloseFirstAndThenReturnsAtOnce) {
  Queue<int> q;
  q.put(1);
  EXPECT_THROW(q.join_thread(), std::logic_error);
  q.cancel_join_thread();
  q.close();
  auto start = Clock::now();
  q.join_thread();
  EXPECT_LT(seconds_since(start), 0.1);
}

TEST(Queue, BadOptionsAreRejected) {
  EXPECT_THROW(Queue<int>(0, {.ring_bytes = 5000}), std::invalid_argument);
  EXPECT_THROW(Queue<int>(0, {.ring_bytes = 1024}), std::invalid_argument);
  EXPECT_THROW(Queue<int>(0, {.arena_bytes = 4096}), std::invalid_argument);
}

TEST(Queue, ItemLargerThanTheArenaIsALengthErrorAndLosesNothing) {
  Queue<std::string> q(0, small_storage());
  q.put("before");
  EXPECT_THROW(q.put(std::string(2 << 20, 'x')), std::length_error);
  EXPECT_EQ(q.get(), "before");
  EXPECT_TRUE(q.empty());
}

TEST(Queue, CarriesSerializedTypes) {
  Queue<std::map<std::string, std::vector<int>>> q;
  std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  q.put(m);
  q.put({});
  EXPECT_EQ(q.get(), m);
  EXPECT_TRUE(q.get().empty());
  Queue<std::string> s;
  s.put("");
  EXPECT_EQ(s.get(), "");
}

TEST(Queue, KeepsOrderAcrossRingStubsAndOverflow) {
  // A 4 KiB ring: large items become stubs, and a full ring sends items to the arena.
  Queue<std::string> q(0, small_storage());
  std::vector<std::string> items;
  for (unsigned i = 0; i < 300; ++i) items.push_back(pattern(i % 7 == 0 ? 3000 + i : i, i));
  for (int round = 0; round < 3; ++round) {
    for (const auto& item : items) q.put(item);
    EXPECT_EQ(q.qsize(), static_cast<std::int64_t>(items.size()));
    for (const auto& item : items) ASSERT_EQ(q.get_nowait(), item);
    EXPECT_TRUE(q.empty());
  }
}

// Queue<T> with its engine in view.
template <class T>
struct InspectedQueue : Queue<T> {
  using Queue<T>::Queue;
  const detail::QueueCore& core() const { return this->core_; }
};

TEST(Queue, SmallItemsGoBackToTheRingOnceTheOverflowDrained) {
  InspectedQueue<long> q(0, small_storage());
  for (long i = 0; i < 1000; ++i) q.put(i);  // a 4 KiB ring holds 256: the rest overflow
  EXPECT_GT(q.core().arena_bytes_held(), 0u);
  for (long i = 0; i < 1000; ++i) ASSERT_EQ(q.get(), i);
  const auto held = q.core().arena_bytes_held();
  EXPECT_LT(held, 4096u);  // all but the page of the arena head given back
  for (long i = 0; i < 200; ++i) q.put(i);
  EXPECT_EQ(q.core().arena_bytes_held(), held);  // the ring took them
  for (long i = 0; i < 200; ++i) ASSERT_EQ(q.get(), i);
}

TEST(Queue, InterleavedPutsAndGetsWrapBothCircles) {
  Queue<std::string> q(0, small_storage());
  unsigned next_put = 0, next_get = 0;
  for (int step = 0; step < 5000; ++step) {
    for (int k = 0; k < 1 + step % 3; ++k, ++next_put) q.put(pattern(next_put % 5000, next_put));
    for (int k = 0; k < 1 + (step + 1) % 3 && next_get < next_put; ++k, ++next_get)
      ASSERT_EQ(q.get_nowait(), pattern(next_get % 5000, next_get)) << next_get;
  }
  for (; next_get < next_put; ++next_get) ASSERT_EQ(q.get(), pattern(next_get % 5000, next_get));
}

TEST(Queue, UnboundedArenaFullBlocksOnlyUntilSomeoneReads) {
  Queue<std::string> q(0, {.ring_bytes = 4096, .arena_bytes = 16 * 4096});
  const std::string big(20'000, 'b');
  q.put(big);
  q.put(big);
  q.put(big);
  EXPECT_THROW(q.put_nowait(big), Full);  // 64 KiB of arena hold three
  std::thread reader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(q.get(), big);
    EXPECT_EQ(q.get(), big);  // pages come back whole: the second makes room past the wrap
  });
  auto start = Clock::now();
  EXPECT_NO_THROW(q.put(big, true, 10));
  EXPECT_GE(seconds_since(start), 0.05);
  reader.join();
  for (int i = 0; i < 2; ++i) EXPECT_EQ(q.get(), big);
}

TEST(Queue, DeserializationErrorConsumesTheItem) {
  Queue<std::string> q;
  q.put("abc");
  q.put("def");
  // The same queue seen as a queue of int (its state found by descriptor, as spawn does).
  auto as_int = deserialize<Queue<int>>(serialize(q));
  EXPECT_THROW((void)as_int.get(), std::length_error);
  EXPECT_EQ(q.get(), "def");
}

TEST(SimpleQueue, PutGetEmptyClose) {
  SimpleQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  q.put("a");
  q.put("b");
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), "b");
  EXPECT_TRUE(q.empty());
  q.close();
  EXPECT_THROW(q.put("c"), std::logic_error);
}

TEST(JoinableQueue, TaskDoneMoreTimesThanItemsPutIsAnError) {
  JoinableQueue<int> q;
  EXPECT_THROW(q.task_done(), std::logic_error);
  q.put(1);
  q.put(2);
  (void)q.get();
  q.task_done();
  EXPECT_FALSE(q.join(0.05));
  (void)q.get();
  q.task_done();
  EXPECT_THROW(q.task_done(), std::logic_error);
  EXPECT_TRUE(q.join(0));
  q.join();
}

// ---- across processes ----

TYPED_TEST(QueueTest, FifoAcrossAProcess) {
  Queue<int> q;
  auto p = this->ctx().Process(put_range, q, 0, 1000);
  p.start();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(q.get(true, 30), i);
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(QueueTest, PreservesPerProducerOrder) {
  Queue<long> q(8, small_storage());  // bounded: producers block and wake
  constexpr long kPerProducer = 2000;
  std::vector<Process> producers;
  for (long p = 0; p < 3; ++p)
    producers.push_back(this->ctx().Process(put_tagged, q, p, kPerProducer));
  for (auto& p : producers) p.start();
  std::vector<long> next(3, 0);
  for (long i = 0; i < 3 * kPerProducer; ++i) {
    long item = q.get(true, 30);
    long producer = item / 1'000'000;
    ASSERT_GE(producer, 0);
    ASSERT_LT(producer, 3);
    ASSERT_EQ(item % 1'000'000, next[producer]++);
  }
  for (auto& p : producers) {
    ASSERT_TRUE(p.join(30));
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_THROW(q.get_nowait(), Empty);
}

TYPED_TEST(QueueTest, PingPongRoundTrips) {
  Queue<int> there, back;
  auto p = this->ctx().Process(echo, there, back, 500);
  p.start();
  for (int i = 0; i < 500; ++i) {
    there.put(i);
    ASSERT_EQ(back.get(true, 30), i + 1);
  }
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(QueueTest, CarriesA64MiBItem) {
  Queue<std::string> q;
  auto p = this->ctx().Process(put_one_string, q, std::size_t{64} << 20, 3u);
  p.start();
  std::string item = q.get(true, 60);
  ASSERT_EQ(item.size(), std::size_t{64} << 20);
  EXPECT_TRUE(item == pattern(item.size(), 3));
  ASSERT_TRUE(p.join(30));
}

TYPED_TEST(QueueTest, ProducerOf100MiBUnreadIsJoinedPromptlyAndNothingIsLost) {
  Queue<std::string> q;
  // 100 MiB: 25 items of 4 MiB, none read before the join.
  auto p = this->ctx().Process(
      [](Queue<std::string> q) {
        for (unsigned i = 0; i < 25; ++i) q.put(pattern(std::size_t{4} << 20, i));
      },
      q);
  p.start();
  auto start = Clock::now();
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_LT(seconds_since(start), 20.0);
  EXPECT_EQ(q.qsize(), 25);
  for (unsigned i = 0; i < 25; ++i) ASSERT_TRUE(q.get_nowait() == pattern(std::size_t{4} << 20, i));
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(QueueTest, JoinReturnsOnceFourWorkersDidEveryTask) {
  JoinableQueue<int> q;
  Queue<int> seen;
  std::vector<Process> workers;
  for (int w = 0; w < 4; ++w) workers.push_back(this->ctx().Process(get_and_task_done, q, seen));
  for (auto& w : workers) w.start();
  for (int i = 0; i < 40; ++i) q.put(i);
  ASSERT_TRUE(q.join(30));
  EXPECT_EQ(seen.qsize(), 40);  // every task_done came after its item was recorded
  for (int w = 0; w < 4; ++w) q.put(-1);
  ASSERT_TRUE(q.join(30));
  for (auto& w : workers) {
    ASSERT_TRUE(w.join(30));
    EXPECT_EQ(w.exitcode(), 0);
  }
  std::vector<int> items;
  while (!seen.empty()) items.push_back(seen.get());
  std::sort(items.begin(), items.end());
  ASSERT_EQ(items.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(items[i], i);
}

TYPED_TEST(QueueTest, BlockedGetIsWokenByAPutInAChild) {
  Queue<int> q;
  auto p = this->ctx().Process(
      [](Queue<int> q) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        q.put(7);
      },
      q);
  p.start();
  auto start = Clock::now();
  EXPECT_EQ(q.get(true, 30), 7);
  EXPECT_GE(seconds_since(start), 0.1);
  ASSERT_TRUE(p.join(30));
}

}  // namespace
}  // namespace mp
