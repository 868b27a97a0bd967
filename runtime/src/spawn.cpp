// The spawn start method: posix_spawn of /proc/self/exe, and the child's side in mp::init.
//
// The parent writes a payload (where the target and its trampoline are, the serialized
// arguments, the child's name) into a memfd, and names it in MP_SPAWN_FD. The child, a fresh
// image of the same binary, reaches mp::init first thing in main, reads the payload, adds
// the offsets to the load bases of its own modules and calls the trampoline.
#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mp/detail/segment.h"
#include "mp/errors.h"
#include "mp/hook.h"
#include "mp/serialize.h"
#include "spawn_internal.h"

extern char** environ;

namespace mp::detail {
namespace {

constexpr const char* kPayloadVariable = "MP_SPAWN_FD";

struct Payload {
  CodeAddress fn;
  CodeAddress trampoline;
  std::string args;
  std::string name;
  bool daemon = false;
  std::string identity;
  std::string parent_name;
  int parent_pid = 0;
  bool parent_daemon = false;
  std::string authkey;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(fn, trampoline, args, name, daemon, identity, parent_name, parent_pid, parent_daemon,
       authkey);
  }
};

struct LocateQuery {
  std::uintptr_t address;
  bool found = false;
  CodeAddress result;
};

}  // namespace

CodeAddress locate_code(const void* address) {
  LocateQuery query{reinterpret_cast<std::uintptr_t>(address), false, {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto* q = static_cast<LocateQuery*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD) continue;
          std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
          if (q->address >= begin && q->address < begin + ph.p_memsz) {
            // The main program comes first and has an empty name; keep it empty.
            q->result.module = info->dlpi_name != nullptr ? info->dlpi_name : "";
            q->result.offset = q->address - info->dlpi_addr;
            q->found = true;
            return 1;
          }
        }
        return 0;
      },
      &query);
  if (!query.found)
    throw ProcessError("mp: the code of a spawn target or pool task is in no loaded module");
  return query.result;
}

namespace {

struct BaseQuery {
  const std::string* module;
  bool first = true;
  bool found = false;
  std::uintptr_t base = 0;
};

bool find_base(const std::string& module, std::uintptr_t& base) {
  BaseQuery query{&module};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto* q = static_cast<BaseQuery*>(data);
        bool is_main = q->first;
        q->first = false;
        const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
        if ((q->module->empty() && is_main) || (!q->module->empty() && *q->module == name)) {
          q->base = info->dlpi_addr;
          q->found = true;
          return 1;
        }
        return 0;
      },
      &query);
  base = query.base;
  return query.found;
}

}  // namespace

void* resolve_code(const CodeAddress& address) {
  std::uintptr_t base = 0;
  if (!find_base(address.module, base)) {
    // A library the parent loaded with dlopen: load it here too.
    if (::dlopen(address.module.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr ||
        !find_base(address.module, base))
      throw ProcessError("mp: cannot load module '" + address.module + "' of a target");
  }
  return reinterpret_cast<void*>(base + address.offset);
}

namespace {

[[noreturn]] void child_failure(const std::string& what) {
  std::fprintf(stderr, "mp: spawned child: %s\n", what.c_str());
  std::fflush(stderr);
  ::_exit(1);
}

void* resolve(const CodeAddress& address) {
  try {
    return resolve_code(address);
  } catch (const std::exception& e) {
    child_failure(e.what());
  }
}

std::vector<char*>& saved_argv() {
  static auto* argv = new std::vector<char*>;
  return *argv;
}

thread_local std::vector<int>* t_collector = nullptr;

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::string read_payload(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) child_failure("cannot stat the payload descriptor");
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) child_failure("cannot read the payload");
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

// posix_spawn file actions, destroyed on scope exit.
struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  // Keeps `fd` open across exec under the same number: glibc ≥ 2.29 clears FD_CLOEXEC on
  // dup2(fd, fd).
  void inherit(int fd) {
    if (int err = posix_spawn_file_actions_adddup2(&actions, fd, fd); err != 0)
      throw_errno("posix_spawn_file_actions_adddup2", err);
  }
};

}  // namespace

// -----------------------------------------------------------------------------
// Inherited descriptors
// -----------------------------------------------------------------------------

void inherit_fd(int fd) {
  if (t_collector != nullptr) t_collector->push_back(fd);
}

InheritedFdCollector::InheritedFdCollector(std::vector<int>& fds) : previous_(t_collector) {
  t_collector = &fds;
}
InheritedFdCollector::~InheritedFdCollector() { t_collector = previous_; }

// -----------------------------------------------------------------------------
// Type names
// -----------------------------------------------------------------------------

std::string demangled_type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

std::string current_exception_type_name() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  return type != nullptr ? demangled_type_name(*type) : std::string("unknown exception");
}

// -----------------------------------------------------------------------------
// Parent side
// -----------------------------------------------------------------------------

void record_argv(int argc, char** argv) {
  auto& saved = saved_argv();
  saved.assign(argv, argv + argc);
  saved.push_back(nullptr);
}

