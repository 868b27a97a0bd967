// The raw baseline for pipes: an AF_UNIX SOCK_STREAM socketpair between two processes.
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#include <vector>

#include "forked.h"

namespace {

constexpr size_t kBulkMessage = 64 * 1024;

void write_all(int fd, const void* data, size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      bench::die("write");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// False at end of stream.
bool read_all(int fd, void* data, size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = read(fd, p, size);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      bench::die("read");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

struct SocketPair {
  SocketPair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) bench::die("socketpair");
  }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int fds[2];
};

// The parent sends 64 KiB messages, each behind an 8-byte length as any framed protocol
// needs; the child reads them and acknowledges the empty message that ends the stream.
void BM_Socketpair_Throughput64K(benchmark::State& state) {
  SocketPair sp;
  bench::ForkedChild child([&sp] {
    close(sp.fds[0]);
    std::vector<char> buffer(kBulkMessage);
    for (;;) {
      uint64_t length = 0;
      if (!read_all(sp.fds[1], &length, sizeof length)) return;
      if (length == 0) break;
      if (length > buffer.size()) buffer.resize(length);
      read_all(sp.fds[1], buffer.data(), length);
    }
    char ack = 1;
    write_all(sp.fds[1], &ack, 1);
  });
  close(sp.fds[1]);
  sp.fds[1] = -1;
  std::vector<char> payload(kBulkMessage, 'x');
  uint64_t length = kBulkMessage;
  for (auto _ : state) {
    iovec parts[2] = {{&length, sizeof length}, {payload.data(), payload.size()}};
    ssize_t n = writev(sp.fds[0], parts, 2);
    if (n < 0) bench::die("writev");
    size_t sent = static_cast<size_t>(n);
    if (sent < sizeof length) {
      write_all(sp.fds[0], reinterpret_cast<char*>(&length) + sent, sizeof length - sent);
      sent = sizeof length;
    }
    write_all(sp.fds[0], payload.data() + (sent - sizeof length),
              payload.size() - (sent - sizeof length));
  }
  uint64_t end = 0;
  write_all(sp.fds[0], &end, sizeof end);
  char ack = 0;
  read_all(sp.fds[0], &ack, 1);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBulkMessage));
}
BENCHMARK(BM_Socketpair_Throughput64K)->UseRealTime();

// One round trip of an 8-byte message: the parent writes, the child echoes it back.
void BM_Socketpair_PingPong(benchmark::State& state) {
  SocketPair sp;
  bench::ForkedChild child([&sp] {
    close(sp.fds[0]);
    uint64_t message = 0;
    while (read_all(sp.fds[1], &message, sizeof message)) {
      write_all(sp.fds[1], &message, sizeof message);
    }
  });
  close(sp.fds[1]);
  sp.fds[1] = -1;
  uint64_t message = 0;
  for (auto _ : state) {
    ++message;
    write_all(sp.fds[0], &message, sizeof message);
    read_all(sp.fds[0], &message, sizeof message);
  }
  shutdown(sp.fds[0], SHUT_WR);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Socketpair_PingPong)->UseRealTime();

}  // namespace
