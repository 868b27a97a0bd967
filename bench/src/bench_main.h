// bench/src/bench_main.h — what the benchmark binary's main shares with the suites.
#pragma once

namespace bench {
// argv[1] that makes the benchmark binary exit at once: the child of the posix_spawn baseline.
inline constexpr char kExitNowFlag[] = "--bench-exit-now";
}  // namespace bench