std::string make_spawn_payload(ProcessState& s, std::vector<int>& fds) {
  const std::string method(start_method_name(s.used_method));
  if (!initialized())
    throw ProcessError("mp: cannot start a process with the " + method +
                       " start method: main did not call mp::init(argc, argv) first. A " + method +
                       " child (or the forkserver) runs the program's main from the start and "
                       "mp::init is where it takes up its target; make `mp::init(argc, argv);` "
                       "the first line of main");
  std::optional<SpawnTarget> target;
  {
    InheritedFdCollector collector(fds);
    target = s.target->spawn_target();
  }
  if (!target)
    throw ProcessError("mp: this Process's target cannot be started with " + method +
                       ": it must be a plain function (a free function or a captureless "
                       "lambda) whose arguments match its parameters and are serializable "
                       "(mp/serialize.h). Use get_context(mp::k" +
                       (s.used_method == StartMethod::kSpawn ? "Spawn" : "Forkserver") +
                       ") to have this checked at compile time, or the fork or thread start "
                       "method");
  for (int fd : Segment::live_fds()) fds.push_back(fd);

  const Self& me = current_self();
  Payload payload{locate_code(target->fn),
                  locate_code(reinterpret_cast<const void*>(target->trampoline)),
                  std::move(target->args),
                  s.name,
                  s.daemon,
                  s.identity,
                  me.name,
                  static_cast<int>(::getpid()),
                  me.daemon,
                  mp::authkey()};
  return mp::serialize(payload);
}

int write_payload_fd(const std::string& bytes, const char* debug_name) {
  int fd = ::memfd_create(debug_name, MFD_CLOEXEC);
  if (fd < 0) throw_errno("memfd_create");
  try {
    write_all(fd, bytes.data(), bytes.size());
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

std::vector<char*> child_environment(const std::string& variable) {
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with(kPayloadVariable + std::string("=")) ||
        entry.starts_with(kForkserverVariable + std::string("=")))
      continue;
    env.push_back(*e);
  }
  env.push_back(const_cast<char*>(variable.c_str()));
  env.push_back(nullptr);
  return env;
}

char** child_argv() {
  auto& argv = saved_argv();
  static char fallback_name[] = "mp-spawn";
  static char* fallback[] = {fallback_name, nullptr};
  return argv.size() > 1 ? argv.data() : fallback;
}

pid_t spawn_self(const std::vector<int>& inherited, const std::string& variable) {
  FileActions actions;
  for (int fd : inherited) actions.inherit(fd);
  std::vector<char*> env = child_environment(variable);
  std::cout.flush();
  std::fflush(nullptr);
  // The child starts with no signal blocked, whatever this thread blocks: terminate() must
  // reach it.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, "/proc/self/exe", &actions.actions, &attributes, child_argv(),
                          env.data());
  posix_spawnattr_destroy(&attributes);
  if (err != 0) throw_errno("posix_spawn", err);
  return pid;
}

void start_spawn(ProcessState& s) {
  std::vector<int> fds;
  std::string bytes = make_spawn_payload(s, fds);
  int payload_fd = write_payload_fd(bytes, "mp-spawn");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{payload_fd};
  fds.push_back(payload_fd);
  MP_HOOK("process.spawn.before");
  s.watch_child(spawn_self(fds, std::string(kPayloadVariable) + "=" + std::to_string(payload_fd)));
}

// -----------------------------------------------------------------------------
// Child side
// -----------------------------------------------------------------------------

void run_if_spawned_child() {
  if (const char* server = std::getenv(kForkserverVariable); server != nullptr) {
    char* end = nullptr;
    long fd = std::strtol(server, &end, 10);
    if (end == server || *end != '\0' || fd < 0) child_failure("bad MP_FORKSERVER_FD");
    ::unsetenv(kForkserverVariable);  // the server's children are not servers
    run_forkserver(static_cast<int>(fd));
  }
  const char* value = std::getenv(kPayloadVariable);
  if (value == nullptr) return;
  char* end = nullptr;
  long fd = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || fd < 0) child_failure("bad MP_SPAWN_FD");
  ::unsetenv(kPayloadVariable);  // our own children are not spawned children
  std::string bytes = read_payload(static_cast<int>(fd));
  ::close(static_cast<int>(fd));
  run_payload(bytes);
}

std::string read_payload_fd(int fd) { return read_payload(fd); }

void run_payload(const std::string& bytes) {
  Payload payload;
  try {
    payload = mp::deserialize<Payload>(bytes);
  } catch (const std::exception& e) {
    child_failure(std::string("cannot decode the payload: ") + e.what());
  }
  become_spawned_child(payload.name, payload.daemon, payload.identity,
                       ProcessInfo{payload.parent_name, static_cast<pid_t>(payload.parent_pid),
                                   payload.parent_daemon});
  ensure_exit_function();
  mp::set_authkey(std::move(payload.authkey));
  void* fn = resolve(payload.fn);
  auto trampoline = reinterpret_cast<Trampoline>(resolve(payload.trampoline));
  int code = run_guarded(payload.name, [&] { trampoline(fn, payload.args); });
  std::cout.flush();
  std::fflush(nullptr);
  std::exit(code);  // runs the exit function: joins our own children
}

}  // namespace mp::detail
