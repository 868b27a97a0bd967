// runtime/src/byte_lane.h — a manager connection's bytes through shared memory.
//
// A Lane is a sealed memfd that holds two one-way byte rings, one per direction, between a
// manager client and its server on the same host. The client makes it and passes its
// descriptor over the Unix socket it authenticated on (Op::kLane); from then on each side
// writes its frames into its outgoing ring and reads the other's from its incoming ring, as
// it did from the socket, with no system call while both sides are awake. The socket stays
// open: it carries one-byte doorbells that wake a sleeping side, and its end tells either
// side that the other is gone, as before.
//
// Waking, for a reader about to sleep: it sets `reader_parked`, looks at `tail` again, and
// sleeps in poll on the socket only if the ring is still empty. A writer publishes `tail`,
// then reads `reader_parked`; if it is set, it clears it and rings (one byte on the socket).
// Both sides order their store before their load with a full fence (a Dekker pair), so
// either the reader sees the bytes or the writer sees the reader parked. The same holds for
// a writer waiting for room (`writer_parked`, rung by the reader once it moved `head`).
//
// Each side keeps its own position privately and only publishes it: the server never trusts
// what the client may have written into the shared page. A counter of the peer that is
// impossible (more bytes than the ring holds) is an error, which drops the connection.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mp::detail::manager {

// One ring's words, on lines of their own: the writer's and the reader's.
struct LaneRing {
  alignas(64) std::atomic<std::uint64_t> tail{0};  // bytes written so far (the writer's)
  std::atomic<std::uint32_t> writer_parked{0};     // the writer waits for room (set by it)
  alignas(64) std::atomic<std::uint64_t> head{0};  // bytes read so far (the reader's)
  std::atomic<std::uint32_t> reader_parked{0};     // the reader sleeps (set by it)
};

// The writing end of one ring.
class LaneWriter {
 public:
  LaneWriter() = default;
  LaneWriter(LaneRing* ring, char* data, std::uint64_t capacity) noexcept
      : ring_(ring), data_(data), capacity_(capacity) {}

  // Copies as many of the `n` bytes as fit; returns how many, or -1 if the reader's head is
  // impossible.
  std::int64_t write_some(const char* bytes, std::size_t n) noexcept;
  // Whether everything written has been read (the reader's head caught up).
  [[nodiscard]] bool drained() noexcept;
  // Whether a write would take at least one byte (the reader's head read afresh).
  [[nodiscard]] bool has_room() noexcept;
  // After a write: whether the reader sleeps and must be rung now (true once per park).
  [[nodiscard]] bool take_reader_parked() noexcept;
  // Before sleeping for room: the reader rings once it made some. Look for room again after.
  void park() noexcept;
  void unpark() noexcept;

 private:
  LaneRing* ring_ = nullptr;
  char* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t tail_ = 0;       // ours
  std::uint64_t head_seen_ = 0;  // the reader's, as last read
};

// The reading end of one ring.
class LaneReader {
 public:
  LaneReader() = default;
  LaneReader(LaneRing* ring, const char* data, std::uint64_t capacity) noexcept
      : ring_(ring), data_(data), capacity_(capacity) {}

  // Moves up to `n` bytes into `out`; returns how many (0: empty), or -1 if the writer's
  // tail is impossible.
  std::int64_t read_some(char* out, std::size_t n) noexcept;
  // Bytes ready to read; -1 if the writer's tail is impossible.
  [[nodiscard]] std::int64_t available() noexcept;
  // After a read: whether the writer waits for room and must be rung now.
  [[nodiscard]] bool take_writer_parked() noexcept;
  // Before sleeping: the writer rings once it wrote. Look at available() again after.
  void park() noexcept;
  void unpark() noexcept;

 private:
  LaneRing* ring_ = nullptr;
  const char* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t head_ = 0;       // ours
  std::uint64_t tail_seen_ = 0;  // the writer's, as last read
};

// The mapping of one lane. Ring 0 carries the client's requests, ring 1 the server's replies.
class Lane {
 public:
  static constexpr std::uint64_t kMinCapacity = 4096;
  static constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 24;

  // A new lane with rings of `capacity` bytes (a power of two in [kMinCapacity,
  // kMaxCapacity]), sealed against resizing. Throws std::system_error.
  static std::unique_ptr<Lane> create(std::uint64_t capacity);
  // The peer's lane behind `fd` (taken: closed either way), which must have rings of
  // `capacity` bytes; nullptr with the reason in `why` if it is not such a lane.
  static std::unique_ptr<Lane> adopt(int fd, std::uint64_t capacity, std::string& why);

  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;
  ~Lane();

  // The descriptor to pass (the creator's only; -1 once adopted or released).
  [[nodiscard]] int fd() const noexcept { return fd_; }
  void close_fd() noexcept;
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

  [[nodiscard]] LaneWriter requests_writer() noexcept { return {ring(0), data(0), capacity_}; }
  [[nodiscard]] LaneReader requests_reader() noexcept { return {ring(0), data(0), capacity_}; }
  [[nodiscard]] LaneWriter replies_writer() noexcept { return {ring(1), data(1), capacity_}; }
  [[nodiscard]] LaneReader replies_reader() noexcept { return {ring(1), data(1), capacity_}; }

 private:
  Lane(int fd, void* base, std::size_t bytes, std::uint64_t capacity) noexcept
      : fd_(fd), base_(static_cast<char*>(base)), bytes_(bytes), capacity_(capacity) {}
  LaneRing* ring(int i) noexcept;
  char* data(int i) noexcept;

  int fd_;
  char* base_;
  std::size_t bytes_;
  std::uint64_t capacity_;
};

// Rings the peer: one byte on the socket `fd`. A full socket already holds a doorbell.
void ring_doorbell(int fd) noexcept;
// Reads every doorbell waiting on `fd`. False at the socket's end, with `error` 0 at EOF or
// the errno of the failed read.
bool drain_doorbells(int fd, int& error) noexcept;

// One sendmsg of up to `size` bytes on the Unix socket `socket`, with the descriptor
// `passed` attached (SCM_RIGHTS): what sendmsg returns, errno set on -1.
ssize_t send_with_descriptor(int socket, const char* data, std::size_t size, int passed) noexcept;

}  // namespace mp::detail::manager
