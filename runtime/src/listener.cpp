// Listener and Client: sockets made into Connections, behind the authkey challenge.
//
// The challenge is Python's (multiprocessing.connection, ≥ 3.12): the challenger sends
// "#CHALLENGE#" + "{sha256}" + 40 random bytes, the other side answers "{sha256}" +
// HMAC-SHA256(key, everything after "#CHALLENGE#"), and the challenger replies "#WELCOME#"
// or "#FAILURE#". Until it is over every read is detail::recv_bounded: at most 256 bytes
// each, nothing read ahead, so the first message after it is read by the ordinary path.
#include "mp/listener.h"
#include "mp/detail/futex.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "challenge.h"
#include "mp/errors.h"
#include "mp/hook.h"
#include "mp/process.h"
#include "spawn_internal.h"

namespace mp {
namespace detail {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw ProcessError("mp: RAND_bytes: the random source failed");
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  static const unsigned char kEmpty = 0;  // OpenSSL wants a pointer even for an empty key
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const void* key_data = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr)
    throw ProcessError("mp: HMAC-SHA256 failed");
  return std::string(reinterpret_cast<char*>(digest), length);
}

bool digests_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace detail

namespace {

using detail::hmac_sha256;
using detail::kChallenge;
using detail::kChallengeBytes;
using detail::kDigestTag;
using detail::kFailure;
using detail::kMaxHandshakeMessage;
using detail::kWelcome;
using detail::random_bytes;

constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

using Family = Address::Family;

using Clock = std::chrono::steady_clock;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// One handshake message, bounded; failures of the peer become AuthenticationError (a
// timeout stays mp::TimeoutError, for the caller to say whose time ran out).
std::string recv_handshake(Connection& conn, Clock::time_point deadline, const char* step) {
  try {
    return detail::recv_bounded(conn, kMaxHandshakeMessage, detail::seconds_until(deadline));
  } catch (const BufferTooShort& e) {
    throw AuthenticationError(std::string("mp: authentication failed: ") + step + ": " + e.what());
  } catch (const EOFError&) {
    throw AuthenticationError(
        std::string("mp: authentication failed: ") + step + ": the peer closed the connection",
        /*peer_closed=*/true);
  }
}

void deliver(Connection& conn, std::string_view key, Clock::time_point deadline) {
  std::string message = std::string(kDigestTag) + random_bytes(kChallengeBytes);
  conn.send_bytes(std::string(kChallenge) + message);
  std::string response = recv_handshake(conn, deadline, "waiting for the answer to our challenge");
  std::string expected = std::string(kDigestTag) + hmac_sha256(key, message);
  if (detail::digests_equal(response, expected)) {
    conn.send_bytes(kWelcome);
    return;
  }
  try {
    conn.send_bytes(kFailure);
  } catch (const std::exception&) {  // the peer may be gone already; it failed either way
  }
  throw AuthenticationError("mp: authentication failed: the digest received was wrong");
}

void answer(Connection& conn, std::string_view key, Clock::time_point deadline) {
  std::string message = recv_handshake(conn, deadline, "waiting for the peer's challenge");
  if (!starts_with(message, kChallenge))
    throw AuthenticationError("mp: authentication failed: the peer sent no challenge");
  std::string_view body = std::string_view(message).substr(kChallenge.size());
  if (!starts_with(body, kDigestTag))
    throw AuthenticationError(
        "mp: authentication failed: the peer's challenge asks for a digest other than sha256");
  conn.send_bytes(std::string(kDigestTag) + hmac_sha256(key, body));
  std::string verdict = recv_handshake(conn, deadline, "waiting for the peer's verdict");
  if (verdict != kWelcome)
    throw AuthenticationError("mp: authentication failed: the peer refused our digest");
}

// A socket address to bind or connect.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

SocketAddress unix_socket_address(const Address& address) {
  SocketAddress out;
  auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
  un->sun_family = AF_UNIX;
  const std::string& name = address.name();
  if (address.family() == Address::Family::kAbstract) {
    un->sun_path[0] = '\0';
    std::memcpy(un->sun_path + 1, name.data(), name.size());
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  } else {
    std::memcpy(un->sun_path, name.data(), name.size());
    un->sun_path[name.size()] = '\0';
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
  }
  return out;
}

// Every address `address` stands for: one for Unix sockets, those getaddrinfo gives for TCP.
std::vector<SocketAddress> resolve(const Address& address, bool passive) {
  if (address.family() != Address::Family::kTcp) return {unix_socket_address(address)};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* list = nullptr;
  std::string port = std::to_string(address.port());
  int err = ::getaddrinfo(address.name().c_str(), port.c_str(), &hints, &list);
  if (err != 0) {
    throw std::system_error(err == EAI_SYSTEM ? errno : EHOSTUNREACH, std::generic_category(),
                            "getaddrinfo: " + address.name() + ": " + ::gai_strerror(err));
  }
  std::vector<SocketAddress> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    SocketAddress a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  ::freeaddrinfo(list);
  if (out.empty())
    throw std::system_error(EHOSTUNREACH, std::generic_category(),
                            "getaddrinfo: " + address.name() + ": no address");
  return out;
}

// Closes a descriptor on scope exit unless released.
struct OwnedFd {
  int fd;
  explicit OwnedFd(int fd) : fd(fd) {}
  ~OwnedFd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

void set_nonblocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) < 0)
    detail::throw_errno("fcntl");
}

