// mp::Pipe and mp::Connection: CPython's test_multiprocessing checks for connections, within
// one process and across fork, spawn and thread children.
#include "mp/connection.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "mp/errors.h"
#include "mp/process.h"
#include "proc_self.h"

namespace mp {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- within one process ----

TEST(Pipe, DuplexSendsBothWaysAndKeepsMessageBoundaries) {
  auto [a, b] = Pipe();
  a.send_bytes("one");
  a.send_bytes("");
  a.send_bytes("three");
  EXPECT_EQ(b.recv_bytes(), "one");
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_EQ(b.recv_bytes(), "three");
  b.send(std::string("back"));
  EXPECT_EQ(a.recv<std::string>(), "back");
}

TEST(Pipe, SendsObjects) {
  auto [a, b] = Pipe();
  std::map<std::string, std::vector<int>> m{{"x", {1, 2}}, {"y", {}}};
  a.send(m);
  a.send(3.25);
  EXPECT_EQ((b.recv<std::map<std::string, std::vector<int>>>()), m);
  EXPECT_EQ(b.recv<double>(), 3.25);
}

TEST(Pipe, SixteenMebibyteMessageArrivesWhole) {
  auto [a, b] = Pipe();
  std::string big(16u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  std::thread sender([&, &a = a] { a.send_bytes(big); });
  std::string got = b.recv_bytes();
  sender.join();
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);
}

// A length past 4 GiB survives whole (not cut to 32 bits): shown without sending 4 GiB, by
// a raw frame header that recv_bytes_into refuses by its full length.
TEST(Pipe, LengthsBeyondFourGibibytesAreKept) {
  auto [a, b] = Pipe();
  std::uint64_t length = (std::uint64_t{1} << 32) + 3;
  ASSERT_EQ(::write(a.fileno(), &length, sizeof length), 8);
  char buffer[16];
  try {
    (void)b.recv_bytes_into(buffer, sizeof buffer);
    ADD_FAILURE() << "no BufferTooShort";
  } catch (const BufferTooShort& e) {
    EXPECT_NE(std::string(e.what()).find("4294967299 bytes"), std::string::npos) << e.what();
  }
}

TEST(Pipe, RecvBytesIntoTooSmallBufferLeavesTheMessage) {
  auto [a, b] = Pipe();
  a.send_bytes("hello world");
  char small[4];
  EXPECT_THROW(b.recv_bytes_into(small, sizeof small), BufferTooShort);
  char buffer[32];
  std::size_t n = b.recv_bytes_into(buffer, sizeof buffer);
  EXPECT_EQ(std::string(buffer, n), "hello world");
}

TEST(Pipe, EofAfterPeerCloses) {
  auto [a, b] = Pipe();
  a.send_bytes("last");
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_EQ(b.recv_bytes(), "last");
  EXPECT_TRUE(b.poll(0));  // EOF is readable
  EXPECT_THROW(b.recv_bytes(), EOFError);
  EXPECT_THROW(b.send_bytes("x"), EOFError);
}

TEST(Pipe, UseAfterCloseIsAnError) {
  auto [a, b] = Pipe();
  a.close();
  a.close();  // harmless
  EXPECT_THROW(a.send_bytes("x"), std::system_error);
  EXPECT_THROW(a.recv_bytes(), std::system_error);
  EXPECT_THROW((void)a.fileno(), std::system_error);
}

TEST(Pipe, OneWayEndsOnlyGoTheirWay) {
  auto [reader, writer] = Pipe(false);
  EXPECT_TRUE(reader.readable());
  EXPECT_FALSE(reader.writable());
  EXPECT_TRUE(writer.writable());
  EXPECT_FALSE(writer.readable());
  EXPECT_THROW(reader.send_bytes("x"), std::system_error);
  EXPECT_THROW(writer.recv_bytes(), std::system_error);
  EXPECT_THROW((void)writer.poll(0), std::system_error);
  writer.send(42);
  EXPECT_EQ(reader.recv<int>(), 42);
}

TEST(Pipe, OneWayWriteAfterReaderClosedIsEofNotSigpipe) {
  auto [reader, writer] = Pipe(false);
  reader.close();
  EXPECT_THROW(writer.send_bytes("x"), EOFError);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
}

TEST(Pipe, PollTimesOutWhenNothingArrives) {
  auto [a, b] = Pipe();
  EXPECT_FALSE(b.poll(0));
  auto start = Clock::now();
  EXPECT_FALSE(b.poll(0.2));
  double waited = seconds_since(start);
  EXPECT_GE(waited, 0.19);
  EXPECT_LT(waited, 1.5);
  a.send_bytes("x");
  EXPECT_TRUE(b.poll(0));
  EXPECT_TRUE(b.poll(-1));
}

TEST(Pipe, CopiesShareOneEnd) {
  auto [a, b] = Pipe();
  Connection copy = a;
  copy.send_bytes("via copy");
  EXPECT_EQ(b.recv_bytes(), "via copy");
  copy.close();
  EXPECT_TRUE(a.closed());
}

TEST(Pipe, DroppedEndsLeaveNoDescriptorBehind) {
  int before = testing_proc::open_descriptor_count();
  for (int i = 0; i < 100; ++i) {
    auto [a, b] = Pipe(i % 2 == 0);
    b.send_bytes("x");
    EXPECT_EQ(a.recv_bytes(), "x");
  }
  EXPECT_EQ(testing_proc::open_descriptor_count(), before);
}

void on_alarm(int) {}

TEST(Pipe, RecvSurvivesEintr) {
  struct sigaction sa{};
  sa.sa_handler = on_alarm;  // no SA_RESTART: read returns EINTR
  sigaction(SIGALRM, &sa, nullptr);
  auto [a, b] = Pipe();
  std::thread sender([&a = a] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    a.send_bytes("after signal");
  });
  itimerval timer{{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &timer, nullptr);
  EXPECT_EQ(b.recv_bytes(), "after signal");
  sender.join();
  signal(SIGALRM, SIG_DFL);
}

// ---- wait ----

TEST(Wait, ReturnsTheReadyConnections) {
  auto [a1, b1] = Pipe();
  auto [a2, b2] = Pipe();
  EXPECT_TRUE(wait({b1, b2}, 0).empty());
  a2.send_bytes("x");
  EXPECT_EQ(wait({b1, b2}, 1), (std::vector<std::size_t>{1}));
  a1.send_bytes("y");
  EXPECT_EQ(wait({b1, b2}), (std::vector<std::size_t>{0, 1}));
}

TEST(Wait, TakesRawDescriptors) {
  auto [reader, writer] = Pipe(false);
  auto [a, b] = Pipe();
  std::vector<WaitObject> objects{WaitObject::descriptor(reader.fileno()), b};
  EXPECT_TRUE(wait(objects, 0).empty());
  writer.send_bytes("x");
  EXPECT_EQ(wait(objects, 1), (std::vector<std::size_t>{0}));
}

TEST(Wait, TimesOut) {
  auto [a, b] = Pipe();
  auto start = Clock::now();
  EXPECT_TRUE(wait({b}, 0.2).empty());
  EXPECT_GE(seconds_since(start), 0.19);
}

TEST(Wait, SeesAMessageWhoseHeaderWasAlreadyRead) {
  auto [a, b] = Pipe();
  a.send_bytes("a message too long");
  char small[2];
  EXPECT_THROW(b.recv_bytes_into(small, sizeof small), BufferTooShort);
  EXPECT_EQ(wait({b}, 0), (std::vector<std::size_t>{0}));
  EXPECT_TRUE(b.poll(0));
  EXPECT_EQ(b.recv_bytes(), "a message too long");
}

TEST(Pipe, FrameIsA64BitLengthThenThePayload) {
  auto [a, b] = Pipe();
  a.send_bytes("abc");
  unsigned char raw[11];
  ASSERT_EQ(::read(b.fileno(), raw, sizeof raw), 11);
  std::uint64_t length;
  std::memcpy(&length, raw, 8);
  EXPECT_EQ(length, 3u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(raw + 8), 3), "abc");
}

