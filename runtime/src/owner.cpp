#include "mp/detail/owner.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mp::detail {
namespace owner_internal {

constinit thread_local std::uint32_t cached_tid = 0;

namespace {
// The forking thread is the only thread of the child, and its id changed.
void forget_tid_in_child() { cached_tid = 0; }
}  // namespace

std::uint32_t load_tid() noexcept {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, forget_tid_in_child);
    return true;
  }();
  (void)registered;
  cached_tid = static_cast<std::uint32_t>(::gettid());
  return cached_tid;
}

}  // namespace owner_internal

bool thread_alive(std::uint32_t tid) noexcept {
  if (::kill(static_cast<pid_t>(tid), 0) != 0) return errno != ESRCH;
  // kill() succeeds for a zombie: a killed process its parent has not reaped yet. Its state
  // letter in /proc/<tid>/stat (after the command name in parentheses) says Z or X.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", tid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return true;
  char state = paren[2];
  return state != 'Z' && state != 'X' && state != 'x';
}

}  // namespace mp::detail
