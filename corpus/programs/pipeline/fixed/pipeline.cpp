// pipeline (fixed): a three-stage pipeline connected by JoinableQueues, shut down cleanly.
//
//   source (the parent) --numbers--> 2 squarers --squares--> 2 summers --partial sums--> parent
//
// Shutdown goes stage by stage, in the direction the items flow: numbers.join() returns once
// every number was squared *and its square put on the next queue* (a squarer calls
// task_done only after its put), so squares.join() then waits for every square to be added.
// Only then does each stage get its stop signals (-1), and the summers report their sums.
//
// Usage: pipeline_fixed [fork|spawn|thread]   (exit 0: right answer)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "mp/process.h"
#include "mp/queues.h"

namespace {

constexpr long kNumbers = 300;
constexpr int kWorkersPerStage = 2;
constexpr long kStop = -1;

struct Queues {
  mp::JoinableQueue<long> numbers;
  mp::JoinableQueue<long> squares;
  mp::Queue<long> sums;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(numbers, squares, sums);
  }
};

void square(Queues q) {
  for (;;) {
    long n = q.numbers.get();
    if (n == kStop) {
      q.numbers.task_done();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));  // the stage's work
    q.squares.put(n * n);
    q.numbers.task_done();  // after the put: join() on numbers covers the hand-over
  }
}

void add(Queues q) {
  long sum = 0;
  for (;;) {
    long n = q.squares.get();
    if (n == kStop) {
      q.sums.put(sum);
      q.squares.task_done();
      return;
    }
    sum += n;
    q.squares.task_done();
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const char* method = argc > 1 ? argv[1] : "fork";
  mp::Context ctx = mp::get_context(method);

  Queues q;
  std::vector<mp::Process> workers;
  for (int w = 0; w < kWorkersPerStage; ++w) workers.push_back(ctx.Process(square, q));
  for (int w = 0; w < kWorkersPerStage; ++w) workers.push_back(ctx.Process(add, q));
  for (auto& w : workers) w.start();

  for (long n = 1; n <= kNumbers; ++n) q.numbers.put(n);
  // Stage by stage, in the direction of the flow.
  q.numbers.join();
  q.squares.join();
  for (int w = 0; w < kWorkersPerStage; ++w) q.numbers.put(kStop);
  for (int w = 0; w < kWorkersPerStage; ++w) q.squares.put(kStop);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (auto& w : workers) {
    std::chrono::duration<double> left = deadline - std::chrono::steady_clock::now();
    if (!w.join(std::max(left.count(), 0.0))) {
      std::printf("pipeline (%s): a worker is still running after 30 s: HANG\n", method);
      std::fflush(stdout);
      std::_Exit(1);
    }
  }
  long total = 0;
  for (int w = 0; w < kWorkersPerStage; ++w) total += q.sums.get(true, 10);
  const long expected = kNumbers * (kNumbers + 1) * (2 * kNumbers + 1) / 6;
  bool right = total == expected && q.numbers.empty() && q.squares.empty();
  std::printf("pipeline (%s): sum of squares %ld, expected %ld: %s\n", method, total, expected,
              right ? "right" : "WRONG");
  return right ? 0 : 1;
}
