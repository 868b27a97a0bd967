// Connections: framed messages over a socketpair (duplex) or a pipe (one-way).
//
// A send is one sendmsg/writev of header and payload. A receive of a small message is one
// read, which may also take the start of the next messages: those bytes are kept in a
// read-ahead buffer in shared memory (a Segment made with the end), because another process
// may share the end — a forked or spawned child, consumers taking turns under a lock — and
// must find them there, even once the process that read them has exited. A large message's
// payload beyond the buffer is read straight into its destination, never past its end.
//
// Sockets are read with recvmsg, so that descriptors sent with send_fds are taken whenever
// the bytes they ride on are read (ahead or not); they wait in the reading process's
// Channel until recv_fds claims them, in order.
#include "mp/connection.h"
#include "mp/detail/futex.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>

#include "mp/errors.h"
#include "mp/hook.h"
#include "mp/process.h"
#include "spawn_internal.h"

namespace mp {
namespace detail {

enum ChannelFlags : unsigned { kReadable = 1, kWritable = 2, kSocket = 4 };

// The read-ahead of a readable end, in its own shared page.
struct ReadAhead {
  static constexpr std::size_t kCapacity = 4096 - 2 * sizeof(std::uint32_t);
  std::uint32_t begin;
  std::uint32_t end;
  char bytes[kCapacity];
};

class Channel {
 public:
  Channel(int fd, unsigned flags, SegmentRef readahead)
      : fd(fd),
        flags(flags),
        readahead_ref(std::move(readahead)),
        ra(readahead_ref ? static_cast<ReadAhead*>(readahead_ref.data()) : nullptr) {}
  ~Channel() { close(); }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  void close() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
    for (int received : received_fds) ::close(received);
    received_fds.clear();
  }

  std::size_t buffered() const noexcept { return ra != nullptr ? ra->end - ra->begin : 0; }

  int fd;
  unsigned flags;
  SegmentRef readahead_ref;  // readable ends only
  ReadAhead* ra;
  // Descriptors received (sockets only) and not yet claimed by recv_fds. This process's.
  std::deque<int> received_fds;
};

SegmentRef make_readahead() { return make_shared_object<ReadAhead>("mp-pipe-readahead").first; }

// ppoll over `fds` for `timeout` seconds (negative: forever), surviving EINTR.
int poll_fds(pollfd* fds, nfds_t n, double timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = steady_deadline(timeout);
  for (;;) {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
      auto ns = std::max<std::int64_t>(0, left.count());
      ts = timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      tsp = &ts;
    }
    int r = ::ppoll(fds, n, tsp, nullptr);
    if (r >= 0) return r;
    if (errno != EINTR) throw_errno("ppoll");
  }
}

namespace {

using Header = std::uint64_t;

[[noreturn]] void throw_bad_use(const char* what) {
  throw std::system_error(EBADF, std::generic_category(), what);
}

// Connections this (spawned) process inherited, so that one descriptor becomes one Channel.
struct Inherited {
  std::mutex mutex;
  std::map<int, std::weak_ptr<Channel>> by_fd;
};
Inherited& inherited() {
  static auto* r = new Inherited;
  return *r;
}

void wait_writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  poll_fds(&p, 1, -1);
}

void wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  poll_fds(&p, 1, -1);
}

// writev on a pipe without SIGPIPE: the signal is blocked for this thread around the call,
// and the one a broken pipe raises is taken back, unless the caller had it blocked already.
ssize_t writev_without_sigpipe(int fd, const iovec* iov, int count) {
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ssize_t n = ::writev(fd, iov, count);
  int err = errno;
  if (n < 0 && err == EPIPE && !sigismember(&old_set, SIGPIPE)) {
    timespec zero{0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = err;
  return n;
}

// Writes every byte of `iov`, looping over partial writes.
void write_all(Channel& c, iovec* iov, int count) {
  while (count > 0) {
    ssize_t n;
    if (c.flags & kSocket) {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<std::size_t>(count);
      n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
    } else {
      n = writev_without_sigpipe(c.fd, iov, count);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_writable(c.fd);
        continue;
      }
      if (errno == EPIPE || errno == ECONNRESET)
        throw EOFError("mp::Connection::send: the peer has closed the connection");
      throw_errno(c.flags & kSocket ? "sendmsg" : "writev");
    }
    auto done = static_cast<std::size_t>(n);
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
}

// SCM_MAX_FD: the kernel's limit of descriptors in one message.
constexpr std::size_t kMaxFdsPerMessage = 253;

// Keeps the descriptors that came with a recvmsg on `c`.
void take_received_fds(Channel& c, msghdr& msg) {
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      c.received_fds.push_back(fd);
    }
  }
}

