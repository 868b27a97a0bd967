#include "mp/detail/segment.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>

namespace mp::detail {
namespace {

TEST(Segment, IsZeroFilledAndPageRounded) {
  auto s = Segment::create(10, "test");
  ASSERT_GE(s->size(), 10u);
  EXPECT_EQ(s->size() % static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), 0u);
  auto* bytes = static_cast<unsigned char*>(s->data());
  EXPECT_TRUE(std::all_of(bytes, bytes + s->size(), [](unsigned char b) { return b == 0; }));
}

TEST(Segment, WriteInForkedChildIsSeenByParent) {
  auto [ref, counter] = make_shared_object<std::atomic<int>>("counter", 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    counter->store(42);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(counter->load(), 42);
}

TEST(Segment, LiveFdsListsExactlyTheLiveSegments) {
  int fd;
  {
    auto s = Segment::create(1, "short-lived");
    fd = s->fd();
    auto fds = Segment::live_fds();
    EXPECT_NE(std::find(fds.begin(), fds.end(), fd), fds.end());
  }
  auto fds = Segment::live_fds();
  EXPECT_EQ(std::find(fds.begin(), fds.end(), fd), fds.end());
}

TEST(Segment, AttachingTheSameFdTwiceGivesOneMapping) {
  auto s = Segment::create(1, "twice");
  EXPECT_EQ(Segment::attach_inherited(s->fd(), s->size()).get(), s.get());
}

}  // namespace
}  // namespace mp::detail
