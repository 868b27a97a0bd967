// mp/process.h — processes and the ways to start them.
//
//   mp::init(argc, argv)          the main guard: the first line of main
//   mp::StartMethod               fork, spawn, forkserver or thread; mp::kFork, mp::kSpawn,
//                                 mp::kForkserver, mp::kThread tags
//   mp::Process                   a target function run in another process (or thread)
//   mp::ProcessOptions            name and daemon flag for a Process
//   mp::Context                   a start method chosen at run time: get_context("spawn")
//   mp::StaticContext<M>          a start method known at compile time: get_context(mp::kSpawn)
//   mp::ProcessInfo               name, pid and daemon flag of a running process
//   current_process(), parent_process(), active_children(), cpu_count(), authkey(),
//   set_authkey(), set_start_method(), get_start_method(), ensure_forkserver_running()
//
// Start methods, as in Python's multiprocessing:
//   fork    the child is a copy of the parent (fork(2)); any callable and arguments work.
//   spawn   the child is a fresh image of the same binary (posix_spawn of /proc/self/exe).
//           The target must be a plain function — a free function or a captureless lambda —
//           which the child finds by its offset in the binary; the arguments are serialized
//           (mp/serialize.h). Shared primitives (segments) and Connections passed as
//           arguments are inherited as descriptors. Needs mp::init first in main.
//   forkserver  as spawn for the target, the arguments and mp::init, but the fresh image is
//           made once: a server process (spawned on the first forkserver start) forks each
//           child on request, so a start costs a fork and a round trip, not an exec. The
//           descriptors the child inherits travel to the server over a Unix socket
//           (SCM_RIGHTS) and get their numbers back in the child; so do this process's
//           stdin, stdout and stderr at start(). The child is the server's child, not ours:
//           the server reports its exit status through the sentinel (a pipe, as in Python).
//           Each process that uses forkserver has its own server (a forked child does not
//           share its parent's); it exits when that process does.
//   thread  the "process" is a std::thread of this process (like multiprocessing.dummy), so
//           that ThreadSanitizer sees races between processes. Any callable works.
// The default is fork (Linux Python ≤ 3.13); set_start_method changes it for Processes
// started afterwards without a context.
//
// Exit codes (Process::exitcode): nullopt while running; 0 when the target returns; n when
// the child calls exit(n) (fork, spawn, forkserver); 1 when the target throws — the
// exception's type name and what() go to stderr; -N when the child was killed by signal N;
// 255 if its status was lost (another part of the program reaped it with waitpid(-1), or
// SIGCHLD is ignored; under forkserver: the server was killed before the child exited —
// join then still waits for the child's exit).
//
// A forked child ends with _exit once its target returns (after flushing stdio), so the
// parent's atexit handlers and static destructors do not run twice, as Python's os._exit.
// A spawned child ends with exit(), as a program does.
//
// No zombies: a Process destroyed without join is reaped later (at the next start,
// active_children() or at exit). At exit of a process, as in Python, daemonic children are
// terminated and every child is joined; a daemonic thread-mode child is left running.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/spawn.h"

namespace mp {

// The main guard. Call it first in main, before anything that may start a process:
//   int main(int argc, char** argv) { mp::init(argc, argv); ... }
// In a process started by spawn it runs the target and exits with its exit code: it never
// returns there. Elsewhere it records that the program may spawn and returns at once.
void init(int argc, char** argv);

enum class StartMethod { kFork, kSpawn, kThread, kForkserver };

template <StartMethod M>
struct StartMethodTag {
  static constexpr StartMethod kMethod = M;
};
inline constexpr StartMethodTag<StartMethod::kFork> kFork{};
inline constexpr StartMethodTag<StartMethod::kSpawn> kSpawn{};
inline constexpr StartMethodTag<StartMethod::kThread> kThread{};
inline constexpr StartMethodTag<StartMethod::kForkserver> kForkserver{};

// "fork", "spawn", "forkserver" or "thread".
std::string_view start_method_name(StartMethod method) noexcept;
// The method named `name`. Throws std::invalid_argument for any other name.
StartMethod parse_start_method(std::string_view name);

// Sets the method of Processes started without a context from now on. Throws
// std::invalid_argument for an unknown name. Thread-safe.
void set_start_method(std::string_view name);
void set_start_method(StartMethod method);
StartMethod get_start_method() noexcept;

// Name and daemon flag of a new Process. An empty name gives "Process-N" (N counting the
// processes this process started, ":"-joined with its own numbers for a child's children).
// A daemon defaults to the daemon flag of the current process.
struct ProcessOptions {
  std::string name;
  std::optional<bool> daemon;
};

// What current_process(), parent_process() and active_children() report.
struct ProcessInfo {
  std::string name;
  pid_t pid = 0;  // in thread mode, the pid of the whole process
  bool daemon = false;
};

namespace detail {
struct ProcessState;
}

// -----------------------------------------------------------------------------
// Process
// -----------------------------------------------------------------------------
//
// A target callable and its arguments, run in a child by start(). Movable, not copyable:
// one object owns the child. Not thread-safe: use one Process object from one thread at a
// time (other processes and threads may watch the child through its sentinel).
//
//   mp::Process p(worker, 42, std::string("job"));
//   p.start();
//   p.join();
//   assert(p.exitcode() == 0);
//
// The arguments are copied (decayed) into the Process; the child receives its own copies,
// and start() lets go of the Process's (in thread mode: once the target returns), as Python
// does. The target gets them as rvalues, or — if it takes non-const lvalue references —
// all as lvalues (one target cannot take both T& and U&& parameters).
// A misuse of the object (start twice, join before start, use after close) throws
// std::logic_error.
class Process {
 public:
  // A process that will run std::invoke(target, args...) with the start method current at
  // start(). If that method is spawn, the target must be spawnable (see the file comment):
  // otherwise start() throws mp::ProcessError. Use get_context(mp::kSpawn) to have that
  // checked at compile time.
  template <class F, class... Args>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ProcessOptions> &&
             detail::Runnable<F, Args...>)
  explicit Process(F&& target, Args&&... args)
      : Process(std::nullopt, ProcessOptions{},
                make_target(std::forward<F>(target), std::forward<Args>(args)...)) {}