void sleep_briefly() { std::this_thread::sleep_for(std::chrono::milliseconds(200)); }

TEST(Wait, ProcessSentinelIsReadyWhenItExits) {
  auto [a, b] = Pipe();
  auto p = get_context(kFork).Process(sleep_briefly);
  p.start();
  EXPECT_TRUE(wait({b, p}, 0).empty());
  EXPECT_EQ(wait({b, p}, 10), (std::vector<std::size_t>{1}));
  p.join();
}

void receive_one(Connection conn, int expected) {
  if (conn.recv<int>() != expected) throw std::runtime_error("wrong message");
}

// Processes can take turns on one end, as in Python (which reads exactly one frame): what
// the first reader read ahead is kept in shared memory, not lost with it.
TEST(Pipe, ReaderThatExitsLeavesTheNextMessageForOthers) {
  for (Context ctx : {get_context("fork"), get_context("spawn")}) {
    auto [a, b] = Pipe();
    a.send(1);
    a.send(2);
    a.send(3);
    auto p = ctx.Process(receive_one, b, 1);
    p.start();
    p.join();
    ASSERT_EQ(p.exitcode(), 0) << ctx.get_start_method();
    EXPECT_TRUE(b.poll(1));
    EXPECT_TRUE(wait({b}, 0).size() == 1);
    EXPECT_EQ(b.recv<int>(), 2) << ctx.get_start_method();
    auto q = ctx.Process(receive_one, b, 3);
    q.start();
    q.join();
    EXPECT_EQ(q.exitcode(), 0) << ctx.get_start_method();
  }
}

