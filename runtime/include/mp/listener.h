// mp/listener.h — connections between processes that did not start each other.
//
//   mp::Address            where to listen or connect: a Unix socket path, a Linux abstract
//                          name, or a TCP host and port
//   mp::Listener           a listening socket; accept() gives an authenticated Connection
//   mp::Client(address)    connects to a Listener and authenticates; gives a Connection
//   mp::kNoAuthentication  an authkey argument that turns the challenge off
//   mp::deliver_challenge, mp::answer_challenge
//                          the two halves of the handshake, for a server of one's own
//
// As Python's multiprocessing.connection: a Listener and a Client that share an authkey
// prove it to each other before either sees a message. Each side sends a fresh random
// challenge (b"#CHALLENGE#{sha256}" and 40 bytes from the OS's random source) and checks
// the HMAC-SHA256 of it under the key (OpenSSL, compared in constant time), the Listener's
// challenge first. The messages are those of Python ≥ 3.12's challenge; the frames around
// them are this library's (mp/connection.h), so Python's own Client cannot connect.
// Until both sides are authenticated no message longer than 256 bytes is read, nothing is
// allocated for a longer length prefix, and no descriptor is accepted: an unauthenticated
// peer is never served.
//
// Connections from here are mp::Connections over the socket (send/recv, send_bytes,
// recv_bytes, poll, mp::wait, and on Unix sockets send_fds/recv_fds). They are independent
// of the Listener: closing the Listener does not close them.
//
//   // server                                   // another process
//   mp::Listener listener("/tmp/app.sock");      mp::Connection c = mp::Client("/tmp/app.sock");
//   mp::Connection c = listener.accept();        c.send(std::string("hello"));
//   auto text = c.recv<std::string>();
//
// The key defaults to mp::authkey() (mp/process.h), which every child of the main program
// inherits: parent, children and grandchildren authenticate to each other with no setup,
// and any other process needs the key to be told. Not every socket gets the same
// protection: a filesystem path is guarded by its permissions too, an abstract name and a
// TCP port only by the key — with kNoAuthentication anyone on the host (or the network)
// who finds them is served.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mp/connection.h"

namespace mp {

// -----------------------------------------------------------------------------
// Address
// -----------------------------------------------------------------------------
//
// A value: where a Listener listens and a Client connects.
//   mp::Address("/run/app.sock")         a Unix socket at a filesystem path
//   mp::Address(std::string("\0app", 4)) a Linux abstract Unix name "app", as Python spells it
//   mp::Address("@app")                  the same abstract name, as ss(8) shows it (a path
//                                        that starts with '@' is written "./@app")
//   mp::Address("127.0.0.1", 0)          TCP; port 0 lets the system pick one when listening
// Host names are resolved when the address is used (getaddrinfo); IPv4 and IPv6 work.
class Address {
 public:
  enum class Family { kUnix, kAbstract, kTcp };

  // A Unix socket address, as above. Errors: std::invalid_argument if empty or longer than
  // a Unix socket address can be (107 bytes for a path, 106 for an abstract name).
  Address(std::string unix_address);  // NOLINT: implicit, like Python's str addresses
  Address(const char* unix_address);  // NOLINT
  Address(std::string_view unix_address) : Address(std::string(unix_address)) {}  // NOLINT
  // A TCP address. Errors: std::invalid_argument if `host` is empty.
  Address(std::string host, std::uint16_t port);

  // An abstract Unix name no other Listener uses: "mp-<pid>-<random>". What Listener()
  // listens on by default (Python picks a temporary file; an abstract name leaves none).
  static Address arbitrary();

  [[nodiscard]] Family family() const noexcept { return family_; }
  // The path (kUnix), the name without its leading '\0' or '@' (kAbstract), or the host.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // The TCP port (0 for Unix addresses).
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  // "/run/app.sock", "@app", "127.0.0.1:5000" or "[::1]:5000". An unnamed Unix peer (what
  // a Client's socket is, seen from the Listener) prints as "".
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;

 private:
  friend class Listener;
  Address(Family family, std::string name, std::uint16_t port)
      : family_(family), name_(std::move(name)), port_(port) {}

  Family family_ = Family::kUnix;
  std::string name_;
  std::uint16_t port_ = 0;
};

// The authkey argument of a Listener or Client that disables the challenge. Both ends must
// agree: a side that expects a challenge fails against one that sends none.
inline constexpr std::nullopt_t kNoAuthentication = std::nullopt;

// -----------------------------------------------------------------------------
// Listener
// -----------------------------------------------------------------------------
//
// A bound, listening socket. Movable, not copyable. accept() is for one thread at a time;
// close() may be called from any thread and wakes an accept() blocked in another.
// A forked child inherits the socket and may accept on it too, as in Python; only the
// process that created a Listener removes its socket file.
class Listener {
 public:
  // How long accept() gives a connected peer to complete the challenge, by default.
  static constexpr double kDefaultHandshakeTimeout = 5.0;