  template <class F, class... Args>
    requires(detail::Runnable<F, Args...>)
  Process(ProcessOptions options, F&& target, Args&&... args)
      : Process(std::nullopt, std::move(options),
                make_target(std::forward<F>(target), std::forward<Args>(args)...)) {}

  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Does not wait: a child still running is reaped later (see the file comment).
  ~Process();

  // Starts the child. Does not wait for the target. Preconditions: not started, not closed;
  // the current process is not a daemon (as in Python, daemons have no children).
  // Errors: mp::ProcessError if the spawn or forkserver start method is used without
  // mp::init in main, or with a target that cannot be spawned, or if the forkserver died
  // while this start was in flight (the child may or may not have been forked; the next
  // start restarts the server); std::system_error if the OS refuses (fork, posix_spawn,
  // pidfd_open, memfd_create, ...). A forkserver found dead before the request is sent is
  // restarted without an error. Under forkserver, starts from several threads are
  // serialized over the one server connection.
  void start();

  // Blocks until the child has exited or `timeout` seconds have passed (negative: no limit;
  // 0: does not block). Returns true if the child has exited (its exitcode is then set).
  // Preconditions: started, not closed, called in the process that started the child (a
  // forked child holds copies of its parent's Process objects: std::logic_error there).
  // Survives EINTR.
  bool join(double timeout = -1);

  // True from start() until the child has exited. Does not block. Preconditions as join.
  [[nodiscard]] bool is_alive();

  // Sends SIGTERM (terminate) or SIGKILL (kill) to the child; nothing if it has already
  // exited. Does not wait: join() afterwards. Exit code -15 or -9 (unless the child handles
  // SIGTERM). Thread mode: a thread cannot be stopped from outside, so both throw
  // mp::ProcessError; make the target watch an mp::Event instead.
  void terminate();
  void kill();

  // Releases the sentinel and the record of the child. Precondition: the child has exited
  // (throws std::logic_error otherwise, as Python's ValueError). Afterwards only name(),
  // daemon() and exitcode() may be used.
  void close();

  // The child's pid (0 before start). Thread mode: the pid of this process.
  [[nodiscard]] pid_t pid() const;
  // nullopt while the child runs (or before start); its exit code once it has exited (see
  // the file comment). Does not block: like Python, it polls (and reaps) the child.
  [[nodiscard]] std::optional<int> exitcode() const;
  // A descriptor that becomes readable (poll, mp::wait) when the child exits: a pidfd; in
  // thread mode an eventfd; under forkserver the pipe the server writes the exit status to
  // (if the server dies first, the same descriptor number becomes the child's pidfd; it
  // may read as ready once at that moment). Owned by the Process; valid from start() until
  // close().
  [[nodiscard]] int sentinel() const;

  [[nodiscard]] const std::string& name() const;
  void set_name(std::string name);
  [[nodiscard]] bool daemon() const;
  // Precondition: not started.
  void set_daemon(bool daemon);

  // The start method fixed for this Process, or nullopt for "current at start()".
  [[nodiscard]] std::optional<StartMethod> start_method() const;

 private:
  template <StartMethod>
  friend class StaticContext;
  friend class Context;

  template <class F, class... Args>
  static std::unique_ptr<detail::Target> make_target(F&& target, Args&&... args) {
    return std::make_unique<detail::BoundTarget<std::decay_t<F>, std::decay_t<Args>...>>(
        std::forward<F>(target), std::forward<Args>(args)...);
  }

  Process(std::optional<StartMethod> method, ProcessOptions options,
          std::unique_ptr<detail::Target> target);

  detail::ProcessState& state() const;

