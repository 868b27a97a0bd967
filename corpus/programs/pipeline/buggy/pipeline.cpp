// pipeline (buggy): the three-stage pipeline of ../fixed, shut down in the wrong order.
//
//   source (the parent) --numbers--> 2 squarers --squares--> 2 summers --partial sums--> parent
//
// The parent joins the *last* queue first. squares.join() returns as soon as no square is
// unfinished at that moment — at the start, before the squarers put anything — so the
// summers are told to stop while squares are still on their way, and the squares put after
// the stop signals are never added. (Each number takes the squarers 0.5 ms, so almost all
// squares come after the stop signals.)
//
// Usage: pipeline_buggy [fork|spawn|thread]   (exit 1: items lost, as expected)
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
    q.numbers.task_done();
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
  q.squares.join();  // BUG: the last stage first: nothing is unfinished there yet
  for (int w = 0; w < kWorkersPerStage; ++w) q.squares.put(kStop);
  q.numbers.join();
  for (int w = 0; w < kWorkersPerStage; ++w) q.numbers.put(kStop);

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
  const long left_over = q.squares.qsize();
  if (total == expected) {
    std::printf("pipeline (%s): sum of squares %ld: right this time\n", method, total);
    return 0;
  }
  std::printf(
      "pipeline (%s): sum of squares %ld, expected %ld: %ld items lost (left on the "
      "queue after the summers stopped)\n",
      method, total, expected, left_over);
  return 1;
}
