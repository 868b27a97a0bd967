// mp::Queue with an item over 4 GiB (label `large`: needs ~10 GiB of memory and a minute;
// CI skips it).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "mp/process.h"
#include "mp/queues.h"

namespace mp {
namespace {

constexpr std::size_t kHuge = (std::size_t{9} << 29) + 12345;  // 4.5 GiB and a bit

char byte_at(std::size_t i) { return static_cast<char>((i * 2654435761u) >> 13); }

void put_huge(Queue<std::string> q) {
  std::string item(kHuge, '\0');
  for (std::size_t i = 0; i < item.size(); ++i) item[i] = byte_at(i);
  q.put(item);
  q.put("after");
}

TEST(QueueLarge, CarriesAnItemOver4GiBWhole) {
  Queue<std::string> q;
  auto p = get_context(kFork).Process(put_huge, q);
  p.start();
  ASSERT_TRUE(p.join(600));  // the producer exits before anything is read
  ASSERT_EQ(p.exitcode(), 0);
  EXPECT_EQ(q.qsize(), 2);
  std::string item = q.get_nowait();
  ASSERT_EQ(item.size(), kHuge);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < item.size(); ++i) wrong += item[i] != byte_at(i);
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(q.get_nowait(), "after");
}

}  // namespace
}  // namespace mp
