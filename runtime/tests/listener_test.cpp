// mp::Listener and mp::Client: Unix paths, abstract names and TCP; the authkey challenge,
// peers that fail it or misbehave before it; the same across fork, spawn and thread.
#include "mp/listener.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "mp/errors.h"
#include "mp/process.h"
#include "start_modes.h"

namespace mp {
namespace {

using Clock = std::chrono::steady_clock;

std::string temp_socket_path(const std::string& tag) {
  return (std::filesystem::temp_directory_path() /
          ("mp-listener-test-" + std::to_string(::getpid()) + "-" + tag + ".sock"))
      .string();
}

// Accepts one peer and echoes its messages (objects as bytes) until an empty one.
void serve_echo_once(Listener& listener) {
  Connection c = listener.accept(10);
  for (std::string m = c.recv_bytes(); !m.empty(); m = c.recv_bytes()) c.send_bytes(m);
}

// A Client that sends objects and bytes and checks the echo.
void check_echo(const Address& address) {
  Connection c = Client(address);
  std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  c.send(m);
  EXPECT_EQ((c.recv<std::map<std::string, std::vector<int>>>()), m);
  c.send_bytes("raw bytes");
  EXPECT_EQ(c.recv_bytes(), "raw bytes");
  std::string big(1u << 20, 'q');
  c.send_bytes(big);
  EXPECT_EQ(c.recv_bytes(), big);
  c.send_bytes("");
}

TEST(Listener, UnixPathCarriesObjectsAndBytesBothWays) {
  std::string path = temp_socket_path("echo");
  Listener listener(path);
  EXPECT_EQ(listener.address().family(), Address::Family::kUnix);
  EXPECT_EQ(listener.address().to_string(), path);
  std::thread server([&] { serve_echo_once(listener); });
  check_echo(path);
  server.join();
  ASSERT_TRUE(listener.last_accepted().has_value());
  EXPECT_EQ(listener.last_accepted()->to_string(), "");  // an unnamed client socket
}

TEST(Listener, AbstractNameIsSpelledWithNulOrAt) {
  Address at("@mp-test-abstract-" + std::to_string(::getpid()));
  Address nul(std::string(1, '\0') + "mp-test-abstract-" + std::to_string(::getpid()));
  EXPECT_EQ(at, nul);
  EXPECT_EQ(at.family(), Address::Family::kAbstract);
  Listener listener(at);
  std::thread server([&] { serve_echo_once(listener); });
  check_echo(nul);
  server.join();
  // No file appears for an abstract name.
  EXPECT_FALSE(std::filesystem::exists("@mp-test-abstract-" + std::to_string(::getpid())));
}

TEST(Listener, DefaultAddressIsAFreshAbstractName) {
  Listener a;
  Listener b;
  EXPECT_EQ(a.address().family(), Address::Family::kAbstract);
  EXPECT_NE(a.address(), b.address());
  std::thread server([&] { serve_echo_once(a); });
  check_echo(a.address());
  server.join();
}

TEST(Listener, TcpPortZeroReportsThePickedPort) {
  Listener listener(Address("127.0.0.1", 0), 4);
  EXPECT_EQ(listener.address().family(), Address::Family::kTcp);
  EXPECT_EQ(listener.address().name(), "127.0.0.1");
  EXPECT_NE(listener.address().port(), 0);
  std::thread server([&] { serve_echo_once(listener); });
  check_echo(listener.address());
  server.join();
  ASSERT_TRUE(listener.last_accepted().has_value());
  EXPECT_EQ(listener.last_accepted()->name(), "127.0.0.1");
  EXPECT_NE(listener.last_accepted()->port(), 0);
  EXPECT_NE(listener.last_accepted()->port(), listener.address().port());
}

TEST(Listener, WrongKeyIsAnAuthenticationErrorOnBothSides) {
  for (bool wrong_on_client : {true, false}) {
    Listener listener(Address::arbitrary(), 1, wrong_on_client ? "right key" : "other key");
    bool server_refused = false;
    std::thread server([&] {
      try {
        (void)listener.accept(10);
      } catch (const AuthenticationError&) {
        server_refused = true;
      }
    });
    EXPECT_THROW((void)Client(listener.address(), std::string("not the right key")),
                 AuthenticationError);
    server.join();
    EXPECT_TRUE(server_refused);
  }
}

TEST(Listener, EmptyKeyIsAKeyAndMustMatch) {
  Listener listener(Address::arbitrary(), 1, std::string());
  std::thread server([&] { serve_echo_once(listener); });
  Connection c = Client(listener.address(), std::string(), 10);
  c.send_bytes("x");
  EXPECT_EQ(c.recv_bytes(), "x");
  c.send_bytes("");
  server.join();
}

TEST(Listener, NoAuthenticationWhenBothSidesSaySo) {
  Listener listener(Address::arbitrary(), 1, kNoAuthentication);
  std::thread server([&] { serve_echo_once(listener); });
  Connection c = Client(listener.address(), kNoAuthentication);
  c.send_bytes("plain");
  EXPECT_EQ(c.recv_bytes(), "plain");
  c.send_bytes("");
  server.join();
}

// A raw socket connected to `address`: a peer that does not follow the protocol.
int raw_connect(const Address& address) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path + 1, address.name().data(), address.name().size());
  socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + address.name().size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&un), len) != 0) ADD_FAILURE() << "connect";
  return fd;
}

