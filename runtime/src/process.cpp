// Process lifecycle: start by fork, spawn or thread; join, reap, signals; the main guard.
#include "mp/process.h"

#include <poll.h>
#include <signal.h>
#include <stdio_ext.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "mp/errors.h"
#include "mp/hook.h"
#include "spawn_internal.h"

namespace mp {
namespace detail {

// -----------------------------------------------------------------------------
// Who we are
// -----------------------------------------------------------------------------

namespace {

std::atomic<StartMethod> g_default_method{StartMethod::kFork};
std::atomic<bool> g_initialized{false};

Self* g_self = new Self{"MainProcess", false, {}, std::nullopt, {}};  // never destroyed
thread_local Self* t_self = nullptr;                                  // set in thread-mode children

// Children started by this process and not yet reaped. Never destroyed: reaping runs from
// an atexit handler, after which static destructors may still start nothing.
struct Children {
  std::mutex mutex;
  std::vector<std::shared_ptr<ProcessState>> states;
};
Children* g_children = new Children;
std::once_flag g_atexit_once;

void exit_function();

void register_child(std::shared_ptr<ProcessState> state) {
  std::call_once(g_atexit_once, [] { std::atexit(exit_function); });
  std::lock_guard lock(g_children->mutex);
  g_children->states.push_back(std::move(state));
}

void unregister_child(const ProcessState* state) {
  std::lock_guard lock(g_children->mutex);
  auto& v = g_children->states;
  v.erase(std::remove_if(v.begin(), v.end(), [&](auto& s) { return s.get() == state; }), v.end());
}

std::vector<std::shared_ptr<ProcessState>> children_of(const Self* parent) {
  std::lock_guard lock(g_children->mutex);
  std::vector<std::shared_ptr<ProcessState>> out;
  for (auto& s : g_children->states)
    if (s->parent == parent) out.push_back(s);
  return out;
}

// True if `fd` became readable within `timeout` seconds (negative: forever).
bool wait_readable(int fd, double timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll_fds(&p, 1, timeout) > 0;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return 255;
}

// Flushes what the C and C++ standard streams hold, so that nothing is written twice (by
// parent and forked child) or lost (by _exit). Looks before locking: a lock is a write, and
// after fork every written page costs a copy.
void flush_std_streams() {
  if (__fpending(stdout) > 0) std::fflush(stdout);
  if (__fpending(stderr) > 0) std::fflush(stderr);
}

}  // namespace

Self& current_self() { return t_self != nullptr ? *t_self : *g_self; }

bool initialized() noexcept { return g_initialized.load(); }
void set_initialized_for_testing(bool value) noexcept { g_initialized.store(value); }

// -----------------------------------------------------------------------------
// ProcessState
// -----------------------------------------------------------------------------

ProcessState::~ProcessState() {
  if (thread.joinable()) thread.detach();  // a daemonic thread left running at exit
  if (sentinel >= 0) ::close(sentinel);
  if (pidfd >= 0) ::close(pidfd);
}

void ProcessState::record_exit(pid_t waited, int status) {
  // waited < 0 is ECHILD: someone else reaped the child (waitpid(-1) elsewhere, SIGCHLD
  // ignored). Its status is lost; report a failure rather than pretend success.
  code.store(waited < 0 ? 255 : decode_status(status), std::memory_order_relaxed);
  done.store(true, std::memory_order_release);
  MP_HOOK("process.reaped");
}

// Waits for the child (`options` 0) or looks (WNOHANG) and records its exit if it has
// exited. The caller holds reap_mutex.
bool ProcessState::reap_locked(int options) {
  if (done.load(std::memory_order_acquire)) return true;
  if (used_method == StartMethod::kThread) {
    if ((options & WNOHANG) && !thread_finished.load(std::memory_order_acquire)) return false;
    if (thread.joinable()) thread.join();
    done.store(true, std::memory_order_release);
    return true;
  }
  if (used_method == StartMethod::kForkserver) return reap_forkserver_child(*this, options);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, options);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  record_exit(r, status);
  return true;
}

// Records the exit if the child has exited. Never blocks.
bool ProcessState::try_reap() {
  if (done.load(std::memory_order_acquire)) return true;
  std::unique_lock lock(reap_mutex, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // another thread is reaping it right now
  return reap_locked(WNOHANG);
}

bool ProcessState::join(double timeout) {
  if (done.load(std::memory_order_acquire)) return true;
  if (timeout < 0) {
    // No limit: wait in the kernel directly, one call.
    std::lock_guard lock(reap_mutex);
    return reap_locked(0);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  for (;;) {
    if (try_reap()) return true;
    const double left =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (!wait_readable(sentinel, std::max(0.0, left))) return false;
    // Readable sentinel: the child has exited; try_reap can only fail while another thread
    // holds the reap lock, which it then releases without blocking for long; or, under
    // forkserver, the server died and the sentinel has just become the child's pidfd.
    if (try_reap()) return true;
    std::this_thread::yield();
  }
}

void ProcessState::watch_child(pid_t child) {
  pid = child;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  if (pidfd < 0) {
    int err = errno;
    ::kill(child, SIGKILL);  // a child we cannot watch is a child we cannot reap safely
    ::waitpid(child, nullptr, 0);
    throw_errno("pidfd_open", err);
  }
  sentinel = pidfd;
}

namespace {

// Reaps every child that has exited, as Python does at each start and active_children().
void reap_finished() {
  std::vector<std::shared_ptr<ProcessState>> states;
  {
    std::lock_guard lock(g_children->mutex);
    states = g_children->states;
  }
  for (auto& s : states)
    if (s->try_reap()) unregister_child(s.get());
}

// At exit, as Python's _exit_function: terminate daemonic children, then join the rest.
// Daemonic thread-mode children cannot be stopped and are left running.
void exit_function() {
  const Self* me = &current_self();
  auto states = children_of(me);
  for (auto& s : states) {
    if (s->daemon && s->used_method != StartMethod::kThread && !s->try_reap())
      ::syscall(SYS_pidfd_send_signal, s->signal_fd(), SIGTERM, nullptr, 0);
  }
  for (auto& s : states) {
    if (s->daemon && s->used_method == StartMethod::kThread) continue;
    s->join(-1);
    unregister_child(s.get());
  }
}

}  // namespace

// -----------------------------------------------------------------------------
// Running a target in the child
// -----------------------------------------------------------------------------

int run_guarded(const std::string& name, const std::function<void()>& body) {
  MP_HOOK("process.child.begin");
  int code = 0;
  try {
    body();
  } catch (const std::exception& e) {
    std::string type = demangled_type_name(typeid(e));
    std::fprintf(stderr, "Process %s:\n%s: %s\n", name.c_str(), type.c_str(), e.what());
    code = 1;
  } catch (...) {
    std::string type = current_exception_type_name();
    std::fprintf(stderr, "Process %s:\n%s\n", name.c_str(), type.c_str());
    code = 1;
  }
  MP_HOOK("process.child.end");
  return code;
}

namespace {

// The identity of the next child ("3", or "1:3" in Process-1), counting this process's
// children.
std::string next_child_identity() {
  Self& me = current_self();
  std::string n = std::to_string(me.child_counter.fetch_add(1) + 1);
  return me.identity.empty() ? n : me.identity + ":" + n;
}

// Storage for the records of a forked child: static, so that setting them up writes one
// page of ours instead of the allocator's pages (after fork each written page is copied).
alignas(Self) unsigned char g_forked_self[sizeof(Self)];
alignas(Children) unsigned char g_forked_children[sizeof(Children)];

void start_fork(ProcessState& s) {
  flush_std_streams();
  const pid_t parent_pid = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    // The child: a fresh record of who we are and of our (no) children. The old records
    // are left as they are: another thread of the parent may have held their locks.
    // Copied first: the parent's record may itself live in g_forked_self.
    ProcessInfo parent{current_self().name, parent_pid, current_self().daemon};
    g_self = new (g_forked_self) Self{s.name, s.daemon, s.identity, std::move(parent), {}};
    t_self = nullptr;
    g_children = new (g_forked_children) Children;
    int code = run_guarded(s.name, [&] { s.target->run(); });
    exit_function();
    flush_std_streams();
    ::_exit(code);
  }
  s.watch_child(pid);
}

void start_thread(ProcessState& s) {
  int efd = ::eventfd(0, EFD_CLOEXEC);
  if (efd < 0) throw_errno("eventfd");
  s.sentinel = efd;
  s.pid = ::getpid();
  s.thread_self.reset(new Self{s.name,
                               s.daemon,
                               s.identity,
                               ProcessInfo{current_self().name, ::getpid(), current_self().daemon},
                               {}});
  ProcessState* state = &s;  // the registry keeps the state alive until the thread is joined
  s.thread = std::thread([state] {
    t_self = state->thread_self.get();
    int code = run_guarded(state->name, [state] { state->target->run(); });
    state->target.reset();  // as Python drops _target and _args: let go of the arguments
    state->code.store(code, std::memory_order_relaxed);
    state->thread_finished.store(true, std::memory_order_release);
    std::uint64_t one = 1;
    while (::write(state->sentinel, &one, sizeof one) < 0 && errno == EINTR) {
    }
  });
}

}  // namespace
}  // namespace detail

// -----------------------------------------------------------------------------
// Start methods
// -----------------------------------------------------------------------------

std::string_view start_method_name(StartMethod method) noexcept {
  switch (method) {
    case StartMethod::kFork:
      return "fork";
    case StartMethod::kSpawn:
      return "spawn";
    case StartMethod::kThread:
      return "thread";
    case StartMethod::kForkserver:
      return "forkserver";
  }
  return "?";
}

StartMethod parse_start_method(std::string_view name) {
  if (name == "fork") return StartMethod::kFork;
  if (name == "spawn") return StartMethod::kSpawn;
  if (name == "thread") return StartMethod::kThread;
  if (name == "forkserver") return StartMethod::kForkserver;
  throw std::invalid_argument("mp: unknown start method '" + std::string(name) +
                              "' (expected fork, spawn, forkserver or thread)");
}

void set_start_method(std::string_view name) { set_start_method(parse_start_method(name)); }
void set_start_method(StartMethod method) { detail::g_default_method.store(method); }
StartMethod get_start_method() noexcept { return detail::g_default_method.load(); }

Context get_context(std::string_view name) {
  return Context(name.empty() ? get_start_method() : parse_start_method(name));
}

// -----------------------------------------------------------------------------
// Process
// -----------------------------------------------------------------------------

Process::Process(std::optional<StartMethod> method, ProcessOptions options,
                 std::unique_ptr<detail::Target> target)
    : state_(std::make_shared<detail::ProcessState>()) {
  auto& s = *state_;
  s.method = method;
  s.target = std::move(target);
  s.name = std::move(options.name);
  s.daemon = options.daemon.value_or(detail::current_self().daemon);
}

Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&&) noexcept = default;
Process::~Process() = default;

