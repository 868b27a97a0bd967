// The forkserver start method: one fresh image of the program forks every child on request.
//
// The first forkserver start spawns /proc/self/exe with one end of a socketpair named in
// MP_FORKSERVER_FD; mp::init there enters run_forkserver and never returns. Each start sends
// the server the spawn payload (in a memfd, as spawn does), the write end of a status pipe,
// and the descriptors the child must inherit, with SCM_RIGHTS. The server forks; the child
// puts each descriptor back under the number it had in the parent, closes every other one
// and runs the payload as a spawned child would. The server answers with the child's pid
// and a pidfd of it (race-free: only the server can reap the child), and when it reaps the
// child, writes the wait status to the status pipe, whose read end is the Process's
// sentinel, as in Python.
//
// Why a socketpair and no authkey: Python's server listens on a named socket that every
// descendant may reach, so it must check the authkey. Here the only way in is the one
// socketpair: the server inherits one end, this process holds the other (close-on-exec, and
// closed in forked children by an atfork handler), and no name exists to connect to. No
// other process can talk to the server, so there is nothing to authenticate. The price:
// each process that uses forkserver has its own server.
//
// Wire format (SOCK_SEQPACKET: each message arrives whole or not at all):
//   request  one or more RequestChunk messages, each with `count` descriptors attached; the
//            first two of the first chunk are the payload and the status pipe's write end
//            (kNoTarget), every other one carries the number it gets in the child; `last`
//            marks the final chunk (SCM_RIGHTS takes at most 253 descriptors a message).
//   reply    a Reply; the child's pidfd attached when pid > 0.
//   status   an int wait status on the status pipe, then end of file.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "mp/errors.h"
#include "mp/hook.h"
#include "spawn_internal.h"