// Reads what the listener sent first (its challenge frame), so that our garbage follows it.
void skip_challenge(int fd) {
  char buffer[512];
  ASSERT_GT(::read(fd, buffer, sizeof buffer), 0);
}

// A peer that reads the challenge, sends `bytes` and waits for the listener to hang up.
std::thread misbehaving_peer(const Address& address, std::string bytes) {
  return std::thread([address, bytes] {
    int fd = raw_connect(address);
    skip_challenge(fd);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    char byte;
    while (::read(fd, &byte, 1) > 0) {  // a "#FAILURE#" may come first
    }
    ::close(fd);
  });
}

TEST(Listener, PeerThatSendsAHugeLengthIsDroppedUnallocatedAndOthersAreServed) {
  Listener listener(Address::arbitrary(), 4);
  std::uint64_t huge = std::uint64_t{1} << 62;  // allocating this would throw bad_alloc
  std::thread bad = misbehaving_peer(listener.address(),
                                     std::string(reinterpret_cast<char*>(&huge), sizeof huge));
  try {
    (void)listener.accept(10);
    ADD_FAILURE() << "the peer was served";
  } catch (const AuthenticationError& e) {
    EXPECT_NE(std::string(e.what()).find("at most 256"), std::string::npos) << e.what();
  }
  bad.join();  // it saw the connection closed
  std::thread server([&] { serve_echo_once(listener); });
  check_echo(listener.address());
  server.join();
}

TEST(Listener, PeerThatSendsGarbageIsDroppedAndItsBytesNeverDelivered) {
  Listener listener(Address::arbitrary(), 4);
  std::string frame(8, '\0');
  frame[0] = 40;  // a well-framed message of 40 bytes that is not a digest
  frame += std::string(40, 'G');
  std::thread bad = misbehaving_peer(listener.address(), frame);
  EXPECT_THROW((void)listener.accept(10), AuthenticationError);
  bad.join();
  std::thread server([&] { serve_echo_once(listener); });
  check_echo(listener.address());
  server.join();
}

TEST(Listener, ClientWithoutTheChallengeIsNeverServed) {
  Listener listener(Address::arbitrary(), 1);
  std::thread client([&] {
    Connection c = Client(listener.address(), kNoAuthentication);
    (void)c.recv_bytes();  // the challenge, which it ignores
    try {
      c.send_bytes("let me in");
      (void)c.recv_bytes();
    } catch (const EOFError&) {
    }
  });
  EXPECT_THROW((void)listener.accept(10), AuthenticationError);
  client.join();
}

