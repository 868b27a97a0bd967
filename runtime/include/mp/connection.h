// mp/connection.h — pipes between processes.
//
//   mp::Pipe(duplex)      two connected Connections
//   mp::Connection        one end: send/recv objects, send_bytes/recv_bytes, poll, close;
//                         on a socket also send_fds/recv_fds (descriptor passing)
//   mp::WaitObject        a Connection, a Process or a descriptor, for mp::wait
//   mp::wait(objects, t)  which of several objects are ready
//
// A message is a frame: a 64-bit length, then that many bytes. Message boundaries are kept;
// messages over 4 GiB work (lengths are 64-bit, reads and writes loop). Objects travel as
// mp::serialize makes them (mp/serialize.h).
//
// A Connection is a handle: copies name the same end, and close() closes it for every copy
// (the last copy's destruction closes it too). It reaches a child by inheritance only —
// as a Process argument under fork, spawn (the descriptor is inherited under the same number)
// or thread — never through another Connection or a Queue (it is mp::InheritanceOnly).
// In thread mode the child's copy is the parent's end itself: closing it in either closes
// it for both.
//
// One end should be used by one process or thread at a time: two concurrent senders (or
// receivers) on one end interleave frames, as in Python. Processes may take turns on one end
// (under a Lock): bytes read ahead of a message stay in shared memory, for the next reader
// (each readable end has one shared page for them, a Segment that spawn passes on too).
//
// A Connection is also what mp::Listener::accept and mp::Client (mp/listener.h) return: the
// same frames over a connected Unix or TCP socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/segment.h"
#include "mp/detail/spawn_fds.h"
#include "mp/serialize.h"

namespace mp {

class Process;

class Connection;

namespace detail {
class Channel;
// Makes a connected stream socket (Unix or TCP; this process owns `fd`) a duplex
// Connection. For mp/listener.h. Errors: std::system_error if its read-ahead page cannot
// be made (the descriptor is closed then).
Connection adopt_socket(int fd);
// Receives one message of at most `max_length` bytes within `timeout` seconds (negative:
// no limit), reading nothing past it and allocating nothing before the length is checked.
// For a handshake with a peer not yet trusted (mp/listener.h). Precondition: nothing was
// read ahead on `conn` (only recv_bounded has read from it). Errors: mp::BufferTooShort
// if the length prefix says more (the connection is then out of step: close it),
// mp::TimeoutError, mp::EOFError, std::system_error(EBADF) on a closed or write-only end.
std::string recv_bounded(const Connection& conn, std::size_t max_length, double timeout);
}  // namespace detail

// -----------------------------------------------------------------------------
// Connection
// -----------------------------------------------------------------------------
//
// Errors common to every member: std::system_error(EBADF) on a closed Connection or in the
// wrong direction (recv on a write-only end, send on a read-only end); std::system_error
// naming the call for other OS failures. Every call survives EINTR.
class Connection {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A closed Connection.
  Connection() = default;

  // Sends `obj` as one message. Blocks while the pipe is full. Errors: mp::EOFError if the
  // peer has closed its end (no SIGPIPE is raised).
  template <class T>
  void send(const T& obj) {
    static_assert(!InheritanceOnly<T>,
                  "mp::Connection::send: this object lives in shared memory and reaches another "
                  "process only by inheritance; pass it as a Process argument instead, or use a "
                  "Manager proxy");
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
      send_bytes(obj.data(), obj.size());  // received as a std::string
    } else if constexpr (detail::kIsPlainBytes<T>) {
      send_bytes(&obj, sizeof(T));
    } else if constexpr (detail::IsVectorOfPlainBytes<T>::value) {
      send_bytes(obj.data(), obj.size() * sizeof(typename T::value_type));  // as serialize
    } else {
      std::string bytes = serialize(obj);
      send_bytes(bytes.data(), bytes.size());
    }
  }

  // Receives one message sent by send<T>. Blocks until a whole message is there.
  // Errors: mp::EOFError if the peer closed its end before (or while) sending it;
  // deserialization errors (cereal::Exception, std::length_error) if it is not a T.
  template <class T>
  T recv() {
    static_assert(!InheritanceOnly<T>,
                  "mp::Connection::recv: objects in shared memory never travel through pipes");
    if constexpr (detail::kIsPlainBytes<T> && std::is_default_constructible_v<T>) {
      T out;
      if (recv_bytes_into(&out, sizeof(T)) != sizeof(T))
        throw std::length_error("mp::Connection::recv: message size is not the size of the type");
      return out;
    } else {
      return deserialize<T>(recv_bytes());
    }
  }

  // Sends `size` bytes at `data` as one message. Blocks while the pipe is full.
  // Errors: mp::EOFError if the peer has closed its end.
  void send_bytes(const void* data, std::size_t size);
  void send_bytes(std::string_view bytes) { send_bytes(bytes.data(), bytes.size()); }

