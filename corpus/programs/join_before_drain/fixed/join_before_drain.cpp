// join_before_drain (fixed): a child puts a 64 MiB result on an mp::Queue and exits; the
// parent joins it first and reads the result afterwards.
//
// In Python this deadlocks ("joining processes that use queues": the child's feeder thread
// cannot finish flushing a large item into the pipe until someone reads it, so the child
// cannot exit). mp::Queue has no feeder thread: put() leaves the item in shared memory, the
// child exits at once, and nothing is lost. Compare ../buggy, the same order on a Pipe.
//
// Usage: join_before_drain_fixed [fork|spawn|thread]   (exit 0: right answer)
#include <cstdio>
#include <string>

#include "mp/process.h"
#include "mp/queues.h"

namespace {

constexpr std::size_t kResultBytes = std::size_t{64} << 20;

char byte_at(std::size_t i) { return static_cast<char>('a' + i % 23); }

void compute(mp::Queue<std::string> results) {
  std::string result(kResultBytes, '\0');
  for (std::size_t i = 0; i < result.size(); ++i) result[i] = byte_at(i);
  results.put(result);
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  mp::Queue<std::string> results;
  mp::Process child = ctx.Process(compute, results);
  child.start();
  if (!child.join(30)) {  // joined before anything is read
    std::printf("join_before_drain (%s): the child did not exit in 30 s: HANG\n", method);
    std::fflush(stdout);
    std::_Exit(1);
  }
  std::string result = results.get(true, 10);
  bool right = child.exitcode() == 0 && result.size() == kResultBytes;
  for (std::size_t i = 0; right && i < result.size(); ++i) right = result[i] == byte_at(i);
  std::printf("join_before_drain (%s): joined the child, then read %zu bytes: %s\n", method,
              result.size(), right ? "right" : "WRONG");
  return right ? 0 : 1;
}