TEST(Listener, SilentPeerIsDroppedAfterTheHandshakeTimeout) {
  Listener listener(Address::arbitrary(), 4);
  listener.set_handshake_timeout(0.2);
  int silent = raw_connect(listener.address());
  auto start = Clock::now();
  EXPECT_THROW((void)listener.accept(10), AuthenticationError);
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - start).count(), 0.15);
  ::close(silent);
  std::thread server([&] { serve_echo_once(listener); });
  check_echo(listener.address());
  server.join();
}

void expect_bind_in_use(const Address& address) {
  try {
    Listener second(address);
    ADD_FAILURE() << "bound twice: " << address.to_string();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE) << address.to_string();
    EXPECT_NE(std::string(e.what()).find("bind"), std::string::npos) << e.what();
  }
}

TEST(Listener, BindingAnAddressInUseIsAnError) {
  std::string path = temp_socket_path("inuse");
  Listener unix_listener(path);
  expect_bind_in_use(path);
  Listener abstract_listener;
  expect_bind_in_use(abstract_listener.address());
  Listener tcp_listener(Address("127.0.0.1", 0));
  expect_bind_in_use(tcp_listener.address());
}

TEST(Listener, AcceptAfterCloseIsAnError) {
  Listener listener;
  listener.close();
  EXPECT_TRUE(listener.closed());
  listener.close();  // harmless
  try {
    (void)listener.accept(0);
    ADD_FAILURE() << "accepted on a closed listener";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBADF);
  }
  EXPECT_THROW((void)listener.fileno(), std::system_error);
}

TEST(Listener, CloseFromAnotherThreadWakesABlockedAccept) {
  Listener listener;
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    listener.close();
  });
  auto start = Clock::now();
  EXPECT_THROW((void)listener.accept(), std::system_error);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5);
  closer.join();
}

TEST(Listener, AcceptTimesOut) {
  Listener listener;
  auto start = Clock::now();
  EXPECT_THROW((void)listener.accept(0.2), TimeoutError);
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - start).count(), 0.19);
}

TEST(Listener, CloseRemovesTheSocketFileItCreated) {
  std::string path = temp_socket_path("remove");
  {
    Listener listener(path);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  // A file that replaced ours is not ours to remove.
  Listener listener(path);
  std::filesystem::remove(path);
  Listener other(path);  // a new socket file at the same path
  listener.close();
  EXPECT_TRUE(std::filesystem::exists(path));
  other.close();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Listener, MovedListenerKeepsListening) {
  Listener first;
  Address address = first.address();
  Listener second = std::move(first);
  std::thread server([&] { serve_echo_once(second); });
  check_echo(address);
  server.join();
}

TEST(Client, NothingListeningIsAnErrorNamingConnect) {
  try {
    (void)Client(temp_socket_path("nobody"));
    ADD_FAILURE() << "connected to nothing";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("connect"), std::string::npos) << e.what();
  }
  std::optional<Address> unused;
  {
    Listener l(Address("127.0.0.1", 0));
    unused = l.address();
  }
  EXPECT_THROW((void)Client(*unused), std::system_error);
}

TEST(Client, TimesOutWhenTheListenerNeverAnswers) {
  // A listening socket that never accepts: connect succeeds, the challenge never comes.
  Listener listener;
  auto start = Clock::now();
  EXPECT_THROW((void)Client(listener.address(), mp::authkey(), 0.2), TimeoutError);
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - start).count(), 0.15);
}

TEST(Address, RejectsWhatNoSocketCanBind) {
  EXPECT_THROW(Address(""), std::invalid_argument);
  EXPECT_THROW(Address("@"), std::invalid_argument);
  EXPECT_THROW(Address(std::string(200, 'x')), std::invalid_argument);
  EXPECT_THROW(Address("", 80), std::invalid_argument);
  EXPECT_EQ(Address("::1", 80).to_string(), "[::1]:80");
  EXPECT_EQ(Address("localhost", 80).to_string(), "localhost:80");
}