void set_no_delay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    detail::throw_errno("setsockopt(TCP_NODELAY)");
}

std::string numeric_host(const sockaddr* sa, socklen_t length, std::uint16_t* port) {
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  int err = ::getnameinfo(sa, length, host, sizeof host, service, sizeof service,
                          NI_NUMERICHOST | NI_NUMERICSERV);
  if (err != 0)
    throw std::system_error(EINVAL, std::generic_category(),
                            std::string("getnameinfo: ") + ::gai_strerror(err));
  *port = static_cast<std::uint16_t>(std::stoi(service));
  return host;
}

// Connects `fd` (of `family`) to `to` before `deadline`.
void connect_before(int fd, const SocketAddress& to, Clock::time_point deadline) {
  if (to.family() == AF_UNIX) {
    // A Unix connect waits in the kernel while the backlog is full, for SO_SNDTIMEO.
    for (;;) {
      double left = detail::seconds_until(deadline);
      if (left >= 0) {
        if (left == 0) throw TimeoutError("mp::Client: connecting took too long");
        auto us = static_cast<long>(left * 1e6);
        timeval tv{us / 1000000, std::max(1L, us % 1000000)};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      }
      int r = ::connect(fd, to.get(), to.length);
      int err = errno;
      if (left >= 0) {
        timeval none{0, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
      }
      if (r == 0 || err == EISCONN) return;
      if (err == EINTR) continue;
      if (err == EAGAIN) throw TimeoutError("mp::Client: connecting took too long");
      detail::throw_errno("connect", err);
    }
  }
  set_nonblocking(fd, true);
  if (::connect(fd, to.get(), to.length) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) detail::throw_errno("connect");
    pollfd p{fd, POLLOUT, 0};
    if (detail::poll_fds(&p, 1, detail::seconds_until(deadline)) == 0)
      throw TimeoutError("mp::Client: connecting took too long");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      detail::throw_errno("getsockopt(SO_ERROR)");
    if (err != 0) detail::throw_errno("connect", err);
  }
  set_nonblocking(fd, false);
}

}  // namespace

// -----------------------------------------------------------------------------
// Address
// -----------------------------------------------------------------------------

Address::Address(std::string unix_address) {
  if (unix_address.empty()) throw std::invalid_argument("mp::Address: empty address");
  if (unix_address[0] == '\0' || unix_address[0] == '@') {
    family_ = Family::kAbstract;
    name_ = unix_address.substr(1);
    if (name_.empty()) throw std::invalid_argument("mp::Address: empty abstract name");
    if (name_.size() > kMaxUnixPath - 1)
      throw std::invalid_argument("mp::Address: abstract name longer than 106 bytes");
  } else {
    family_ = Family::kUnix;
    name_ = std::move(unix_address);
    if (name_.size() > kMaxUnixPath)
      throw std::invalid_argument("mp::Address: Unix socket path longer than 107 bytes: " + name_);
    if (name_.find('\0') != std::string::npos)
      throw std::invalid_argument("mp::Address: Unix socket path with a NUL byte");
  }
}

Address::Address(const char* unix_address) : Address(std::string(unix_address)) {}

Address::Address(std::string host, std::uint16_t port)
    : family_(Family::kTcp), name_(std::move(host)), port_(port) {
  if (name_.empty()) throw std::invalid_argument("mp::Address: empty host");
}