// One read(2) (recvmsg on a socket, keeping descriptors that come along), surviving EINTR
// and a non-blocking descriptor. Returns 0 at EOF. Never waits when `block` is false:
// returns SIZE_MAX instead.
std::size_t read_some(Channel& c, void* data, std::size_t size, bool block = true) {
  for (;;) {
    ssize_t n;
    if (c.flags & kSocket) {
      alignas(cmsghdr) char control[CMSG_SPACE(kMaxFdsPerMessage * sizeof(int))];
      iovec iov{data, size};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      n = ::recvmsg(c.fd, &msg, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
      if (n >= 0 && msg.msg_controllen > 0) take_received_fds(c, msg);
    } else {
      n = ::read(c.fd, data, size);
    }
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!block) return SIZE_MAX;
      wait_readable(c.fd);
      continue;
    }
    if (errno == ECONNRESET) return 0;
    throw_errno(c.flags & kSocket ? "recvmsg" : "read");
  }
}

// Makes at least `want` (≤ capacity) bytes buffered, reading as many as are there.
void fill(Channel& c, std::size_t want) {
  ReadAhead& ra = *c.ra;
  if (ra.begin == ra.end) ra.begin = ra.end = 0;
  if (ra.begin + want > ReadAhead::kCapacity) {
    std::memmove(ra.bytes, ra.bytes + ra.begin, ra.end - ra.begin);
    ra.end -= ra.begin;
    ra.begin = 0;
  }
  while (ra.end - ra.begin < want) {
    std::size_t n = read_some(c, ra.bytes + ra.end, ReadAhead::kCapacity - ra.end);
    if (n == 0) {
      if (ra.end == ra.begin)
        throw EOFError("mp::Connection::recv: the peer has closed the connection");
      throw EOFError("mp::Connection::recv: the peer closed the connection mid-message");
    }
    ra.end += static_cast<std::uint32_t>(n);
  }
}

// The next message's length, left buffered.
Header peek_header(Channel& c) {
  if (c.buffered() < sizeof(Header)) fill(c, sizeof(Header));
  Header h;
  std::memcpy(&h, c.ra->bytes + c.ra->begin, sizeof h);
  return h;
}

// Moves the next `size` payload bytes into `out`: what is buffered, then straight from the
// descriptor, never past the message.
void take_payload(Channel& c, void* out, std::size_t size) {
  ReadAhead& ra = *c.ra;
  auto* p = static_cast<char*>(out);
  std::size_t done = std::min<std::size_t>(size, ra.end - ra.begin);
  if (done > 0) std::memcpy(p, ra.bytes + ra.begin, done);
  ra.begin += static_cast<std::uint32_t>(done);
  while (done < size) {
    std::size_t n = read_some(c, p + done, size - done);
    if (n == 0) throw EOFError("mp::Connection::recv: the peer closed the connection mid-message");
    done += n;
  }
}

// The payload of a send_fds message: how many descriptors rode on it, and whether another
// such message follows (more than the kernel takes at once).
struct FdsMessage {
  std::uint32_t magic;
  std::uint32_t count;
  std::uint32_t more;
};
constexpr std::uint32_t kFdsMagic = 0x6d706664;  // "mpfd"

// Gives a readable channel its shared read-ahead page.
void attach_readahead(Channel& c) {
  c.readahead_ref = make_readahead();
  c.ra = static_cast<ReadAhead*>(c.readahead_ref.data());
}

using Clock = std::chrono::steady_clock;

// Reads exactly `size` bytes before `deadline`, never more.
void read_exact_before(Channel& c, void* out, std::size_t size, Clock::time_point deadline) {
  auto* p = static_cast<char*>(out);
  std::size_t done = 0;
  while (done < size) {
    pollfd fd{c.fd, POLLIN, 0};
    if (poll_fds(&fd, 1, seconds_until(deadline)) == 0)
      throw TimeoutError("mp::Connection: the peer sent no complete message in time");
    std::size_t n = read_some(c, p + done, size - done, /*block=*/false);
    if (n == SIZE_MAX) continue;  // woken without data
    if (n == 0) throw EOFError("mp::Connection::recv: the peer has closed the connection");
    done += n;
  }
}

Channel& readable_channel(Channel& c) {
  if (!(c.flags & kReadable)) throw_bad_use("mp::Connection: receive on a write-only connection");
  return c;
}

}  // namespace
}  // namespace detail

using detail::Channel;

// -----------------------------------------------------------------------------
// Connection
// -----------------------------------------------------------------------------

Channel& Connection::open_channel(const char* call) const {
  if (!channel_ || channel_->fd < 0) detail::throw_bad_use(call);
  return *channel_;
}

