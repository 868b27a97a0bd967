// mp::Pipe between two processes: 64 KiB message throughput and an 8-byte ping-pong.
// Compare: BM_Socketpair_Throughput64K and BM_Socketpair_PingPong (os_socket_bench.cpp), which
// do the same work on a raw socketpair, and bench/python/pipe.py.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "forked.h"
#include "mp/connection.h"

namespace {

constexpr size_t kBulkMessage = 64 * 1024;

// The parent sends 64 KiB messages; the child receives them into one buffer and acknowledges
// the empty message that ends the stream.
void BM_MpPipe_Throughput64K(benchmark::State& state) {
  auto [parent_end, child_end] = mp::Pipe();
  bench::ForkedChild child([&, &parent_end = parent_end, &child_end = child_end] {
    parent_end.close();
    std::vector<char> buffer(kBulkMessage);
    while (child_end.recv_bytes_into(buffer.data(), buffer.size()) != 0) {
    }
    child_end.send_bytes("k", 1);
  });
  child_end.close();
  std::vector<char> payload(kBulkMessage, 'x');
  for (auto _ : state) parent_end.send_bytes(payload.data(), payload.size());
  parent_end.send_bytes("", 0);
  char ack = 0;
  (void)parent_end.recv_bytes_into(&ack, 1);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBulkMessage));
}
BENCHMARK(BM_MpPipe_Throughput64K)->UseRealTime();

// One round trip of an 8-byte message: the parent sends, the child echoes it back.
void BM_MpPipe_PingPong(benchmark::State& state) {
  auto [parent_end, child_end] = mp::Pipe();
  bench::ForkedChild child([&, &parent_end = parent_end, &child_end = child_end] {
    parent_end.close();
    uint64_t message = 0;
    while (child_end.recv_bytes_into(&message, sizeof message) == sizeof message) {
      child_end.send_bytes(&message, sizeof message);
    }
  });
  child_end.close();
  uint64_t message = 0;
  for (auto _ : state) {
    ++message;
    parent_end.send_bytes(&message, sizeof message);
    (void)parent_end.recv_bytes_into(&message, sizeof message);
  }
  parent_end.send_bytes("", 0);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MpPipe_PingPong)->UseRealTime();

}  // namespace
