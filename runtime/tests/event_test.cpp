// mp::Event under every start method (CPython's test_multiprocessing event behaviours).
#include "mp/event.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

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
class EventTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(EventTest, Modes, ModeNames);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void set_after(Event event, double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  event.set();
}

void wait_then_answer(Event go, Event answer) {
  if (!go.wait(30)) throw std::runtime_error("never woken");
  answer.set();
}

TEST(Event, StartsClearAndFollowsSetAndClear) {
  Event event;
  EXPECT_FALSE(event.is_set());
  event.set();
  EXPECT_TRUE(event.is_set());
  EXPECT_TRUE(event.wait());
  EXPECT_TRUE(event.wait(0));
  event.clear();
  EXPECT_FALSE(event.is_set());
}

TEST(Event, WaitOnAClearEventReturnsFalseAfterAboutTheTimeout) {
  Event event;
  auto start = Clock::now();
  EXPECT_FALSE(event.wait(0.1));
  EXPECT_GE(seconds_since(start), 0.09);
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_FALSE(event.wait(0));
}

TYPED_TEST(EventTest, SetInChildWakesWaitingParent) {
  Event event;
  auto p = this->ctx().Process(set_after, event, 0.1);
  p.start();
  auto start = Clock::now();
  EXPECT_TRUE(event.wait(30));
  EXPECT_GE(seconds_since(start), 0.05);
  EXPECT_TRUE(event.is_set());
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
}

TYPED_TEST(EventTest, SetWakesEveryWaiter) {
  Event go;
  std::vector<Event> answers(3);
  std::vector<Process> children;
  for (auto& a : answers) children.push_back(this->ctx().Process(wait_then_answer, go, a));
  for (auto& c : children) c.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (auto& a : answers) EXPECT_FALSE(a.is_set());
  go.set();
  for (auto& a : answers) EXPECT_TRUE(a.wait(30));
  for (auto& c : children) {
    ASSERT_TRUE(c.join(30));
    EXPECT_EQ(c.exitcode(), 0);
  }
}

}  // namespace
}  // namespace mp