namespace mp::detail {
namespace {

constexpr std::uint32_t kMagic = 0x6d706673;  // "mpfs"
constexpr std::size_t kFdsPerChunk = 250;     // SCM_MAX_FD is 253
constexpr std::int32_t kNoTarget = -1;

struct RequestChunk {
  std::uint32_t magic;
  std::uint32_t last;
  std::uint32_t count;
  std::int32_t targets[kFdsPerChunk];
};
constexpr std::size_t kChunkHeader = offsetof(RequestChunk, targets);

struct Reply {
  std::int32_t pid;    // > 0: the child
  std::int32_t error;  // the errno of fork or pidfd_open in the server when pid <= 0
};

void close_fds(const std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
}

// Closes a descriptor at scope exit unless released.
struct OwnedFd {
  int fd = -1;
  explicit OwnedFd(int f) : fd(f) {}
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int release() { return std::exchange(fd, -1); }
};

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// sendmsg of `size` bytes with `fds` attached. Returns 0 or the errno (EPIPE: the peer is
// gone; no SIGPIPE).
int send_with_fds(int sock, const void* data, std::size_t size, const int* fds, std::size_t n) {
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdsPerChunk)];
  if (n > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  for (;;) {
    if (::sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

// recvmsg of one message of at most `size` bytes; the attached descriptors (close-on-exec)
// are appended to `fds`. Returns the byte count (0: the peer closed), or -errno; -EMSGSIZE
// if the message or its descriptors did not fit (the descriptors that came are closed).
ssize_t receive_with_fds(int sock, void* data, std::size_t size, std::vector<int>& fds) {
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdsPerChunk)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  std::vector<int> got;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const std::size_t first = got.size();
    got.resize(first + count);
    std::memcpy(got.data() + first, CMSG_DATA(c), count * sizeof(int));
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    close_fds(got);
    return -EMSGSIZE;
  }
  fds.insert(fds.end(), got.begin(), got.end());
  return n;
}

// -----------------------------------------------------------------------------
// The server
// -----------------------------------------------------------------------------

struct Request {
  int payload = -1;
  int status = -1;
  std::vector<std::pair<int, int>> inherited;  // (descriptor here, its number in the child)

  void close_all() {
    if (payload >= 0) ::close(payload);
    if (status >= 0) ::close(status);
    for (auto& [fd, target] : inherited) ::close(fd);
    payload = status = -1;
    inherited.clear();
  }
};

struct ServedChild {
  pid_t pid;
  int pidfd;
  int status_fd;
};

[[noreturn]] void server_failure(const char* what) {
  std::fprintf(stderr, "mp: forkserver: %s: %s\n", what, std::strerror(errno));
  ::_exit(1);
}

// Reads one whole request. False when the client has gone (end of connection) or sent what
// no client of ours sends: either way the server's work is over.
bool receive_request(int sock, Request& request) {
  bool first = true;
  for (;;) {
    RequestChunk chunk;
    std::vector<int> fds;
    const ssize_t n = receive_with_fds(sock, &chunk, sizeof chunk, fds);
    const bool well_formed = n >= static_cast<ssize_t>(kChunkHeader) && chunk.magic == kMagic &&
                             chunk.count <= kFdsPerChunk &&
                             static_cast<std::size_t>(n) == kChunkHeader + chunk.count * 4 &&
                             fds.size() == chunk.count && (!first || chunk.count >= 2);
    if (!well_formed) {
      close_fds(fds);
      request.close_all();
      return false;
    }
    std::size_t i = 0;
    if (first) {
      request.payload = fds[0];
      request.status = fds[1];
      i = 2;
      first = false;
    }
    for (; i < fds.size(); ++i) {
      if (chunk.targets[i] < 0) {
        close_fds(std::vector<int>(fds.begin() + static_cast<std::ptrdiff_t>(i), fds.end()));
        request.close_all();
        return false;
      }
      request.inherited.emplace_back(fds[i], chunk.targets[i]);
    }
    if (chunk.last != 0) return true;
  }
}

void close_range_of(unsigned first, unsigned last) {
  if (first <= last) ::syscall(SYS_close_range, first, last, 0);
}

// In the forked child: the descriptors of the request under their numbers in the client,
// nothing else open, then the payload's target.
[[noreturn]] void become_requested_child(Request& request) {
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGPIPE, SIG_DFL);
  const std::string payload = read_payload_fd(request.payload);
  // First every descriptor to a number above all of them and all targets, so that putting
  // one in place never overwrites another one still to be placed.
  int high = 3;
  for (auto [fd, target] : request.inherited) high = std::max({high, fd + 1, target + 1});
  std::vector<std::pair<int, int>> moved;
  for (auto [fd, target] : request.inherited) {
    int h = ::fcntl(fd, F_DUPFD, high);
    if (h < 0) server_failure("fcntl(F_DUPFD) in a new child");
    moved.emplace_back(h, target);
  }
  std::sort(moved.begin(), moved.end());
  unsigned next = 0;
  for (auto [h, target] : moved) {
    if (h > 0) close_range_of(next, static_cast<unsigned>(h) - 1);
    next = static_cast<unsigned>(h) + 1;
  }
  close_range_of(next, ~0U);
  for (auto [h, target] : moved) {
    if (::dup2(h, target) < 0) server_failure("dup2 in a new child");
    ::close(h);
  }
  run_payload(payload);
}

// Forks the child a request asks for and answers the client. False if the client is gone.
bool serve(int sock, Request& request, std::vector<ServedChild>& children) {
  MP_HOOK("process.forkserver.fork");
  const pid_t pid = ::fork();
  if (pid == 0) become_requested_child(request);
  Reply reply{0, 0};
  int pidfd = -1;
  if (pid < 0) {
    reply.error = errno;
  } else if (pidfd = pidfd_open(pid); pidfd < 0) {
    reply.error = errno;
    ::kill(pid, SIGKILL);  // a child nobody can watch must not run
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  } else {
    reply.pid = pid;
  }
  const int err = send_with_fds(sock, &reply, sizeof reply, &pidfd, reply.pid > 0 ? 1 : 0);
  if (reply.pid > 0) {
    children.push_back(ServedChild{pid, pidfd, request.status});
    request.status = -1;
  }
  request.close_all();
  return err == 0;
}

// Reports the exit of every child that has exited.
void reap_served(std::vector<ServedChild>& children, const std::vector<pollfd>& polled) {
  for (std::size_t i = children.size(); i-- > 0;) {
    if ((polled[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(children[i].pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) continue;
    if (r < 0) status = 255 << 8;  // lost (cannot happen: only the server reaps)
    // Best effort: a reader that has closed its end (EPIPE, SIGPIPE ignored) wants nothing.
    while (::write(children[i].status_fd, &status, sizeof status) < 0 && errno == EINTR) {
    }
    ::close(children[i].status_fd);
    ::close(children[i].pidfd);
    children.erase(children.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

}  // namespace

void run_forkserver(int sock) {
  // A Ctrl-C meant for the program's process group is not for the server, which ends with
  // its client; a status pipe whose reader has gone must not kill it.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<ServedChild> children;
  std::vector<pollfd> polled;
  for (;;) {
    polled.assign(1, pollfd{sock, POLLIN, 0});
    for (const ServedChild& c : children) polled.push_back(pollfd{c.pidfd, POLLIN, 0});
    if (::poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      server_failure("poll");
    }
    reap_served(children, polled);
    if ((polled[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      Request request;
      if (!receive_request(sock, request) || !serve(sock, request, children)) break;
    }
  }
  // The client has gone. Its children, now ours, go on running, as in Python.
  ::_exit(0);
}

// -----------------------------------------------------------------------------
// The client
// -----------------------------------------------------------------------------

namespace {

// This process's connection to its server. Lives in static storage, rebuilt in a forked
// child (the atfork handler): the copy of the socket there belongs to the parent's server,
// and the mutex may have been held by a thread that did not survive the fork.
struct Client {
  std::mutex mutex;
  int sock = -1;
  pid_t server = 0;
  int server_pidfd = -1;
};
alignas(Client) unsigned char g_client_storage[sizeof(Client)];
Client* g_client = nullptr;
std::once_flag g_client_once;

void forget_parents_server() {
  if (g_client == nullptr) return;
  if (g_client->sock >= 0) ::close(g_client->sock);
  if (g_client->server_pidfd >= 0) ::close(g_client->server_pidfd);
  g_client = new (g_client_storage) Client;
}

Client& client() {
  std::call_once(g_client_once, [] {
    g_client = new (g_client_storage) Client;
    ::pthread_atfork(nullptr, nullptr, forget_parents_server);
  });
  return *g_client;
}

// Makes sure the server is gone and reaped. The caller holds c.mutex.
void retire_server(Client& c) {
  if (c.sock >= 0) ::close(c.sock);
  if (c.server_pidfd >= 0) {
    ::syscall(SYS_pidfd_send_signal, c.server_pidfd, SIGKILL, nullptr, 0);
    ::close(c.server_pidfd);
  }
  if (c.server > 0) {
    while (::waitpid(c.server, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  c.sock = -1;
  c.server_pidfd = -1;
  c.server = 0;
}

// A live server, started if there is none or the last one died. The caller holds c.mutex.
void ensure_server_locked(Client& c) {
  if (c.sock >= 0) {
    pollfd p{c.server_pidfd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) retire_server(c);  // it died since the last start
  }
  if (c.sock >= 0) return;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  OwnedFd ours(sv[0]);
  OwnedFd theirs(sv[1]);
  const pid_t pid =
      spawn_self({sv[1]}, std::string(kForkserverVariable) + "=" + std::to_string(sv[1]));
  theirs.reset();
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw_errno("pidfd_open", err);
  }
  c.sock = ours.release();
  c.server = pid;
  c.server_pidfd = pidfd;
}

// Sends one request. Returns 0 or the errno of the failed sendmsg.
int send_request(int sock, int payload, int status, const std::vector<int>& inherited) {
  std::vector<int> fds{payload, status};
  std::vector<std::int32_t> targets{kNoTarget, kNoTarget};
  for (int fd : inherited) {
    fds.push_back(fd);
    targets.push_back(fd);
  }
  for (std::size_t at = 0; at < fds.size(); at += kFdsPerChunk) {
    RequestChunk chunk;
    chunk.magic = kMagic;
    chunk.count = static_cast<std::uint32_t>(std::min(kFdsPerChunk, fds.size() - at));
    chunk.last = at + chunk.count == fds.size() ? 1 : 0;
    std::copy_n(targets.begin() + static_cast<std::ptrdiff_t>(at), chunk.count, chunk.targets);
    if (int err = send_with_fds(sock, &chunk, kChunkHeader + chunk.count * 4, fds.data() + at,
                                chunk.count);
        err != 0)
      return err;
  }
  return 0;
}

}  // namespace

void start_forkserver(ProcessState& s) {
  std::vector<int> inherited;
  const std::string bytes = make_spawn_payload(s, inherited);
  // The child writes where this process writes now, as a forked or spawned child would,
  // not where the server's standard streams went when it started.
  for (int fd : {0, 1, 2})
    if (::fcntl(fd, F_GETFD) >= 0) inherited.push_back(fd);
  std::sort(inherited.begin(), inherited.end());
  inherited.erase(std::unique(inherited.begin(), inherited.end()), inherited.end());

  OwnedFd payload(write_payload_fd(bytes, "mp-forkserver"));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  OwnedFd status_reader(pipe_fds[0]);
  OwnedFd status_writer(pipe_fds[1]);

  std::fflush(nullptr);
  MP_HOOK("process.forkserver.before");
  Reply reply{0, 0};
  std::vector<int> got;
  {
    Client& c = client();
    std::lock_guard lock(c.mutex);
    int err = 0;
    for (int attempt = 0; attempt < 2; ++attempt) {
      ensure_server_locked(c);
      err = send_request(c.sock, payload.fd, status_writer.fd, inherited);
      if (err == 0) break;
      // The server died before it had the whole request, so it forked nothing: a new one
      // can take it.
      retire_server(c);
    }
    if (err != 0) throw_errno("sendmsg (to the forkserver)", err);
    MP_HOOK("process.forkserver.sent");
    const ssize_t n = receive_with_fds(c.sock, &reply, sizeof reply, got);
    if (n != static_cast<ssize_t>(sizeof reply) || got.size() != (reply.pid > 0 ? 1U : 0U)) {
      close_fds(got);
      retire_server(c);
      if (n < 0 && n != -ECONNRESET && n != -EMSGSIZE)
        throw_errno("recvmsg (from the forkserver)", static_cast<int>(-n));
      throw ProcessError("mp: the forkserver died while it was starting process '" + s.name +
                         "': the child may or may not have been forked; the next forkserver "
                         "start restarts the server");
    }
  }
  if (reply.pid <= 0) throw_errno("fork (in the forkserver)", reply.error);
  s.pid = reply.pid;
  s.pidfd = got[0];
  s.sentinel = status_reader.release();
}

bool reap_forkserver_child(ProcessState& s, int options) {
  const bool block = (options & WNOHANG) == 0;
  if (!s.status_lost) {
    if (!block) {
      pollfd p{s.sentinel, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return false;
    }
    int status = 0;
    ssize_t n;
    do {
      n = ::read(s.sentinel, &status, sizeof status);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof status)) {
      s.record_exit(s.pid, status);
      return true;
    }
    // End of file: the server died before it could report the child. From now on the
    // sentinel, under the same number, is the child's pidfd, readable when it exits.
    if (::dup3(s.pidfd, s.sentinel, O_CLOEXEC) < 0) throw_errno("dup3");
    s.status_lost = true;
  }
  pollfd p{s.pidfd, POLLIN, 0};
  if (poll_fds(&p, 1, block ? -1.0 : 0.0) <= 0) return false;
  s.record_exit(-1, 0);  // exited, status unknown: 255
  return true;
}

}  // namespace mp::detail

namespace mp {

void ensure_forkserver_running() {
  if (!detail::initialized())
    throw ProcessError(
        "mp: cannot start the forkserver: main did not call mp::init(argc, argv) first. The "
        "server is a fresh image of the program and mp::init is where it takes up its work; "
        "make `mp::init(argc, argv);` the first line of main");
  auto& c = detail::client();
  std::lock_guard lock(c.mutex);
  detail::ensure_server_locked(c);
}

namespace detail {
pid_t forkserver_pid_for_testing() {
  auto& c = client();
  std::lock_guard lock(c.mutex);
  return c.server;
}
}  // namespace detail

}  // namespace mp