void Connection::send_bytes(const void* data, std::size_t size) {
  Channel& c = open_channel("mp::Connection::send_bytes: connection is closed");
  if (!(c.flags & detail::kWritable))
    detail::throw_bad_use("mp::Connection: send on a read-only connection");
  detail::Header header = size;
  iovec iov[2] = {{&header, sizeof header}, {const_cast<void*>(data), size}};
  MP_HOOK("connection.send.before");
  detail::write_all(c, iov, size > 0 ? 2 : 1);
  MP_HOOK("connection.send.after");
}

std::string Connection::recv_bytes() {
  Channel& c =
      detail::readable_channel(open_channel("mp::Connection::recv_bytes: connection is closed"));
  MP_HOOK("connection.recv.before");
  detail::Header size = detail::peek_header(c);
  c.ra->begin += sizeof size;
  std::string out;
  out.resize(static_cast<std::size_t>(size));
  detail::take_payload(c, out.data(), out.size());
  MP_HOOK("connection.recv.after");
  return out;
}

std::size_t Connection::recv_bytes_into(void* buffer, std::size_t capacity) {
  Channel& c = detail::readable_channel(
      open_channel("mp::Connection::recv_bytes_into: connection is closed"));
  MP_HOOK("connection.recv.before");
  detail::Header size = detail::peek_header(c);
  if (size > capacity) {
    throw BufferTooShort("mp::Connection::recv_bytes_into: a message of " + std::to_string(size) +
                         " bytes does not fit a buffer of " + std::to_string(capacity) + " bytes");
  }
  c.ra->begin += sizeof size;
  detail::take_payload(c, buffer, static_cast<std::size_t>(size));
  MP_HOOK("connection.recv.after");
  return static_cast<std::size_t>(size);
}

bool Connection::poll(double timeout) const {
  Channel& c = detail::readable_channel(open_channel("mp::Connection::poll: connection is closed"));
  if (c.buffered() > 0) return true;
  pollfd p{c.fd, POLLIN, 0};
  return detail::poll_fds(&p, 1, timeout) > 0;
}

void Connection::send_fds(std::span<const int> fds) {
  Channel& c = open_channel("mp::Connection::send_fds: connection is closed");
  if (!(c.flags & detail::kSocket) || !(c.flags & detail::kWritable))
    detail::throw_bad_use("mp::Connection::send_fds: descriptors travel only over a socket");
  std::size_t sent = 0;
  do {
    const std::size_t count = std::min(detail::kMaxFdsPerMessage, fds.size() - sent);
    detail::FdsMessage payload{detail::kFdsMagic, static_cast<std::uint32_t>(count),
                               sent + count < fds.size() ? 1u : 0u};
    detail::Header header = sizeof payload;
    iovec iov[2] = {{&header, sizeof header}, {&payload, sizeof payload}};
    alignas(cmsghdr) char control[CMSG_SPACE(detail::kMaxFdsPerMessage * sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    if (count > 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
      cmsghdr* cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(count * sizeof(int));
      std::memcpy(CMSG_DATA(cm), fds.data() + sent, count * sizeof(int));
    }
    MP_HOOK("connection.send.before");
    ssize_t n;
    for (;;) {  // the descriptors go with the first byte: retry until that is taken
      n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
      if (n >= 0) break;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        detail::wait_writable(c.fd);
        continue;
      }
      if (errno == EPIPE || errno == ECONNRESET)
        throw EOFError("mp::Connection::send_fds: the peer has closed the connection");
      detail::throw_errno("sendmsg");
    }
    auto done = static_cast<std::size_t>(n);
    if (done < sizeof header + sizeof payload) {  // the rest of the frame, without control data
      char bytes[sizeof header + sizeof payload];
      std::memcpy(bytes, &header, sizeof header);
      std::memcpy(bytes + sizeof header, &payload, sizeof payload);
      iovec rest{bytes + done, sizeof bytes - done};
      detail::write_all(c, &rest, 1);
    }
    MP_HOOK("connection.send.after");
    sent += count;
  } while (sent < fds.size());
}

std::vector<int> Connection::recv_fds() {
  Channel& c =
      detail::readable_channel(open_channel("mp::Connection::recv_fds: connection is closed"));
  std::vector<int> out;
  struct Guard {  // on an error, the descriptors taken so far are closed
    std::vector<int>& fds;
    bool keep = false;
    ~Guard() {
      if (!keep)
        for (int fd : fds) ::close(fd);
    }
  } guard{out};
  for (;;) {
    detail::FdsMessage payload{};
    std::size_t n;
    try {
      n = recv_bytes_into(&payload, sizeof payload);
    } catch (const BufferTooShort&) {
      n = 0;
    }
    if (n != sizeof payload || payload.magic != detail::kFdsMagic)
      throw ProcessError("mp::Connection::recv_fds: the message is not one of send_fds");
    if (c.received_fds.size() < payload.count)
      throw ProcessError(
          "mp::Connection::recv_fds: the descriptors sent with the message did not arrive "
          "here (another process read them, or the peer's process ran out of descriptors)");
    for (std::uint32_t i = 0; i < payload.count; ++i) {
      out.push_back(c.received_fds.front());
      c.received_fds.pop_front();
    }
    if (payload.more == 0) break;
  }
  guard.keep = true;
  return out;
}

void Connection::close() {
  if (channel_) channel_->close();
}

bool Connection::closed() const noexcept { return !channel_ || channel_->fd < 0; }
bool Connection::readable() const noexcept {
  return !closed() && (channel_->flags & detail::kReadable);
}
bool Connection::writable() const noexcept {
  return !closed() && (channel_->flags & detail::kWritable);
}
int Connection::fileno() const {
  return open_channel("mp::Connection::fileno: connection is closed").fd;
}
Connection::Wire Connection::wire() const {
  Channel& c = open_channel("mp::Connection: serializing a closed connection");
  return Wire{c.fd, static_cast<std::uint8_t>(c.flags), c.readahead_ref};
}

Connection Connection::attach_inherited(Wire wire) {
  auto& r = detail::inherited();
  std::lock_guard lock(r.mutex);
  if (auto it = r.by_fd.find(wire.fd); it != r.by_fd.end())
    if (auto live = it->second.lock(); live && live->fd == wire.fd) return Connection(live);
  auto channel = std::make_shared<Channel>(wire.fd, wire.flags, std::move(wire.readahead));
  r.by_fd[wire.fd] = channel;
  return Connection(std::move(channel));
}

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (duplex) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      detail::throw_errno("socketpair");
    constexpr unsigned kBoth = detail::kReadable | detail::kWritable | detail::kSocket;
    Connection first(std::make_shared<Channel>(fds[0], kBoth, detail::SegmentRef()));
    Connection second(std::make_shared<Channel>(fds[1], kBoth, detail::SegmentRef()));
    detail::attach_readahead(*first.channel_);  // closes the fds if it throws
    detail::attach_readahead(*second.channel_);
    return {std::move(first), std::move(second)};
  }
  if (::pipe2(fds, O_CLOEXEC) != 0) detail::throw_errno("pipe2");
  Connection reader(std::make_shared<Channel>(fds[0], detail::kReadable, detail::SegmentRef()));
  Connection writer(std::make_shared<Channel>(fds[1], detail::kWritable, detail::SegmentRef()));
  detail::attach_readahead(*reader.channel_);
  return {std::move(reader), std::move(writer)};
}