  // Binds `address` and listens, with room for `backlog` connections not yet accepted.
  // Connections are authenticated with mp::authkey().
  // Errors: std::system_error naming the call — bind (EADDRINUSE: the address is in use,
  // also a Unix socket file that already exists), socket, listen, getaddrinfo (EHOSTUNREACH
  // when the host does not resolve); std::invalid_argument if backlog < 0.
  explicit Listener(Address address = Address::arbitrary(), int backlog = 1);
  // As above, with `authkey` (any bytes, the empty key included) or kNoAuthentication.
  Listener(Address address, int backlog, std::optional<std::string> authkey);

  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  // Closes, as close().
  ~Listener();

  // Blocks until a peer connects and passes the challenge (if any), and returns the
  // connection to it; waits up to `timeout` seconds for the peer to connect (negative: no
  // limit), then up to handshake_timeout() for the challenge. Survives EINTR.
  // Errors: mp::TimeoutError if no peer connected in time; mp::AuthenticationError if the
  // peer failed the challenge — a wrong key, a message that is not the protocol's, too long
  // (more than 256 bytes) or too late — its connection is then closed, nothing it sent is
  // delivered, and the Listener stays open: accept again to serve the next peer;
  // std::system_error(EBADF) if the Listener is closed (before or during the call);
  // std::system_error naming the call for other OS failures (accept4, ...).
  Connection accept(double timeout = -1);

  // Stops listening and removes the socket file this Listener created (if it is still the
  // same file). Accepted connections stay open. Closing twice is harmless.
  void close();

  [[nodiscard]] bool closed() const noexcept;
  // Where it listens: with the port the system picked for TCP port 0, and the numeric host.
  [[nodiscard]] const Address& address() const noexcept { return address_; }
  // The peer of the last connection accept() returned (nullopt before the first): host and
  // port for TCP, usually an unnamed Unix address ("") for Unix sockets.
  [[nodiscard]] const std::optional<Address>& last_accepted() const noexcept {
    return last_accepted_;
  }
  // The listening descriptor (readable when a peer is waiting: poll, mp::wait).
  // Errors: std::system_error(EBADF) if closed.
  [[nodiscard]] int fileno() const;

  [[nodiscard]] double handshake_timeout() const noexcept { return handshake_timeout_; }
  // Negative: no limit (a peer that connects and says nothing then blocks accept).
  void set_handshake_timeout(double seconds) noexcept { handshake_timeout_ = seconds; }

 private:
  void release() noexcept;

  Address address_;
  std::optional<std::string> authkey_;
  std::optional<Address> last_accepted_;
  std::atomic<int> fd_{-1};
  std::atomic<bool> closing_{false};  // set by close(), seen by a concurrent accept()
  pid_t creator_ = 0;
  bool owns_file_ = false;
  unsigned long long file_inode_ = 0;
  double handshake_timeout_ = kDefaultHandshakeTimeout;
};

// -----------------------------------------------------------------------------
// Client
// -----------------------------------------------------------------------------

// Connects to the Listener at `address` and authenticates with mp::authkey() (answering
// the Listener's challenge, then challenging it). Blocks until done.
// Errors: mp::AuthenticationError if either side's key is refused (the other side sees it
// too), or the peer does not speak the protocol; std::system_error naming the call if the
// OS refuses — connect (ECONNREFUSED: nothing listens there; ENOENT: no such socket file),
// getaddrinfo (EHOSTUNREACH when the host does not resolve), socket.
Connection Client(const Address& address);
// As above, with `authkey` or kNoAuthentication, and `timeout` seconds (negative: no limit)
// for connecting and the challenge together: mp::TimeoutError when it expires.
Connection Client(const Address& address, std::optional<std::string> authkey, double timeout = -1);

// -----------------------------------------------------------------------------
// The challenge
// -----------------------------------------------------------------------------
//
// The halves of the handshake, for connections made some other way (Python's
// multiprocessing.connection.deliver_challenge / answer_challenge). The Listener side
// delivers then answers; the Client side answers then delivers. Each read is bounded as
// above and waits at most `timeout` seconds (negative: no limit).
// Precondition: nothing has been read from `conn` except by these functions.
// Errors: mp::AuthenticationError (the reason in what()); mp::EOFError if the peer closed;
// mp::TimeoutError; std::system_error as Connection's members.

// Sends a challenge and checks the peer's answer; tells the peer whether it passed.
void deliver_challenge(Connection& conn, std::string_view authkey, double timeout = -1);
// Answers the peer's challenge and learns whether it passed.
void answer_challenge(Connection& conn, std::string_view authkey, double timeout = -1);

}  // namespace mp