  // Receives one message. Blocks until a whole message is there.
  // Errors: mp::EOFError if the peer closed its end first.
  std::string recv_bytes();

  // Receives one message into `buffer` and returns its size. Blocks until a whole message
  // is there. Errors: mp::EOFError as recv_bytes; mp::BufferTooShort if the message is
  // larger than `capacity` — it then stays unread (unlike Python, which hands it over in
  // the exception): receive it with recv_bytes() or a larger buffer.
  std::size_t recv_bytes_into(void* buffer, std::size_t capacity);

  // True if a message (or EOF) can be received without blocking; waits up to `timeout`
  // seconds for one (0: does not block; negative: no limit).
  [[nodiscard]] bool poll(double timeout = 0) const;

  // Sends duplicates of the descriptors `fds` to the peer (SCM_RIGHTS) as one or more
  // messages; the caller keeps its own. Only on a socket: a duplex Pipe end, or a
  // Connection from mp::Listener / mp::Client over a Unix socket. Blocks as send_bytes.
  // Errors: std::system_error(EBADF) on a one-way pipe end, a TCP socket (EINVAL from the
  // kernel), or an invalid descriptor in `fds`; mp::EOFError as send_bytes.
  void send_fds(std::span<const int> fds);

  // Receives the descriptors of one send_fds call, as new descriptors of this process
  // (close-on-exec) that the caller owns, in the order they were sent. Blocks as
  // recv_bytes. The descriptors travel beside the bytes, so they reach the process that
  // reads the message: take turns on such an end only if the reader also takes the fds.
  // Errors: mp::EOFError as recv_bytes; mp::ProcessError if the next message was not sent
  // by send_fds or its descriptors were lost (read by another process).
  std::vector<int> recv_fds();

  // Closes this end for every copy of the handle. Closing twice is harmless.
  void close();

  [[nodiscard]] bool closed() const noexcept;
  [[nodiscard]] bool readable() const noexcept;
  [[nodiscard]] bool writable() const noexcept;
  // The descriptor. Errors: std::system_error(EBADF) if closed.
  [[nodiscard]] int fileno() const;

  // cereal: as the descriptor, which a spawned child inherits under the same number.
  // The read-ahead segment goes along (spawn passes every live segment).
  template <class Archive>
  void save(Archive& archive) const {
    Wire w = wire();
    detail::inherit_fd(w.fd);
    bool has_readahead = static_cast<bool>(w.readahead);
    archive(w.fd, w.flags, has_readahead);
    if (has_readahead) archive(w.readahead);
  }
  template <class Archive>
  void load(Archive& archive) {
    Wire w;
    bool has_readahead = false;
    archive(w.fd, w.flags, has_readahead);
    if (has_readahead) archive(w.readahead);
    *this = attach_inherited(std::move(w));
  }

 private:
  friend std::pair<Connection, Connection> Pipe(bool duplex);
  friend class WaitObject;
  friend Connection detail::adopt_socket(int fd);
  friend std::string detail::recv_bounded(const Connection& conn, std::size_t max_length,
                                          double timeout);

  explicit Connection(std::shared_ptr<detail::Channel> channel) : channel_(std::move(channel)) {}
  struct Wire {
    int fd = -1;
    std::uint8_t flags = 0;
    detail::SegmentRef readahead;
  };
  Wire wire() const;
  static Connection attach_inherited(Wire wire);
  detail::Channel& open_channel(const char* call) const;

  std::shared_ptr<detail::Channel> channel_;
};

// Two connected ends. duplex (the default): both ends send and receive (a socketpair).
// One-way: the first end only receives, the second only sends (a pipe).
// Errors: std::system_error if the OS refuses (socketpair, pipe2).
std::pair<Connection, Connection> Pipe(bool duplex = true);

// -----------------------------------------------------------------------------
// wait
// -----------------------------------------------------------------------------

// Something mp::wait can wait on. Holds a reference: the Connection or Process must outlive
// the wait.
class WaitObject {
 public:
  WaitObject(const Connection& connection);  // NOLINT: implicit, for wait({a, b})
  WaitObject(const Process& process);        // NOLINT: its sentinel
  // A raw descriptor (a sentinel, a socket): ready when readable.
  static WaitObject descriptor(int fd) { return WaitObject(fd); }

 private:
  friend std::vector<std::size_t> wait(const std::vector<WaitObject>& objects, double timeout);
  explicit WaitObject(int fd) : fd_(fd) {}

  int fd_ = -1;
  const detail::Channel* channel_ = nullptr;  // to see messages already read ahead
};

// Blocks until at least one of `objects` is ready or `timeout` seconds have passed
// (negative: no limit; 0: does not block), and returns the indices of those ready, in order
// (empty on timeout). A Connection is ready when it has a message or EOF to receive; a
// Process when it has exited. Survives EINTR.
std::vector<std::size_t> wait(const std::vector<WaitObject>& objects, double timeout = -1);

}  // namespace mp