Address Address::arbitrary() {
  static const char kHex[] = "0123456789abcdef";
  std::string suffix;
  for (unsigned char c : random_bytes(8)) {
    suffix += kHex[c >> 4];
    suffix += kHex[c & 15];
  }
  return Address(Family::kAbstract, "mp-" + std::to_string(::getpid()) + "-" + suffix, 0);
}

std::string Address::to_string() const {
  switch (family_) {
    case Family::kUnix:
      return name_;
    case Family::kAbstract:
      return "@" + name_;
    case Family::kTcp:
      if (name_.find(':') != std::string::npos) return "[" + name_ + "]:" + std::to_string(port_);
      return name_ + ":" + std::to_string(port_);
  }
  return name_;
}

// -----------------------------------------------------------------------------
// Listener
// -----------------------------------------------------------------------------

Listener::Listener(Address address, int backlog)
    : Listener(std::move(address), backlog, mp::authkey()) {}

Listener::Listener(Address address, int backlog, std::optional<std::string> authkey)
    : address_(std::move(address)), authkey_(std::move(authkey)), creator_(::getpid()) {
  if (backlog < 0) throw std::invalid_argument("mp::Listener: negative backlog");
  std::vector<SocketAddress> candidates = resolve(address_, /*passive=*/true);
  const SocketAddress& at = candidates.front();
  OwnedFd fd(::socket(at.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.fd < 0) detail::throw_errno("socket");
  if (at.family() != AF_UNIX) {
    int one = 1;  // as Python: a restarted server can bind at once; a live listener still wins
    if (::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
      detail::throw_errno("setsockopt(SO_REUSEADDR)");
  }
  if (::bind(fd.fd, at.get(), at.length) != 0) detail::throw_errno("bind");
  if (address_.family() == Family::kUnix) {
    struct stat st {};
    if (::lstat(address_.name().c_str(), &st) == 0) {
      owns_file_ = true;
      file_inode_ = st.st_ino;
    }
  }
  if (::listen(fd.fd, backlog) != 0) {
    int err = errno;
    if (owns_file_) ::unlink(address_.name().c_str());
    detail::throw_errno("listen", err);
  }
  if (address_.family() == Family::kTcp) {
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0)
      detail::throw_errno("getsockname");
    std::uint16_t port = 0;
    std::string host = numeric_host(reinterpret_cast<sockaddr*>(&bound), length, &port);
    address_ = Address(std::move(host), port);
  }
  fd_.store(fd.release());
}

Listener::Listener(Listener&& other) noexcept
    : address_(std::move(other.address_)),
      authkey_(std::move(other.authkey_)),
      last_accepted_(std::move(other.last_accepted_)),
      fd_(other.fd_.exchange(-1)),
      closing_(other.closing_.load()),
      creator_(other.creator_),
      owns_file_(std::exchange(other.owns_file_, false)),
      file_inode_(other.file_inode_),
      handshake_timeout_(other.handshake_timeout_) {}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    release();
    address_ = std::move(other.address_);
    authkey_ = std::move(other.authkey_);
    last_accepted_ = std::move(other.last_accepted_);
    fd_.store(other.fd_.exchange(-1));
    closing_.store(other.closing_.load());
    creator_ = other.creator_;
    owns_file_ = std::exchange(other.owns_file_, false);
    file_inode_ = other.file_inode_;
    handshake_timeout_ = other.handshake_timeout_;
  }
  return *this;
}

Listener::~Listener() { release(); }

void Listener::close() { release(); }

void Listener::release() noexcept {
  closing_.store(true);
  int fd = fd_.exchange(-1);
  if (fd < 0) return;
  ::shutdown(fd, SHUT_RDWR);  // wakes an accept() blocked in another thread
  ::close(fd);
  // Only the creator removes the file, and only if it is still ours (not replaced since).
  if (owns_file_ && creator_ == ::getpid()) {
    struct stat st {};
    if (::lstat(address_.name().c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_ino == file_inode_)
      ::unlink(address_.name().c_str());
  }
  owns_file_ = false;
}

bool Listener::closed() const noexcept { return fd_.load() < 0; }

int Listener::fileno() const {
  int fd = fd_.load();
  if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "mp::Listener: closed");
  return fd;
}

