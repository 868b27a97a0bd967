// Private to the runtime: the state behind an mp::Process, shared by process.cpp (lifecycle,
// fork, thread) and spawn.cpp (spawn and the spawned child's side of mp::init).
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "mp/process.h"

namespace mp::detail {

// Who the current process (or thread-mode process) is.
struct Self {
  std::string name;
  bool daemon = false;
  std::string identity;  // "1:2" for Process-1:2; empty for the main process
  std::optional<ProcessInfo> parent;
  std::atomic<int> child_counter{0};
};

Self& current_self();

enum class Phase { kCreated, kStarted, kClosed };

struct ProcessState {
  ~ProcessState();

  // Records the exit if the child has exited. Never blocks.
  bool try_reap();
  // Waits up to `timeout` seconds (negative: forever) for the exit, then records it.
  bool join(double timeout);
  bool reap_locked(int waitpid_options);
  void record_exit(pid_t waited, int status);
  // Sets pid and sentinel (a pidfd) for a child just started. Errors: std::system_error
  // (pidfd_open), after killing and reaping the child.
  void watch_child(pid_t child);
  // The pidfd that signals reach the child through.
  int signal_fd() const { return pidfd >= 0 ? pidfd : sentinel; }

  std::unique_ptr<Target> target;
  std::optional<StartMethod> method;  // fixed by a context, or nullopt
  StartMethod used_method = StartMethod::kFork;
  std::string name;
  bool daemon = false;
  std::string identity;
  Phase phase = Phase::kCreated;
  const Self* parent = nullptr;

  pid_t pid = 0;
  pid_t creator_pid = 0;     // the process that started the child: only it may wait
  int sentinel = -1;         // pidfd; eventfd in thread mode; the status pipe under forkserver
  int pidfd = -1;            // forkserver: the child's pidfd (the sentinel is the status pipe)
  bool status_lost = false;  // forkserver: the server died before the child; sentinel = pidfd
  std::mutex reap_mutex;
  std::atomic<bool> done{false};
  std::atomic<int> code{0};

  // Thread mode.
  std::thread thread;
  std::unique_ptr<Self> thread_self;
  std::atomic<bool> thread_finished{false};
};

// Runs `body` as a child's target: an escaping exception is reported on stderr ("Process
// <name>:" then "<type>: <what>") and gives exit code 1. Returns the exit code.
int run_guarded(const std::string& name, const std::function<void()>& body);

std::string demangled_type_name(const std::type_info& type);
std::string current_exception_type_name();

// connection.cpp: ppoll over `fds` for `timeout` seconds (negative: forever), surviving
// EINTR. Returns how many are ready.
int poll_fds(pollfd* fds, nfds_t n, double timeout);

// A code address as "module + offset", valid in any process running the same binaries
// (spawn targets, pool tasks).
struct CodeAddress {
  std::string module;  // empty: the main program
  std::uint64_t offset = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(module, offset);
  }
};
// Where `address` is. Throws mp::ProcessError if it is in no loaded module.
CodeAddress locate_code(const void* address);
// The address of `address` in this process, loading its module if the parent had loaded it
// with dlopen. Throws mp::ProcessError if that fails.
void* resolve_code(const CodeAddress& address);

// spawn.cpp
void start_spawn(ProcessState& s);
void record_argv(int argc, char** argv);
void run_if_spawned_child();
// What a spawned or forkserver child needs to run s's target (where the function is, the
// arguments, who it is), serialized. Adds the descriptors the child must inherit under the
// same numbers to `fds` (the arguments' and every live segment's; may repeat one).
// Errors: mp::ProcessError without mp::init or for a target that cannot be spawned.
std::string make_spawn_payload(ProcessState& s, std::vector<int>& fds);
// A sealed-off copy of `bytes` in a new memfd (close-on-exec).
int write_payload_fd(const std::string& bytes, const char* debug_name);
// The bytes of a payload memfd; in a child, exits with a message if it cannot.
std::string read_payload_fd(int fd);
// posix_spawn of /proc/self/exe with `inherited` kept open under the same numbers and
// `variable` ("NAME=value") added to the environment. Returns the pid.
pid_t spawn_self(const std::vector<int>& inherited, const std::string& variable);
// In the child: becomes the process the payload describes, runs its target, exits.
[[noreturn]] void run_payload(const std::string& bytes);

// forkserver.cpp
// Names the socket a fresh image is to serve forkserver requests on.
inline constexpr const char* kForkserverVariable = "MP_FORKSERVER_FD";
void start_forkserver(ProcessState& s);
// The forkserver's loop, in the fresh image mp::init found MP_FORKSERVER_FD in.
[[noreturn]] void run_forkserver(int socket_fd);
// Reads the exit status a forkserver child's sentinel delivers (WNOHANG: without
// blocking). The caller holds s.reap_mutex. True once the exit is recorded.
bool reap_forkserver_child(ProcessState& s, int waitpid_options);

// process.cpp, for the spawned child
void become_spawned_child(std::string name, bool daemon, std::string identity, ProcessInfo parent);
void run_exit_function();
void ensure_authkey();
void ensure_exit_function();

}  // namespace mp::detail