detail::ProcessState& Process::state() const {
  if (!state_) throw std::logic_error("mp::Process: use of a moved-from Process");
  return *state_;
}

void Process::start() {
  auto& s = state();
  if (s.phase != detail::Phase::kCreated)
    throw std::logic_error("mp::Process::start: cannot start a process twice");
  if (detail::current_self().daemon)
    throw std::logic_error(
        "mp::Process::start: daemonic processes are not allowed to have "
        "children");
  detail::reap_finished();
  detail::ensure_authkey();
  s.used_method = s.method.value_or(get_start_method());
  s.identity = detail::next_child_identity();
  if (s.name.empty()) s.name = "Process-" + s.identity;
  s.parent = &detail::current_self();
  s.creator_pid = ::getpid();
  MP_HOOK("process.start.before");
  switch (s.used_method) {
    case StartMethod::kFork:
      detail::start_fork(s);
      break;
    case StartMethod::kSpawn:
      detail::start_spawn(s);
      break;
    case StartMethod::kThread:
      detail::start_thread(s);
      break;
    case StartMethod::kForkserver:
      detail::start_forkserver(s);
      break;
  }
  s.phase = detail::Phase::kStarted;
  // As Python's start(): the parent lets go of the target and its arguments once the child
  // has its own copies (in thread mode, the thread lets go when the target returns).
  if (s.used_method != StartMethod::kThread) s.target.reset();
  detail::register_child(state_);
  MP_HOOK("process.start.after");
}

