// The benchmark binary's main: the spawn baseline's exit, then mp's main guard, then the suites.
#include <benchmark/benchmark.h>

#include <cstring>

#include "bench_main.h"
#include "mp/process.h"

int main(int argc, char** argv) {
  // The posix_spawn baseline's child: a fresh image of this binary that does nothing else.
  if (argc > 1 && std::strcmp(argv[1], bench::kExitNowFlag) == 0) return 0;
  // A child started by mp's spawn runs its target here and never returns.
  mp::init(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