Connection Listener::accept(double timeout) {
  const auto wait_deadline = detail::steady_deadline(timeout);
  sockaddr_storage peer{};
  socklen_t peer_length = 0;
  int fd = -1;
  for (;;) {
    int listening = fd_.load();
    if (listening < 0 || closing_.load())
      throw std::system_error(EBADF, std::generic_category(), "mp::Listener::accept: closed");
    pollfd p{listening, POLLIN, 0};
    if (detail::poll_fds(&p, 1, detail::seconds_until(wait_deadline)) == 0)
      throw TimeoutError("mp::Listener::accept: no peer connected in time");
    if (closing_.load())
      throw std::system_error(EBADF, std::generic_category(), "mp::Listener::accept: closed");
    peer_length = sizeof peer;
    fd = ::accept4(listening, reinterpret_cast<sockaddr*>(&peer), &peer_length, SOCK_CLOEXEC);
    if (fd >= 0) break;
    // Another process or thread took the peer, a signal, or the peer left already.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
      continue;
    if (closing_.load())
      throw std::system_error(EBADF, std::generic_category(), "mp::Listener::accept: closed");
    detail::throw_errno("accept4");
  }
  OwnedFd owned(fd);
  if (peer.ss_family != AF_UNIX) set_no_delay(fd);
  Connection conn = detail::adopt_socket(owned.release());
  MP_HOOK("listener.accept.connected");
  if (authkey_) {
    const auto deadline = detail::steady_deadline(handshake_timeout_);
    try {
      deliver(conn, *authkey_, deadline);
      answer(conn, *authkey_, deadline);
    } catch (const AuthenticationError&) {
      conn.close();
      throw;
    } catch (const TimeoutError&) {
      conn.close();
      throw AuthenticationError(
          "mp: authentication failed: the peer did not complete the challenge in time");
    } catch (const EOFError&) {
      conn.close();
      throw AuthenticationError(
          "mp: authentication failed: the peer closed the connection during the challenge",
          /*peer_closed=*/true);
    }
  }
  if (peer.ss_family == AF_UNIX) {
    auto* un = reinterpret_cast<sockaddr_un*>(&peer);
    std::size_t n = peer_length > offsetof(sockaddr_un, sun_path)
                        ? peer_length - offsetof(sockaddr_un, sun_path)
                        : 0;
    if (n == 0) {
      last_accepted_ = Address(Family::kUnix, "", 0);
    } else if (un->sun_path[0] == '\0') {
      last_accepted_ = Address(Family::kAbstract, std::string(un->sun_path + 1, n - 1), 0);
    } else {
      last_accepted_ =
          Address(Family::kUnix, std::string(un->sun_path, strnlen(un->sun_path, n)), 0);
    }
  } else {
    std::uint16_t port = 0;
    std::string host = numeric_host(reinterpret_cast<sockaddr*>(&peer), peer_length, &port);
    last_accepted_ = Address(std::move(host), port);
  }
  return conn;
}

// -----------------------------------------------------------------------------
// Client and the challenge
// -----------------------------------------------------------------------------

Connection Client(const Address& address) { return Client(address, mp::authkey(), -1); }

Connection Client(const Address& address, std::optional<std::string> authkey, double timeout) {
  const auto deadline = detail::steady_deadline(timeout);
  std::vector<SocketAddress> candidates = resolve(address, /*passive=*/false);
  std::optional<std::system_error> last_error;
  for (const SocketAddress& to : candidates) {
    OwnedFd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.fd < 0) detail::throw_errno("socket");
    try {
      connect_before(fd.fd, to, deadline);
    } catch (const std::system_error& e) {
      last_error = e;  // try the host's next address
      continue;
    }
    if (to.family() != AF_UNIX) set_no_delay(fd.fd);
    Connection conn = detail::adopt_socket(fd.release());
    if (authkey) {
      try {
        answer(conn, *authkey, deadline);
        deliver(conn, *authkey, deadline);
      } catch (const EOFError&) {
        throw AuthenticationError(
            "mp: authentication failed: the listener closed the connection during the "
            "challenge",
            /*peer_closed=*/true);
      }
    }
    return conn;
  }
  throw *last_error;
}

void deliver_challenge(Connection& conn, std::string_view authkey, double timeout) {
  deliver(conn, authkey, detail::steady_deadline(timeout));
}

void answer_challenge(Connection& conn, std::string_view authkey, double timeout) {
  answer(conn, authkey, detail::steady_deadline(timeout));
}

}  // namespace mp