namespace {
// Only the process that started a child can wait for it (a forked child holds copies of its
// parent's Process objects, as in Python).
void check_creator(const detail::ProcessState& s, const char* what) {
  if (s.creator_pid != ::getpid()) throw std::logic_error(std::string("mp::Process::") + what);
}
}  // namespace

bool Process::join(double timeout) {
  auto& s = state();
  if (s.phase == detail::Phase::kCreated)
    throw std::logic_error("mp::Process::join: can only join a started process");
  if (s.phase == detail::Phase::kClosed)
    throw std::logic_error("mp::Process::join: process object is closed");
  check_creator(s, "join: can only join a child process");
  MP_HOOK("process.join.before");
  if (!s.join(timeout)) return false;
  detail::unregister_child(&s);
  return true;
}

bool Process::is_alive() {
  auto& s = state();
  if (s.phase == detail::Phase::kClosed)
    throw std::logic_error("mp::Process::is_alive: process object is closed");
  if (s.phase == detail::Phase::kCreated) return false;
  check_creator(s, "is_alive: can only test a child process");
  return !s.try_reap();
}

namespace {
void send_signal(detail::ProcessState& s, int sig, const char* what) {
  if (s.phase != detail::Phase::kStarted)
    throw std::logic_error(std::string("mp::Process::") + what + ": process not running");
  if (s.used_method == StartMethod::kThread)
    throw ProcessError(std::string("mp::Process::") + what +
                       ": a thread-mode process cannot be stopped from outside; have the "
                       "target watch an mp::Event instead");
  if (s.done.load(std::memory_order_acquire)) return;
  MP_HOOK("process.signal");
  if (::syscall(SYS_pidfd_send_signal, s.signal_fd(), sig, nullptr, 0) != 0 && errno != ESRCH)
    detail::throw_errno("pidfd_send_signal");
}
}  // namespace

