// The supervisor: each case in a throwaway process group, watched by a watchdog.
#include "ipcheck/proptest/runner.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mp/errors.h"

namespace ipcheck::proptest {

const char* to_string(StartMode mode) {
  switch (mode) {
    case StartMode::kFork:
      return "fork";
    case StartMode::kThread:
      return "thread";
    case StartMode::kSpawn:
      return "spawn";
    case StartMode::kForkserver:
      return "forkserver";
  }
  return "?";
}

std::string to_string(const RunOptions& options) {
  return std::string("mode=") + to_string(options.mode) +
         " schedule=" + to_string(options.schedule) + " fault=" + to_string(options.fault);
}

namespace detail {
namespace {

std::string describe_status(const char* who, int status) {
  char buffer[160];
  if (WIFEXITED(status)) {
    std::snprintf(buffer, sizeof buffer, "%s exited with status %d", who, WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    std::snprintf(buffer, sizeof buffer, "%s was killed by signal %d (%s)", who, WTERMSIG(status),
                  strsignal(WTERMSIG(status)));
  } else {
    std::snprintf(buffer, sizeof buffer, "%s stopped (status %#x)", who, status);
  }
  return buffer;
}

pid_t wait_for(pid_t pid, int* status) {
  pid_t result;
  do {
    result = waitpid(pid, status, 0);
  } while (result < 0 && errno == EINTR);
  return result;
}

std::vector<std::string> directory_entries(const char* path, int* own_fd = nullptr) {
  std::vector<std::string> names;
  DIR* dir = opendir(path);
  if (dir == nullptr) return names;
  if (own_fd) *own_fd = dirfd(dir);
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
  }
  closedir(dir);
  return names;
}

// Whether a process other than this one has /dev/shm/`name` mapped or open: then the segment
// is someone else's (other programs share /dev/shm), not a leak of this case.
bool used_elsewhere(const std::string& name) {
  const std::string path = "/dev/shm/" + name;
  const std::string self = std::to_string(getpid());
  for (const std::string& pid : directory_entries("/proc")) {
    if (pid == self || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::FILE* maps = std::fopen(("/proc/" + pid + "/maps").c_str(), "r");
    if (maps == nullptr) continue;
    char line[512];
    bool found = false;
    while (!found && std::fgets(line, sizeof line, maps)) found = std::strstr(line, path.c_str());
    std::fclose(maps);
    if (found) return true;
    const std::string fd_dir = "/proc/" + pid + "/fd";
    for (const std::string& fd : directory_entries(fd_dir.c_str())) {
      char target[256];
      const ssize_t n = readlink((fd_dir + "/" + fd).c_str(), target, sizeof target - 1);
      if (n > 0 && path == std::string(target, n)) return true;
    }
  }
  return false;
}

}  // namespace

Resources snapshot_resources() {
  Resources resources;
  int own = -1;
  for (const std::string& name : directory_entries("/proc/self/fd", &own)) {
    const int fd = std::atoi(name.c_str());
    if (fd == own) continue;
    char target[256] = "";
    const std::string link = "/proc/self/fd/" + name;
    const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    resources.descriptors.emplace_back(fd, n > 0 ? std::string(target, n) : "?");
  }
  std::sort(resources.descriptors.begin(), resources.descriptors.end());
  resources.segments = directory_entries("/dev/shm");
  std::sort(resources.segments.begin(), resources.segments.end());
  return resources;
}

std::string leaked(const Resources& before, const Resources& now) {
  std::string report;
  auto add = [&](const std::string& what) { report += (report.empty() ? "" : ", ") + what; };
  for (const auto& descriptor : now.descriptors) {
    if (!std::binary_search(before.descriptors.begin(), before.descriptors.end(), descriptor)) {
      add("fd " + std::to_string(descriptor.first) + " (" + descriptor.second + ")");
    }
  }
  std::vector<std::string> suspects;
  for (const auto& segment : now.segments) {
    if (!std::binary_search(before.segments.begin(), before.segments.end(), segment) &&
        !used_elsewhere(segment)) {
      suspects.push_back(segment);
    }
  }
  // Other programs create and remove segments in /dev/shm too: one of theirs that nobody
  // happened to hold at this instant is gone a moment later, a leak of this case is not.
  if (!suspects.empty()) usleep(50'000);
  for (const auto& segment : suspects) {
    if (access(("/dev/shm/" + segment).c_str(), F_OK) == 0 && !used_elsewhere(segment)) {
      add("/dev/shm/" + segment);
    }
  }
  return report.empty() ? "" : "leaked after the case: " + report;
}

std::string to_hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

std::optional<std::string> from_hex(const std::string& hex) {
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]), low = digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high * 16 + low);
  }
  return bytes;
}