void do_nothing_with(Connection) {}

// As Python's start(): once started, the Process holds no copy of its arguments, so the
// last handle the program drops really closes the end.
TEST(Pipe, StartedProcessLetsGoOfItsConnectionArgument) {
  auto [reader, writer] = Pipe(false);
  {
    auto p = get_context(kSpawn).Process(do_nothing_with, writer);
    p.start();
    p.join();
    writer = Connection();  // our last handle besides the Process's
    EXPECT_TRUE(reader.poll(1));
    EXPECT_THROW(reader.recv_bytes(), EOFError);
  }
}

// ---- across processes ----

struct Fork {
  static constexpr auto kTag = kFork;
};
struct Spawn {
  static constexpr auto kTag = kSpawn;
};
struct Thread {
  static constexpr auto kTag = kThread;
};
struct Forkserver {
  static constexpr auto kTag = kForkserver;
};
struct ModeNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, Fork>) return "Fork";
    if constexpr (std::is_same_v<T, Spawn>) return "Spawn";
    if constexpr (std::is_same_v<T, Forkserver>) return "Forkserver";
    return "Thread";
  }
};

template <class Mode>
class ConnectionTest : public testing::Test {
 protected:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(ConnectionTest, Modes, ModeNames);

// Echoes messages back until an empty one. (Not until EOF: under fork the child also holds
// a copy of the parent's end, so closing it in the parent gives no EOF — as in Python.)
void echo(Connection conn) {
  for (std::string msg = conn.recv_bytes(); !msg.empty(); msg = conn.recv_bytes())
    conn.send_bytes(msg);
}

void send_three_and_close(Connection conn) {
  conn.send(std::string("a"));
  conn.send(std::vector<int>{1, 2, 3});
  conn.send(std::string(1u << 20, 'z'));
  conn.close();
}

TYPED_TEST(ConnectionTest, ChildEchoesMessages) {
  auto [parent_end, child_end] = Pipe();
  auto p = this->ctx().Process(echo, child_end);
  p.start();
  for (int i = 0; i < 100; ++i) {
    std::string msg = "message " + std::to_string(i);
    parent_end.send_bytes(msg);
    ASSERT_EQ(parent_end.recv_bytes(), msg);
  }
  parent_end.send_bytes("");
  EXPECT_TRUE(p.join(10));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(ConnectionTest, OneWayPipeFromChildEndsWithEof) {
  auto [reader, writer] = Pipe(false);
  auto p = this->ctx().Process(send_three_and_close, writer);
  p.start();
  // Our copy of the write end: EOF comes once both it and the child's are closed. In thread
  // mode the child shares this very end, and closes it itself.
  if constexpr (!std::is_same_v<TypeParam, Thread>) writer.close();
  EXPECT_EQ(reader.recv<std::string>(), "a");
  EXPECT_EQ(reader.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(reader.recv<std::string>().size(), 1u << 20);
  EXPECT_THROW(reader.recv_bytes(), EOFError);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

}  // namespace
}  // namespace mp
