// mp::Queue between two processes: 8-byte and 64 KiB item throughput (one producer, one
// consumer) and an 8-byte ping-pong. Compare: the same work on Boost.Interprocess
// message_queue (BM_BoostMessageQueue_*, here, the peer library of the same shape: a
// bounded queue of messages in shared memory) and Python's multiprocessing.Queue
// (bench/python/queues.py).
//
// Both queues are bounded to the same number of items, so that the producer cannot run far
// ahead of the consumer and the loop's time is the pair's throughput.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "forked.h"
#include "mp/queues.h"

namespace {

namespace bip = boost::interprocess;

constexpr std::int64_t kSmallBound = 32768;
constexpr std::int64_t kBulkBound = 8;
constexpr std::size_t kBulkItem = 64 * 1024;
constexpr std::uint64_t kStop = std::numeric_limits<std::uint64_t>::max();

void BM_MpQueue_Throughput8B(benchmark::State& state) {
  mp::Queue<std::uint64_t> q(kSmallBound);
  bench::ForkedChild consumer([&] {
    while (q.get() != kStop) {
    }
  });
  std::uint64_t item = 0;
  for (auto _ : state) q.put(++item);
  q.put(kStop);
  consumer.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MpQueue_Throughput8B)->UseRealTime();

void BM_MpQueue_Throughput64K(benchmark::State& state) {
  mp::Queue<std::string> q(kBulkBound);
  bench::ForkedChild consumer([&] {
    while (!q.get().empty()) {
    }
  });
  const std::string payload(kBulkItem, 'x');
  for (auto _ : state) q.put(payload);
  q.put(std::string());
  consumer.join();
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBulkItem));
}
BENCHMARK(BM_MpQueue_Throughput64K)->UseRealTime();

// One round trip of an 8-byte item: the parent puts on one queue, the child echoes it back
// on another.
void BM_MpQueue_PingPong(benchmark::State& state) {
  mp::Queue<std::uint64_t> there, back;
  bench::ForkedChild child([&] {
    for (;;) {
      std::uint64_t item = there.get();
      back.put(item);
      if (item == kStop) return;
    }
  });
  std::uint64_t item = 0;
  for (auto _ : state) {
    there.put(++item);
    if (back.get() != item) state.SkipWithError("the echo differs");
  }
  there.put(kStop);
  (void)back.get();
  child.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MpQueue_PingPong)->UseRealTime();

// A message_queue with a name of this process, removed before and after.
class NamedMessageQueue {
 public:
  NamedMessageQueue(const char* what, std::size_t max_messages, std::size_t message_size)
      : name_(std::string("ipcheck_bench_") + what + "_" + std::to_string(::getpid())) {
    bip::message_queue::remove(name_.c_str());
    queue_.emplace(bip::create_only, name_.c_str(), max_messages, message_size);
  }
  ~NamedMessageQueue() {
    queue_.reset();
    bip::message_queue::remove(name_.c_str());
  }
  bip::message_queue& operator*() { return *queue_; }

 private:
  std::string name_;
  std::optional<bip::message_queue> queue_;
};

void BM_BoostMessageQueue_Throughput8B(benchmark::State& state) {
  NamedMessageQueue q("mq8", kSmallBound, sizeof(std::uint64_t));
  bench::ForkedChild consumer([&] {
    std::uint64_t item = 0;
    std::size_t size = 0;
    unsigned priority = 0;
    do {
      (*q).receive(&item, sizeof item, size, priority);
    } while (item != kStop);
  });
  std::uint64_t item = 0;
  for (auto _ : state) {
    ++item;
    (*q).send(&item, sizeof item, 0);
  }
  (*q).send(&kStop, sizeof kStop, 0);
  consumer.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BoostMessageQueue_Throughput8B)->UseRealTime();

void BM_BoostMessageQueue_Throughput64K(benchmark::State& state) {
  NamedMessageQueue q("mq64k", kBulkBound, kBulkItem);
  bench::ForkedChild consumer([&] {
    std::vector<char> buffer(kBulkItem);
    std::size_t size = 0;
    unsigned priority = 0;
    do {
      (*q).receive(buffer.data(), buffer.size(), size, priority);
    } while (size != 0);
  });
  const std::vector<char> payload(kBulkItem, 'x');
  for (auto _ : state) (*q).send(payload.data(), payload.size(), 0);
  (*q).send(payload.data(), 0, 0);
  consumer.join();
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBulkItem));
}
BENCHMARK(BM_BoostMessageQueue_Throughput64K)->UseRealTime();

}  // namespace
