// join_before_drain (buggy): a child sends a 64 MiB result on an mp::Pipe; the parent joins
// the child first and would read the result afterwards.
//
// A pipe holds a few hundred KiB: the child blocks in send_bytes until someone reads, and
// the parent waits in join for the child to exit. Neither moves — the deadlock Python's
// documentation warns about for Queue ("joining processes that use queues"). The program
// notices with a join timeout and stops the child. (Not run in thread mode: a thread cannot
// be stopped from outside.) Compare ../fixed: the same order works on an mp::Queue.
//
// Usage: join_before_drain_buggy [fork|spawn]   (exit 1 when the join hung, as expected)
#include <cstdio>
#include <string>

#include "mp/connection.h"
#include "mp/process.h"

namespace {

constexpr std::size_t kResultBytes = std::size_t{64} << 20;
constexpr double kWatchdogSeconds = 3.0;

void compute(mp::Connection out) {
  std::string result(kResultBytes, 'r');
  out.send_bytes(result);
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  auto [in, out] = mp::Pipe(false);
  mp::Process child = ctx.Process(compute, out);
  child.start();
  out.close();
  if (child.join(kWatchdogSeconds)) {  // BUG: joined before the result is read
    std::string result = in.recv_bytes();
    std::printf("join_before_drain (%s): the child exited, %zu bytes read\n", method,
                result.size());
    return 0;
  }
  std::printf(
      "join_before_drain (%s): the child is still blocked sending its result after %.0f s, "
      "and the parent waits for it to exit: HANG (joined before drained)\n",
      method, kWatchdogSeconds);
  std::fflush(stdout);
  child.kill();
  child.join();
  return 1;
}