void Process::terminate() { send_signal(state(), SIGTERM, "terminate"); }
void Process::kill() { send_signal(state(), SIGKILL, "kill"); }

void Process::close() {
  auto& s = state();
  if (s.phase == detail::Phase::kClosed) return;
  if (s.phase == detail::Phase::kStarted) {
    if (!s.try_reap())
      throw std::logic_error(
          "mp::Process::close: cannot close a process while it is still "
          "running; join() or terminate() it first");
    detail::unregister_child(&s);
  }
  if (s.sentinel >= 0) ::close(s.sentinel);
  if (s.pidfd >= 0) ::close(s.pidfd);
  s.sentinel = -1;
  s.pidfd = -1;
  s.target.reset();
  s.phase = detail::Phase::kClosed;
}

pid_t Process::pid() const { return state().pid; }

std::optional<int> Process::exitcode() const {
  auto& s = state();
  if (s.phase != detail::Phase::kStarted || s.creator_pid != ::getpid() || !s.try_reap()) {
    if (!s.done.load(std::memory_order_acquire)) return std::nullopt;
  }
  return s.code.load(std::memory_order_relaxed);
}

int Process::sentinel() const {
  auto& s = state();
  if (s.phase != detail::Phase::kStarted)
    throw std::logic_error("mp::Process::sentinel: process not started or closed");
  return s.sentinel;
}

const std::string& Process::name() const { return state().name; }
void Process::set_name(std::string name) { state().name = std::move(name); }
bool Process::daemon() const { return state().daemon; }
void Process::set_daemon(bool daemon) {
  auto& s = state();
  if (s.phase != detail::Phase::kCreated)
    throw std::logic_error("mp::Process::set_daemon: process has already started");
  s.daemon = daemon;
}
std::optional<StartMethod> Process::start_method() const { return state().method; }

// -----------------------------------------------------------------------------
// Free functions
// -----------------------------------------------------------------------------

ProcessInfo current_process() {
  auto& me = detail::current_self();
  return ProcessInfo{me.name, ::getpid(), me.daemon};
}

std::optional<ProcessInfo> parent_process() { return detail::current_self().parent; }

std::vector<ProcessInfo> active_children() {
  detail::reap_finished();
  std::vector<ProcessInfo> out;
  for (auto& s : detail::children_of(&detail::current_self()))
    if (!s->try_reap()) out.push_back(ProcessInfo{s->name, s->pid, s->daemon});
  return out;
}

namespace detail {
namespace {
struct Authkey {
  std::mutex mutex;
  std::string key;
};
Authkey& authkey_record() {
  static auto* r = new Authkey;  // never destroyed: children may start during teardown
  return *r;
}
}  // namespace

// Makes sure the key exists before a child copies it (fork) or is given it (spawn).
void ensure_authkey() {
  auto& r = authkey_record();
  std::lock_guard lock(r.mutex);
  if (!r.key.empty()) return;
  r.key.resize(32);
  std::size_t done = 0;
  while (done < r.key.size()) {
    ssize_t n = ::getrandom(r.key.data() + done, r.key.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom");
    }
    done += static_cast<std::size_t>(n);
  }
}
}  // namespace detail

std::string authkey() {
  detail::ensure_authkey();
  auto& r = detail::authkey_record();
  std::lock_guard lock(r.mutex);
  return r.key;
}

void set_authkey(std::string key) {
  auto& r = detail::authkey_record();
  std::lock_guard lock(r.mutex);
  r.key = std::move(key);
}

int cpu_count() noexcept {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

void init(int argc, char** argv) {
  detail::g_initialized.store(true);
  detail::record_argv(argc, argv);
  detail::run_if_spawned_child();  // never returns in a spawned child
}

namespace detail {
void become_spawned_child(std::string name, bool daemon, std::string identity, ProcessInfo parent) {
  // In place: the exec'd image has one thread yet, and a new record would leak the first.
  g_self->~Self();
  new (g_self) Self{std::move(name), daemon, std::move(identity), std::move(parent), {}};
}
void run_exit_function() { exit_function(); }
void ensure_exit_function() {
  std::call_once(g_atexit_once, [] { std::atexit(exit_function); });
}
}  // namespace detail

}  // namespace mp