std::optional<std::string> replay_for(const std::string& name) {
  const char* value = std::getenv("IPCHECK_PROPTEST_REPRODUCE");
  if (value == nullptr) return std::nullopt;
  const std::string text = value;
  if (text.size() <= name.size() || text.compare(0, name.size(), name) != 0 ||
      text[name.size()] != '/') {
    return std::nullopt;
  }
  return text.substr(name.size() + 1);
}

std::string reproduce_command(const std::string& name, const std::string& encoded,
                              const std::string& gtest_filter) {
  char exe[4096] = "";
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  return "IPCHECK_PROPTEST_REPRODUCE='" + name + "/" + encoded +
         "' RC_PARAMS='max_success=1 noshrink=1' " +
         (n > 0 ? std::string(exe, n) : std::string("<test binary>")) + " --gtest_filter='" +
         gtest_filter + "'";
}

void note_case(bool passed) {
  static const bool enabled = [] {
    const char* env = std::getenv("IPCHECK_PROPTEST_PROGRESS");
    if (env != nullptr) return std::strcmp(env, "0") != 0 && *env != '\0';
    return isatty(2) == 1;
  }();
  static const bool terminal = isatty(2) == 1;
  static const auto start = std::chrono::steady_clock::now();
  static auto last = start;
  static std::uint64_t cases = 0, failures = 0;
  ++cases;
  failures += !passed;
  if (!enabled) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::seconds(1) && passed) return;
  last = now;
  const double seconds = std::chrono::duration<double>(now - start).count();
  std::fprintf(stderr, "%sipcheck-proptest: %llu cases, %.1f/s, %llu failing so far%s",
               terminal ? "\r" : "", static_cast<unsigned long long>(cases),
               seconds > 0 ? static_cast<double>(cases) / seconds : 0.0,
               static_cast<unsigned long long>(failures), terminal ? "   " : "\n");
  std::fflush(stderr);
}

std::string supervise(const std::function<void()>& body, std::chrono::milliseconds watchdog) {
  std::fflush(nullptr);  // or buffered output would be written twice
  const pid_t pid = fork();
  if (pid < 0) mp::detail::throw_errno("fork");
  if (pid == 0) {
    setpgid(0, 0);
    try {
      body();
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  setpgid(pid, pid);  // also here: whichever runs first, the group exists before a kill
  const auto deadline = std::chrono::steady_clock::now() + watchdog;
  int status = 0;
  long pause_us = 20;
  for (;;) {
    const pid_t result = waitpid(pid, &status, WNOHANG);
    if (result == pid) break;
    if (result < 0 && errno != EINTR) mp::detail::throw_errno("waitpid");
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      wait_for(pid, &status);
      return "watchdog: the case did not end within " + std::to_string(watchdog.count()) +
             " ms (a deadlock, or a process blocked for good)";
    }
    usleep(static_cast<useconds_t>(pause_us));
    pause_us = std::min(pause_us * 2, 1000L);
  }
  kill(-pid, SIGKILL);  // whatever the case left running
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return describe_status("the case process", status);
}

std::string run_forked(const std::vector<std::function<void()>>& branches,
                       const std::function<bool(int)>& planned) {
  std::vector<pid_t> pids;
  std::fflush(nullptr);
  for (const auto& branch : branches) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t started : pids) kill(started, SIGKILL);
      for (pid_t started : pids) wait_for(started, nullptr);
      return std::string("fork failed: ") + strerror(errno);
    }
    if (pid == 0) {
      branch();
      _exit(0);
    }
    pids.push_back(pid);
  }
  std::string error;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    wait_for(pids[i], &status);
    const bool ok =
        (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
        (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && planned(static_cast<int>(i)));
    if (!ok && error.empty()) {
      error = describe_status(("process " + std::to_string(i + 1)).c_str(), status);
    }
  }
  return error;
}

std::string join_all(std::vector<mp::Process>& processes, const std::function<bool(int)>& planned) {
  std::string error;
  for (std::size_t i = 0; i < processes.size(); ++i) {
    processes[i].join();
    const int code = processes[i].exitcode().value_or(-1);
    const bool ok = code == 0 || (code == -SIGKILL && planned(static_cast<int>(i)));
    if (!ok && error.empty()) {
      error = "process " + std::to_string(i + 1) + " exited with code " + std::to_string(code);
    }
  }
  return error;
}

}  // namespace detail
}  // namespace ipcheck::proptest
