// Schedule noise and fault plans, applied at hook points by the process that reaches them.
#include "ipcheck/proptest/schedule.h"

#include <sched.h>
#include <signal.h>
#include <time.h>

#include <cstdio>
#include <cstring>

#include "mp/hook.h"

namespace ipcheck::proptest {
namespace {

struct ProcessState {
  bool active = false;
  ProcessId process = 0;
  Schedule schedule;
  FaultPlan plan;
  int fault_hits = 0;
  std::uint64_t rng = 0;
  int priority = 0;
  std::uint64_t hits = 0;
  std::uint64_t next_change = 0;
  detail::KillObserver on_kill = nullptr;
  void* context = nullptr;

  std::uint64_t next() noexcept {  // splitmix64: cheap, no locks, no allocation
    std::uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

thread_local ProcessState state;

void sleep_us(std::uint64_t us) noexcept {
  timespec ts{0, static_cast<long>(us * 1000)};
  nanosleep(&ts, nullptr);
}

void on_hook(const char* point) noexcept { perturb(point); }

constexpr int kPriorityLevels = 4;

}  // namespace

void perturb(const char* point) noexcept {
  ProcessState& s = state;
  if (!s.active) return;
  if (s.plan.active() && s.plan.process == s.process &&
      (s.plan.point[0] == '\0' || std::strcmp(point, s.plan.point) == 0) &&
      ++s.fault_hits == s.plan.hit) {
    if (s.on_kill) s.on_kill(s.context, s.process);
    raise(SIGKILL);
  }
  if (s.schedule.seed == 0) return;
  // PCT as delays: each process has a priority; the lowest one is often delayed, and at
  // random change points a process gets a new priority.
  if (++s.hits >= s.next_change) {
    s.priority = static_cast<int>(s.next() % kPriorityLevels);
    s.next_change = s.hits + 1 + s.next() % 16;
  }
  // A low priority makes a process likely to be delayed here; any process may be.
  const std::uint64_t r = s.next();
  const std::uint64_t max_delay = static_cast<std::uint64_t>(s.schedule.max_delay_us) + 1;
  const std::uint64_t roll = r % 8;
  if (roll < static_cast<std::uint64_t>(kPriorityLevels - s.priority)) {
    sleep_us((r >> 8) % max_delay);
  } else if (roll == 7) {
    sched_yield();
  }
}

std::string to_string(const FaultPlan& plan) {
  if (!plan.active()) return "none";
  return "kill:p" + std::to_string(plan.process) + "@" +
         (plan.point[0] ? std::string(plan.point) : std::string("*")) + "#" +
         std::to_string(plan.hit);
}

std::string to_string(const Schedule& schedule) {
  if (schedule.seed == 0) return "none";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "seed:0x%llx",
                static_cast<unsigned long long>(schedule.seed));
  return buffer;
}

namespace detail {

void enter_process(ProcessId p, const Schedule& schedule, const FaultPlan& plan,
                   KillObserver on_kill, void* context) noexcept {
  ProcessState& s = state;
  s = ProcessState{};
  s.active = true;
  s.process = p;
  s.schedule = schedule;
  s.plan = plan;
  s.rng = schedule.seed ^ (0x632be59bd9b4e019ULL * static_cast<std::uint64_t>(p + 1));
  s.priority = static_cast<int>(s.next() % kPriorityLevels);
  s.next_change = 1 + s.next() % 16;
  s.on_kill = on_kill;
  s.context = context;
#if defined(MP_ENABLE_HOOKS)
  mp::hooks::set_hook(&on_hook);
#else
  (void)&on_hook;
#endif
}

void leave_process() noexcept { state.active = false; }

}  // namespace detail
}  // namespace ipcheck::proptest
