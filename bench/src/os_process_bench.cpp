// The raw baseline for starting processes: fork+waitpid, and posix_spawn+waitpid of this
// same benchmark binary, re-executed with an argument that makes it exit at once.
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_main.h"
#include "forked.h"

extern char** environ;

namespace {

void wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) bench::die("waitpid");
  }
}

void BM_Fork_Wait(benchmark::State& state) {
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid < 0) bench::die("fork");
    if (pid == 0) _exit(0);
    wait_for(pid);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Fork_Wait)->UseRealTime();

void BM_PosixSpawn_Wait(benchmark::State& state) {
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, const_cast<char*>(bench::kExitNowFlag), nullptr};
  for (auto _ : state) {
    pid_t pid = 0;
    int err = posix_spawn(&pid, exe, nullptr, nullptr, argv, environ);
    if (err != 0) {
      errno = err;
      bench::die("posix_spawn");
    }
    wait_for(pid);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PosixSpawn_Wait)->UseRealTime();

}  // namespace