  std::shared_ptr<detail::ProcessState> state_;
};

// -----------------------------------------------------------------------------
// Contexts
// -----------------------------------------------------------------------------

// A start method chosen at run time (Python's get_context("spawn")). Processes made by
// Process() use it whatever set_start_method says. A target that spawn cannot run is
// rejected at start() (mp::ProcessError); a StaticContext rejects it at compile time.
class Context {
 public:
  explicit Context(StartMethod method) noexcept : method_(method) {}

  [[nodiscard]] StartMethod method() const noexcept { return method_; }
  [[nodiscard]] std::string_view get_start_method() const noexcept {
    return start_method_name(method_);
  }

  template <class F, class... Args>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ProcessOptions> &&
             detail::Runnable<F, Args...>)
  mp::Process Process(F&& target, Args&&... args) const {
    return ::mp::Process(
        method_, ProcessOptions{},
        ::mp::Process::make_target(std::forward<F>(target), std::forward<Args>(args)...));
  }

  template <class F, class... Args>
    requires(detail::Runnable<F, Args...>)
  mp::Process Process(ProcessOptions options, F&& target, Args&&... args) const {
    return ::mp::Process(
        method_, std::move(options),
        ::mp::Process::make_target(std::forward<F>(target), std::forward<Args>(args)...));
  }

 private:
  StartMethod method_;
};

// A start method known at compile time: get_context(mp::kSpawn). With spawn or forkserver, a
// target that is not a plain function, or arguments that cannot be serialized, do not
// compile.
template <StartMethod M>
class StaticContext {
 public:
  static constexpr StartMethod kMethod = M;

  [[nodiscard]] static constexpr StartMethod method() noexcept { return M; }
  [[nodiscard]] std::string_view get_start_method() const noexcept { return start_method_name(M); }
  operator Context() const noexcept { return Context(M); }  // NOLINT: a context is a context

  template <class F, class... Args>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ProcessOptions>)
  mp::Process Process(F&& target, Args&&... args) const {
    return Process(ProcessOptions{}, std::forward<F>(target), std::forward<Args>(args)...);
  }

  template <class F, class... Args>
  mp::Process Process(ProcessOptions options, F&& target, Args&&... args) const {
    if constexpr (M == StartMethod::kSpawn || M == StartMethod::kForkserver) {
      static_assert(detail::PlainFunction<F>,
                    "mp: a spawn target must be a plain function — a free function or a "
                    "captureless lambda: the spawned child is a fresh image of the program and "
                    "finds the function by its address in the binary, while a lambda's "
                    "captures live only in the parent's memory. Pass the captured values as "
                    "arguments instead, or use the fork or thread start method");
      static_assert(!detail::PlainFunction<F> || detail::kIsSpawnable<F, Args...>,
                    "mp: the arguments of a spawn target must match its parameters and be "
                    "serializable (see mp/serialize.h): the spawned child receives them as bytes");
    }
    static_assert(detail::Runnable<F, Args...>,
                  "mp: the target cannot be called with these arguments");
    return ::mp::Process(
        M, std::move(options),
        ::mp::Process::make_target(std::forward<F>(target), std::forward<Args>(args)...));
  }
};

// The context of the method named `name` ("fork", "spawn", "forkserver", "thread"); an empty
// name gives the current default. Throws std::invalid_argument for any other name.
Context get_context(std::string_view name = {});

template <StartMethod M>
constexpr StaticContext<M> get_context(StartMethodTag<M>) noexcept {
  return {};
}

// -----------------------------------------------------------------------------
// Free functions
// -----------------------------------------------------------------------------

// The process (or thread-mode process) calling it: "MainProcess" in the main program.
ProcessInfo current_process();
// The process that started the current one; nullopt in the main program.
std::optional<ProcessInfo> parent_process();
// The children started by the current process that are still running. Reaps (joins) those
// that have exited, as Python does. Does not block.
std::vector<ProcessInfo> active_children();
// Number of CPUs online.
int cpu_count() noexcept;

// Starts this process's forkserver now if it is not running (Python's
// multiprocessing.forkserver.ensure_running), so that the first forkserver start does not
// pay for the exec. Needs mp::init first in main (mp::ProcessError otherwise). Thread-safe.
void ensure_forkserver_running();

// The authentication key of the current process (Python's current_process().authkey): 32
// random bytes in the main program, inherited by every child it starts (fork, spawn,
// thread). Managers and listeners use it by default. Thread-safe.
std::string authkey();
// Replaces the key for this process and the children it starts from now on. An empty key
// is replaced by 32 fresh random bytes when next needed.
void set_authkey(std::string key);

namespace detail {
// For tests of the main guard: whether mp::init has run in this process.
bool initialized() noexcept;
void set_initialized_for_testing(bool value) noexcept;
// For tests: the pid of this process's forkserver (0 if it has none), to kill it.
pid_t forkserver_pid_for_testing();
}  // namespace detail

}  // namespace mp
