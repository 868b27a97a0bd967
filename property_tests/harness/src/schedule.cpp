// Schedule noise and fault plans, applied at hook points by the process that reaches them.
#include "ipcheck/proptest/schedule.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <new>

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
  bool has_timer = false;
  timer_t timer{};

  std::uint64_t next() noexcept {  // splitmix64: cheap, no locks, no allocation
    std::uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

thread_local ProcessState state;
// Shared with every process forked from this one (the supervised case, fork-mode branches),
// so that the test process sees how many signals its cases received.
std::atomic<std::uint64_t>* map_counter() noexcept {
  void* page = mmap(nullptr, sizeof(std::atomic<std::uint64_t>), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  static std::atomic<std::uint64_t> fallback{0};
  if (page == MAP_FAILED) return &fallback;
  return new (page) std::atomic<std::uint64_t>(0);
}
std::atomic<std::uint64_t>* const interrupts = map_counter();

static_assert(kInterruptSignal == SIGURG);

void on_interrupt(int) { interrupts->fetch_add(1, std::memory_order_relaxed); }

// A handler without SA_RESTART, so that a blocking call the signal lands in fails with EINTR
// instead of being restarted by the kernel; and a timer that signals this thread only.
void start_storm(ProcessState& s) noexcept {
  struct sigaction action {};
  action.sa_handler = &on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGURG, &action, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGURG);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  sigevent event{};
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = SIGURG;
  event._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
  s.has_timer = timer_create(CLOCK_MONOTONIC, &event, &s.timer) == 0;
}

void stop_storm(ProcessState& s) noexcept {
  if (!s.has_timer) return;
  timer_delete(s.timer);
  s.has_timer = false;
}

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
  if (s.has_timer && static_cast<int>(s.next() % 100) < s.plan.interrupt_percent) {
    itimerspec when{};
    when.it_value.tv_nsec = static_cast<long>(1000 + s.next() % 99'000);
    timer_settime(s.timer, 0, &when, nullptr);
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
  std::string text;
  if (plan.active()) {
    text = "kill:p" + std::to_string(plan.process) + "@" +
           (plan.point[0] ? std::string(plan.point) : std::string("*")) + "#" +
           std::to_string(plan.hit);
  }
  if (plan.storm()) {
    text += (text.empty() ? "" : "+") + std::string("eintr:") +
            std::to_string(plan.interrupt_percent) + "%";
  }
  return text.empty() ? "none" : text;
}

std::uint64_t interrupts_received() noexcept { return interrupts->load(std::memory_order_relaxed); }

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
  stop_storm(s);
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
  if (plan.storm()) start_storm(s);
#if defined(MP_ENABLE_HOOKS)
  mp::hooks::set_hook(&on_hook);
#else
  (void)&on_hook;
#endif
}

void leave_process() noexcept {
  stop_storm(state);
  state.active = false;
}

}  // namespace detail
}  // namespace ipcheck::proptest