TEST(Connection, SocketEndsPassDescriptors) {
  auto [a, b] = Pipe();
  auto [reader, writer] = Pipe(false);
  std::vector<int> many;
  for (int i = 0; i < 300; ++i) many.push_back(writer.fileno());  // more than one message takes
  a.send_bytes("before");
  a.send_fds(many);
  a.send_bytes("after");
  EXPECT_EQ(b.recv_bytes(), "before");
  std::vector<int> got = b.recv_fds();
  ASSERT_EQ(got.size(), many.size());
  EXPECT_EQ(b.recv_bytes(), "after");
  ASSERT_EQ(::write(got[299], "z", 1), 1);  // a working duplicate of the write end
  char c = 0;
  ASSERT_EQ(::read(reader.fileno(), &c, 1), 1);
  EXPECT_EQ(c, 'z');
  for (int fd : got) ::close(fd);
  EXPECT_THROW(writer.send_fds(many), std::system_error);  // a pipe carries no descriptors
  a.send_bytes("plain");
  EXPECT_THROW((void)b.recv_fds(), ProcessError);
}

// ---- across processes ----

template <class Mode>
class ListenerTest : public testing_modes::ModeTest<Mode> {};
TYPED_TEST_SUITE(ListenerTest, testing_modes::AllModes, testing_modes::ModeNames);

// `port` 0: `name` is a Unix address; otherwise a TCP host.
Address address_of(const std::string& name, int port) {
  return port == 0 ? Address(name) : Address(name, static_cast<std::uint16_t>(port));
}

// The child connects with the key it inherited and echoes until an empty message.
void client_echo(std::string name, int port) {
  Connection c = Client(address_of(name, port));
  for (std::string m = c.recv_bytes(); !m.empty(); m = c.recv_bytes()) c.send_bytes(m);
}

// The child listens at `address`, says so on `ready`, serves one peer, then returns.
void listen_and_echo(std::string address, Connection ready) {
  Listener listener(Address(address), 1);
  ready.send_bytes("listening");
  Connection c = listener.accept(10);
  for (std::string m = c.recv_bytes(); !m.empty(); m = c.recv_bytes()) c.send_bytes(m);
}

void client_with_wrong_key(std::string address) {
  try {
    (void)Client(Address(address), std::string("wrong"), 10);
  } catch (const AuthenticationError&) {
    return;  // exit code 0: refused, as it should be
  }
  throw std::runtime_error("a wrong key was accepted");
}

TYPED_TEST(ListenerTest, ChildClientAuthenticatesWithTheInheritedKey) {
  for (Address address : {Address::arbitrary(), Address("127.0.0.1", 0)}) {
    Listener listener(address, 1);
    const Address& at = listener.address();
    bool tcp = at.family() == Address::Family::kTcp;
    auto p = this->ctx().Process(client_echo, tcp ? at.name() : at.to_string(),
                                 tcp ? int{at.port()} : 0);
    p.start();
    Connection c = listener.accept(10);
    c.send(std::vector<int>{1, 2, 3});
    EXPECT_EQ(c.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
    c.send_bytes("");
    ASSERT_TRUE(p.join(10));
    EXPECT_EQ(p.exitcode(), 0);
  }
}

TYPED_TEST(ListenerTest, ParentClientReachesAListenerInTheChild) {
  std::string where = "@mp-test-child-listener-" + std::to_string(::getpid());
  auto [ours, theirs] = Pipe();
  auto p = this->ctx().Process(listen_and_echo, where, theirs);
  p.start();
  ASSERT_TRUE(ours.poll(10));
  EXPECT_EQ(ours.recv_bytes(), "listening");
  Connection c = Client(Address(where));
  c.send(std::string("to the child"));
  EXPECT_EQ(c.recv<std::string>(), "to the child");
  c.send_bytes("");
  ASSERT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ListenerTest, ChildWithAWrongKeyIsRefusedOnBothSides) {
  Listener listener;
  auto p = this->ctx().Process(client_with_wrong_key, "@" + listener.address().name());
  p.start();
  EXPECT_THROW((void)listener.accept(10), AuthenticationError);
  ASSERT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 0);
}

}  // namespace
}  // namespace mp
