// Connections: framed messages over a socketpair (duplex) or a pipe (one-way).
//
// A send is one sendmsg/writev of header and payload. A receive reads exactly one frame —
// the header, then the payload straight into its destination — and never past it: another
// process may share the end (a forked child, consumers taking turns under a lock), and bytes
// read ahead into one process's memory would be lost to the others when it exits.
#include "mp/connection.h"

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
#include <map>
#include <mutex>
#include <system_error>

#include "mp/errors.h"
#include "mp/hook.h"
#include "mp/process.h"

namespace mp {
namespace detail {

enum ChannelFlags : unsigned { kReadable = 1, kWritable = 2, kSocket = 4 };

class Channel {
 public:
  Channel(int fd, unsigned flags) : fd(fd), flags(flags) {}
  ~Channel() { close(); }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  void close() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  int fd;
  unsigned flags;
  // The header of a message that recv_bytes_into found too large: read, payload not yet.
  bool has_pending_header = false;
  std::uint64_t pending_header = 0;
};

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

timespec to_timespec(std::chrono::nanoseconds ns) {
  auto count = std::max<std::int64_t>(0, ns.count());
  return timespec{static_cast<time_t>(count / 1000000000), static_cast<long>(count % 1000000000)};
}

// ppoll over `fds` with a timeout in seconds (negative: forever), surviving EINTR.
int poll_fds(pollfd* fds, nfds_t n, double timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = timeout < 0 ? Clock::time_point::max()
                                    : Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                         std::chrono::duration<double>(timeout));
  for (;;) {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout >= 0) {
      ts = to_timespec(
          std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()));
      tsp = &ts;
    }
    int r = ::ppoll(fds, n, tsp, nullptr);
    if (r >= 0) return r;
    if (errno != EINTR) throw_errno("ppoll");
  }
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

// One read(2), surviving EINTR and a non-blocking descriptor. Returns 0 at EOF.
std::size_t read_some(int fd, void* data, std::size_t size) {
  for (;;) {
    ssize_t n = ::read(fd, data, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_readable(fd);
      continue;
    }
    if (errno == ECONNRESET) return 0;
    throw_errno("read");
  }
}

// Reads exactly `size` bytes into `out`. EOF before the first byte of a message is the
// peer's close; anywhere else it cut a message short.
void read_exact(Channel& c, void* out, std::size_t size, bool message_start) {
  auto* p = static_cast<char*>(out);
  std::size_t done = 0;
  while (done < size) {
    std::size_t n = read_some(c.fd, p + done, size - done);
    if (n == 0) {
      if (message_start && done == 0)
        throw EOFError("mp::Connection::recv: the peer has closed the connection");
      throw EOFError("mp::Connection::recv: the peer closed the connection mid-message");
    }
    done += n;
  }
}

Header read_header(Channel& c) {
  if (c.has_pending_header) {
    c.has_pending_header = false;
    return c.pending_header;
  }
  Header h;
  read_exact(c, &h, sizeof h, true);
  return h;
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
  detail::Header size = detail::read_header(c);
  std::string out;
  out.resize(static_cast<std::size_t>(size));
  detail::read_exact(c, out.data(), out.size(), false);
  MP_HOOK("connection.recv.after");
  return out;
}

std::size_t Connection::recv_bytes_into(void* buffer, std::size_t capacity) {
  Channel& c = detail::readable_channel(
      open_channel("mp::Connection::recv_bytes_into: connection is closed"));
  MP_HOOK("connection.recv.before");
  detail::Header size = detail::read_header(c);
  if (size > capacity) {
    c.pending_header = size;
    c.has_pending_header = true;
    throw BufferTooShort("mp::Connection::recv_bytes_into: a message of " + std::to_string(size) +
                         " bytes does not fit a buffer of " + std::to_string(capacity) + " bytes");
  }
  detail::read_exact(c, buffer, static_cast<std::size_t>(size), false);
  MP_HOOK("connection.recv.after");
  return static_cast<std::size_t>(size);
}

bool Connection::poll(double timeout) const {
  Channel& c = detail::readable_channel(open_channel("mp::Connection::poll: connection is closed"));
  if (c.has_pending_header) return true;
  pollfd p{c.fd, POLLIN, 0};
  return detail::poll_fds(&p, 1, timeout) > 0;
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
unsigned Connection::flags() const {
  return open_channel("mp::Connection: serializing a closed connection").flags;
}

Connection Connection::attach_inherited(int fd, unsigned flags) {
  auto& r = detail::inherited();
  std::lock_guard lock(r.mutex);
  if (auto it = r.by_fd.find(fd); it != r.by_fd.end())
    if (auto live = it->second.lock(); live && live->fd == fd) return Connection(live);
  auto channel = std::make_shared<Channel>(fd, flags);
  r.by_fd[fd] = channel;
  return Connection(std::move(channel));
}

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (duplex) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      detail::throw_errno("socketpair");
    constexpr unsigned kBoth = detail::kReadable | detail::kWritable | detail::kSocket;
    return {Connection(std::make_shared<Channel>(fds[0], kBoth)),
            Connection(std::make_shared<Channel>(fds[1], kBoth))};
  }
  if (::pipe2(fds, O_CLOEXEC) != 0) detail::throw_errno("pipe2");
  return {Connection(std::make_shared<Channel>(fds[0], detail::kReadable)),
          Connection(std::make_shared<Channel>(fds[1], detail::kWritable))};
}

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
    if (objects[i].channel_ != nullptr && objects[i].channel_->has_pending_header)
      any_pending = true;
  }
  detail::poll_fds(fds.data(), fds.size(), any_pending ? 0 : timeout);
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    bool pending = objects[i].channel_ != nullptr && objects[i].channel_->has_pending_header;
    if (pending || fds[i].revents != 0) ready.push_back(i);
  }
  return ready;
}

}  // namespace mp
