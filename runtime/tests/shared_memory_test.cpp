// mp::SharedMemory: Python's errors, attach from children under every start method, and no
// block left in /dev/shm after every user was killed with SIGKILL (the tracker).
#include "mp/shared_memory.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "mp/process.h"

namespace mp {
namespace {

using Clock = std::chrono::steady_clock;

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
class SharedMemoryTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(SharedMemoryTest, Modes, ModeNames);

std::string unique_name(const char* what) {
  static int counter = 0;
  return "mp_test_" + std::string(what) + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(counter++);
}

bool exists_in_dev_shm(const std::string& name) {
  return std::filesystem::exists("/dev/shm/" + name);
}

int error_of(auto&& body) {
  try {
    body();
  } catch (const std::system_error& e) {
    return e.code().value();
  }
  return 0;
}

void write_through_handle(SharedMemory shm, std::string text) {
  std::memcpy(shm.buf().data(), text.data(), text.size());
}

void write_by_name(std::string name, std::string text) {
  SharedMemory shm(name);
  std::memcpy(shm.buf().data(), text.data(), text.size());
  shm.close();
}

TEST(SharedMemory, CreateAttachWriteReadUnlink) {
  std::string name = unique_name("basic");
  SharedMemory created(name, true, 100);
  EXPECT_EQ(created.name(), name);
  EXPECT_EQ(created.size(), 100u);
  EXPECT_TRUE(exists_in_dev_shm(name));
  for (std::byte b : created.buf()) EXPECT_EQ(b, std::byte{0});
  created.buf()[7] = std::byte{42};
  SharedMemory attached("/" + name);  // a leading '/' is accepted, as in Python
  EXPECT_EQ(attached.name(), name);
  EXPECT_EQ(attached.size(), 100u);
  EXPECT_EQ(attached.buf()[7], std::byte{42});
  attached.close();
  attached.close();  // idempotent
  EXPECT_THROW((void)attached.buf(), std::logic_error);
  created.unlink();
  EXPECT_FALSE(exists_in_dev_shm(name));
  EXPECT_EQ(created.buf()[7], std::byte{42});  // still mapped until closed
  created.close();
}

TEST(SharedMemory, RandomNameWhenCreatedWithoutOne) {
  SharedMemory a("", true, 16), b("", true, 16);
  EXPECT_EQ(a.name().rfind("psm_", 0), 0u);
  EXPECT_NE(a.name(), b.name());
  a.unlink();
  b.unlink();
}

TEST(SharedMemory, ExistingNameWithCreateIsEEXISTFromShmOpen) {
  std::string name = unique_name("exists");
  SharedMemory first(name, true, 10);
  try {
    SharedMemory second(name, true, 10);
    ADD_FAILURE() << "created twice";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EEXIST);
    EXPECT_NE(std::string(e.what()).find("shm_open"), std::string::npos) << e.what();
  }
  first.unlink();
}

TEST(SharedMemory, MissingNameIsENOENT) {
  EXPECT_EQ(error_of([] { SharedMemory shm(unique_name("missing")); }), ENOENT);
  std::string name = unique_name("gone");
  SharedMemory shm(name, true, 10);
  shm.unlink();
  EXPECT_EQ(error_of([&] { SharedMemory again(name); }), ENOENT);
  EXPECT_EQ(error_of([&] { shm.unlink(); }), ENOENT);
}

TEST(SharedMemory, BadSizeOrNameIsInvalidArgument) {
  EXPECT_THROW(SharedMemory(unique_name("zero"), true, 0), std::invalid_argument);
  EXPECT_THROW(SharedMemory(unique_name("neg"), true, -5), std::invalid_argument);
  EXPECT_THROW(SharedMemory("", false), std::invalid_argument);
  SharedMemory empty;
  EXPECT_THROW((void)empty.name(), std::logic_error);
}

TYPED_TEST(SharedMemoryTest, ChildWritesThroughAPassedHandle) {
  SharedMemory shm(unique_name("handle"), true, 64);
  auto p = this->ctx().Process(write_through_handle, shm, std::string("from child"));
  p.start();
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.buf().data()), 10), "from child");
  shm.unlink();
}

TYPED_TEST(SharedMemoryTest, ChildAttachesByName) {
  SharedMemory shm(unique_name("byname"), true, 64);
  auto p = this->ctx().Process(write_by_name, shm.name(), std::string("hello"));
  p.start();
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.buf().data()), 5), "hello");
  shm.unlink();
}

// A process tree of its own (so that its tracker has no other user): the creator and an
// attached child both SIGKILLed; the block must disappear from /dev/shm.
TEST(SharedMemory, NothingLeftInDevShmAfterEveryUserWasKilled) {
  std::string name = unique_name("killed");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t creator = ::fork();
  ASSERT_GE(creator, 0);
  if (creator == 0) {
    detail::reset_shm_tracker_for_testing();
    SharedMemory shm(name, true, 4096);
    pid_t user = ::fork();
    if (user == 0) {
      SharedMemory attached(name);
      pid_t me = ::getpid();
      (void)!::write(ready[1], &me, sizeof me);
      for (;;) ::pause();
    }
    pid_t me = ::getpid();
    (void)!::write(ready[1], &me, sizeof me);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  pid_t pids[2];
  ASSERT_EQ(::read(ready[0], &pids[0], sizeof(pid_t)), static_cast<ssize_t>(sizeof(pid_t)));
  ASSERT_EQ(::read(ready[0], &pids[1], sizeof(pid_t)), static_cast<ssize_t>(sizeof(pid_t)));
  ::close(ready[0]);
  EXPECT_TRUE(exists_in_dev_shm(name));
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  ::waitpid(creator, nullptr, 0);
  auto start = Clock::now();
  while (exists_in_dev_shm(name) && Clock::now() - start < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(exists_in_dev_shm(name)) << "/dev/shm/" << name << " leaked";
  if (exists_in_dev_shm(name)) ::shm_unlink(("/" + name).c_str());
}

}  // namespace
}  // namespace mp