namespace detail {

Connection adopt_socket(int fd) {
  constexpr unsigned kBoth = kReadable | kWritable | kSocket;
  Connection conn(std::make_shared<Channel>(fd, kBoth, SegmentRef()));
  attach_readahead(*conn.channel_);  // closes fd if it throws
  return conn;
}

std::string recv_bounded(const Connection& conn, std::size_t max_length, double timeout) {
  Channel& c =
      readable_channel(conn.open_channel("mp::Connection: receive on a closed connection"));
  if (c.buffered() > 0) fatal("mp::detail::recv_bounded: bytes were read ahead");
  const auto deadline = steady_deadline(timeout);
  Header size;
  read_exact_before(c, &size, sizeof size, deadline);
  if (size > max_length) {
    throw BufferTooShort("mp::Connection: a message of " + std::to_string(size) +
                         " bytes where at most " + std::to_string(max_length) + " were expected");
  }
  std::string out(static_cast<std::size_t>(size), '\0');
  read_exact_before(c, out.data(), out.size(), deadline);
  return out;
}

}  // namespace detail

// -----------------------------------------------------------------------------
// wait
// -----------------------------------------------------------------------------

WaitObject::WaitObject(const Connection& connection)
    : fd_(connection.fileno()), channel_(connection.channel_.get()) {}

WaitObject::WaitObject(const Process& process) : fd_(process.sentinel()) {}

std::vector<std::size_t> wait(const std::vector<WaitObject>& objects, double timeout) {
  std::vector<pollfd> fds(objects.size());
  bool any_pending = false;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    fds[i] = pollfd{objects[i].fd_, POLLIN, 0};
    if (objects[i].channel_ != nullptr && objects[i].channel_->buffered() > 0) any_pending = true;
  }
  detail::poll_fds(fds.data(), fds.size(), any_pending ? 0 : timeout);
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    bool pending = objects[i].channel_ != nullptr && objects[i].channel_->buffered() > 0;
    if (pending || fds[i].revents != 0) ready.push_back(i);
  }
  return ready;
}

}  // namespace mp
