// Timeouts the clocks cannot hold (1e10 s and more, infinity, NaN) mean no limit, in every
// blocking call. Before, the conversion to nanoseconds overflowed: undefined behaviour that
// UBSan reports (the asan preset) and that gave up at once in the manager's server; on x86
// the other calls happened to wait.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "mp/connection.h"
#include "mp/event.h"
#include "mp/queues.h"
#include "mp/synchronize.h"

namespace mp {
namespace {

const double kHuge[] = {1e10, 1e300, std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::quiet_NaN()};

// Runs `later` on another thread after a short while, so that a call with no limit waits
// for it while a call whose timeout overflowed returns first.
class Later {
 public:
  template <class F>
  explicit Later(F f)
      : thread_([f] {
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          f();
        }) {}
  ~Later() { thread_.join(); }

 private:
  std::thread thread_;
};

TEST(Timeouts, ALockAcquireWithAHugeTimeoutWaitsForTheRelease) {
  for (double timeout : kHuge) {
    Lock lock;
    ASSERT_TRUE(lock.acquire());
    Later release([&] { lock.release(); });
    EXPECT_TRUE(lock.acquire(true, timeout)) << timeout;
    lock.release();
  }
}

TEST(Timeouts, AnEventWaitWithAHugeTimeoutWaitsForTheSet) {
  for (double timeout : kHuge) {
    Event event;
    Later set([&] { event.set(); });
    EXPECT_TRUE(event.wait(timeout)) << timeout;
  }
}

TEST(Timeouts, AQueueGetWithAHugeTimeoutWaitsForThePut) {
  for (double timeout : kHuge) {
    Queue<int> queue;
    Later put([&] { queue.put(7); });
    EXPECT_EQ(queue.get(true, timeout), 7) << timeout;
  }
}

TEST(Timeouts, AConnectionPollWithAHugeTimeoutWaitsForTheMessage) {
  for (double timeout : kHuge) {
    auto [reader, writer] = Pipe(false);
    Later send([&] { writer.send_bytes("x"); });
    EXPECT_TRUE(reader.poll(timeout)) << timeout;
  }
}

}  // namespace
}  // namespace mp
