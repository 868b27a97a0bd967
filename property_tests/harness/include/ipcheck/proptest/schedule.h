// ipcheck/proptest/schedule.h — perturbing the schedule, and killing a process on purpose.
//
//   ipcheck::proptest::Schedule    seeded noise: random yields, delays and PCT-style
//                                  priority changes at every hook point
//   ipcheck::proptest::FaultPlan   SIGKILL of one process at the Nth hit of one hook point,
//                                  and an interrupt storm: signals that land in the blocking
//                                  calls right after hook points, so that they fail with EINTR
//   ipcheck::proptest::perturb()   a hook point of your own code (MP_HOOK does the same
//                                  inside the runtime)
//
// The points are the runtime's MP_HOOK points (the harness links ipcheck::mp_hooked) and the
// harness's own: "proptest.op.gap" (between two operations of a process: a delay there is
// time spent holding what the last operation acquired), "proptest.op.before" (an operation
// is recorded as invoked and not yet called) and "proptest.op.after" (it returned and is
// not yet recorded as completed: killed there, it took effect although its result is
// unknown). Both the schedule and the plan are
// plain data, so a failing case names them in its reproduce line.
#pragma once

#include <cstdint>
#include <string>

#include "ipcheck/proptest/history.h"

namespace ipcheck::proptest {

struct Schedule {
  // 0: no noise. Otherwise the seed of every decision (each process derives its own).
  std::uint64_t seed = 0;
  // The longest single delay at a hook point.
  int max_delay_us = 200;
};

struct FaultPlan {
  // The process to kill (-1: none). Processes are numbered as in the history: 0 runs the
  // prefix and the suffix, 1..n the branches.
  ProcessId process = -1;
  // The hook point; empty matches every point.
  char point[64] = "";
  // Which hit of that point, counting from 1, in that process.
  int hit = 1;
  // Interrupt storm: at this percentage of hook hits (in every process), a signal is set to
  // arrive 1–100 µs later, usually inside the system call the runtime makes next (a futex
  // wait, a read, a poll), which then fails with EINTR. The handler does nothing: a call
  // that does not retry shows it as a wrong result or an exception. 0: no storm.
  int interrupt_percent = 0;

  bool active() const { return process >= 0; }
  bool storm() const { return interrupt_percent > 0; }
};

// The signal of interrupt storms (SIGURG: ignored by default, so a stray one harms nobody).
inline constexpr int kInterruptSignal = 23;  // SIGURG on Linux

// How many storm signals this process and the processes forked from it (supervised cases,
// fork-mode branches; not spawned ones) have received. Each interrupted whatever its process
// was doing: a system call failed with EINTR, or user code was merely paused.
std::uint64_t interrupts_received() noexcept;

// "none", "kill:p2@proptest.op.before#3", "eintr:25%", or both joined by '+'.
std::string to_string(const FaultPlan& plan);
// "seed=0x…", or "none".
std::string to_string(const Schedule& schedule);

// Marks a point where another process could observe this one: applies the calling process's
// schedule noise and fault plan there. Free when no schedule is installed.
void perturb(const char* point) noexcept;

namespace detail {
// Called by a process just before its fault plan kills it (records the death).
using KillObserver = void (*)(void* context, ProcessId p) noexcept;

// Makes the calling thread process `p` of a run: installs the noise and fault hooks for it
// (and for the runtime's MP_HOOK points).
void enter_process(ProcessId p, const Schedule& schedule, const FaultPlan& plan,
                   KillObserver on_kill, void* context) noexcept;
// Removes them for the calling thread.
void leave_process() noexcept;
}  // namespace detail

}  // namespace ipcheck::proptest
