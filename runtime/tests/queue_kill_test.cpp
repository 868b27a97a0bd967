// A producer or consumer SIGKILLed at each step of mp::Queue::put and get never leaves a torn
// item, and the queue stays usable. Linked with ipcheck::mp_hooked: the child installs a hook
// that kills it at one MP_HOOK point (mp/hook.h).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <string>
#include <vector>

#include "mp/hook.h"
#include "mp/process.h"
#include "mp/queues.h"
#include "start_modes.h"

namespace mp {
namespace {

template <class Mode>
class QueueKillTest : public testing_modes::ModeTest<Mode> {};
TYPED_TEST_SUITE(QueueKillTest, testing_modes::ProcessModes, testing_modes::ModeNames);

char g_kill_point[64];

void kill_at_point(const char* point) {
  if (std::strcmp(point, g_kill_point) == 0) ::raise(SIGKILL);
}

void arm(const std::string& point) {
  std::snprintf(g_kill_point, sizeof g_kill_point, "%s", point.c_str());
  hooks::set_hook(&kill_at_point);
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed * 7) >> 3);
  return s;
}

void put_then_die(Queue<std::string> q, std::string point, std::size_t size) {
  q.put("before");
  arm(point);
  q.put(pattern(size, 1));
  hooks::set_hook(nullptr);  // the point was not reached: exit 0, which the test rejects
}

void get_then_die(Queue<std::string> q, std::string point) {
  arm(point);
  (void)q.get();
  hooks::set_hook(nullptr);
}

// Sizes that take the ring (inline), and the arena through a stub.
const std::vector<std::size_t> kSizes = {100, std::size_t{1} << 20};

TYPED_TEST(QueueKillTest, ProducerKilledBeforeItsCommitLeavesNothingAndTheQueueWorks) {
  for (const char* point :
       {"queue.put.after_lock", "queue.put.mid_payload", "queue.put.before_commit"}) {
    for (std::size_t size : kSizes) {
      if (std::strcmp(point, "queue.put.mid_payload") == 0 && size < 8192) continue;
      SCOPED_TRACE(std::string(point) + " size " + std::to_string(size));
      Queue<std::string> q;
      auto p = this->ctx().Process(put_then_die, q, std::string(point), size);
      p.start();
      ASSERT_TRUE(p.join(30));
      ASSERT_EQ(p.exitcode(), -SIGKILL);
      EXPECT_EQ(q.get(true, 5), "before");
      EXPECT_THROW(q.get_nowait(), Empty);  // no torn item, and no item at all
      EXPECT_EQ(q.qsize(), 0);
      // The dead producer held the producer lock: the next put takes it over.
      q.put(pattern(size, 2), true, 10);
      q.put("after", true, 10);
      EXPECT_TRUE(q.get(true, 5) == pattern(size, 2));
      EXPECT_EQ(q.get(true, 5), "after");
    }
  }
}

TYPED_TEST(QueueKillTest, ProducerKilledAfterItsCommitLeavesTheWholeItem) {
  for (std::size_t size : kSizes) {
    Queue<std::string> q;
    auto p = this->ctx().Process(put_then_die, q, std::string("queue.put.after_commit"), size);
    p.start();
    ASSERT_TRUE(p.join(30));
    ASSERT_EQ(p.exitcode(), -SIGKILL);
    EXPECT_EQ(q.get(true, 5), "before");
    EXPECT_TRUE(q.get(true, 5) == pattern(size, 1));
    q.put("after", true, 10);
    EXPECT_EQ(q.get(true, 5), "after");
  }
}

TYPED_TEST(QueueKillTest, ConsumerKilledBeforeItsCommitLeavesTheItemForTheNext) {
  for (const char* point : {"queue.get.after_lock", "queue.get.before_commit"}) {
    for (std::size_t size : kSizes) {
      SCOPED_TRACE(std::string(point) + " size " + std::to_string(size));
      Queue<std::string> q;
      q.put(pattern(size, 1));
      q.put("second");
      auto p = this->ctx().Process(get_then_die, q, std::string(point));
      p.start();
      ASSERT_TRUE(p.join(30));
      ASSERT_EQ(p.exitcode(), -SIGKILL);
      EXPECT_EQ(q.qsize(), 2);
      // The dead consumer held the consumer lock: this get takes it over.
      EXPECT_TRUE(q.get(true, 10) == pattern(size, 1));
      EXPECT_EQ(q.get(true, 5), "second");
      EXPECT_THROW(q.get_nowait(), Empty);
    }
  }
}

TYPED_TEST(QueueKillTest, ConsumerKilledAfterItsCommitTookTheItemWhole) {
  for (std::size_t size : kSizes) {
    Queue<std::string> q;
    q.put(pattern(size, 1));
    q.put("second");
    auto p = this->ctx().Process(get_then_die, q, std::string("queue.get.after_commit"));
    p.start();
    ASSERT_TRUE(p.join(30));
    ASSERT_EQ(p.exitcode(), -SIGKILL);
    EXPECT_EQ(q.get(true, 10), "second");
    q.put(pattern(size, 3));
    EXPECT_TRUE(q.get(true, 5) == pattern(size, 3));
  }
}

}  // namespace
}  // namespace mp
