// mp::SharedMemory and its tracker (mp/shared_memory.h).
#include "mp/shared_memory.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "mp/detail/spawn_fds.h"
#include "mp/errors.h"

namespace mp {

// ---------------------------------------------------------------------------------------
// The tracker
// ---------------------------------------------------------------------------------------
namespace {

// Messages: 'R' or 'U' followed by the name (without '/'), one per SOCK_SEQPACKET record,
// so that records from many processes never interleave.
constexpr std::size_t kMaxName = 255;
constexpr std::size_t kMaxTracked = 1024;

std::mutex tracker_mutex;
int tracker_fd = -1;  // this process's end; inherited by fork children

// The tracker process runs only what follows: no allocation, no locks (it was forked from a
// process that may have had other threads).
char tracked[kMaxTracked][kMaxName + 1];

[[noreturn]] void tracker_main(int socket) {
  ::setsid();  // terminal signals to the program's process group do not reach it
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) ::sigaction(sig, &ignore, nullptr);
  int sock = ::fcntl(socket, F_DUPFD, 10);
  int devnull = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);  // hold no pipe of whoever runs us
  ::dup2(sock, 3);
  ::close_range(4, ~0U, 0);  // including every user's end of the socket
  sock = 3;

  char message[kMaxName + 2];
  for (;;) {
    ssize_t n = ::recv(sock, message, sizeof message - 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // every user is gone
    message[n] = '\0';
    const char* name = message + 1;
    if (message[0] == 'R') {
      for (auto& slot : tracked) {
        if (slot[0] == '\0') {
          std::strncpy(slot, name, kMaxName);
          break;
        }
      }
    } else if (message[0] == 'U') {
      for (auto& slot : tracked) {
        if (std::strcmp(slot, name) == 0) {
          slot[0] = '\0';
          break;
        }
      }
    }
  }
  for (auto& slot : tracked) {
    if (slot[0] == '\0') continue;
    char path[sizeof "/dev/shm/" + kMaxName];
    std::memcpy(path, "/dev/shm/", 9);
    std::strncpy(path + 9, slot, kMaxName + 1);
    ::unlink(path);
  }
  ::_exit(0);
}

// Starts the tracker if this process has none. Returns the descriptor to write to.
int ensure_tracker() {
  std::lock_guard guard(tracker_mutex);
  if (tracker_fd >= 0) return tracker_fd;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    detail::throw_errno("socketpair");
  pid_t middle = ::fork();
  if (middle < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    detail::throw_errno("fork", err);
  }
  if (middle == 0) {
    // Double fork: the tracker is reparented at once, so no process of ours must reap it.
    if (::fork() == 0) tracker_main(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  tracker_fd = fds[0];
  return tracker_fd;
}

void tell_tracker(int fd, char kind, const std::string& name) {
  char message[kMaxName + 2];
  message[0] = kind;
  std::size_t n = name.size() < kMaxName ? name.size() : kMaxName;
  std::memcpy(message + 1, name.data(), n);
  while (::send(fd, message, n + 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
  // Any other failure means the tracker is gone: nothing to tell.
}

std::string random_name() {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) detail::throw_errno("getrandom");
  static const char kHex[] = "0123456789abcdef";
  std::string name = "psm_";
  for (unsigned char b : bytes) {
    name += kHex[b >> 4];
    name += kHex[b & 15];
  }
  return name;
}

}  // namespace

int SharedMemory::pass_tracker_to_child() {
  std::lock_guard guard(tracker_mutex);
  if (tracker_fd >= 0) detail::inherit_fd(tracker_fd);
  return tracker_fd;
}

void SharedMemory::adopt_tracker(int fd) {
  std::lock_guard guard(tracker_mutex);
  if (tracker_fd < 0 && fd >= 0 && ::fcntl(fd, F_GETFD) >= 0) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    tracker_fd = fd;
  }
}

void detail::reset_shm_tracker_for_testing() {
  std::lock_guard guard(tracker_mutex);
  if (tracker_fd >= 0) ::close(tracker_fd);
  tracker_fd = -1;
}

// ---------------------------------------------------------------------------------------
// SharedMemory
// ---------------------------------------------------------------------------------------

struct SharedMemory::Mapping {
  std::string name;
  std::size_t size = 0;
  void* data = nullptr;
  std::mutex mutex;  // close() against close() in thread mode

  ~Mapping() {
    if (data != nullptr) ::munmap(data, size == 0 ? 1 : size);
  }
};

SharedMemory::SharedMemory(std::string name, bool create, std::int64_t size) {
  if (create && size <= 0)
    throw std::invalid_argument("mp::SharedMemory: 'size' must be a positive number");
  if (size < 0) throw std::invalid_argument("mp::SharedMemory: 'size' must be a positive number");
  if (!create && name.empty())
    throw std::invalid_argument("mp::SharedMemory: 'name' can only be empty if create is true");
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  const bool random = name.empty();

  int tracker = create ? ensure_tracker() : -1;
  int fd = -1;
  for (;;) {
    if (random) name = random_name();
    std::string path = "/" + name;
    fd = ::shm_open(path.c_str(), create ? O_CREAT | O_EXCL | O_RDWR : O_RDWR, 0600);
    if (fd >= 0) break;
    if (errno == EEXIST && random) continue;
    detail::throw_errno("shm_open");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->name = name;
  try {
    if (create) {
      // Registered before anything can fail, so that even a crash right here leaks nothing.
      tell_tracker(tracker, 'R', name);
      if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
        int err = errno;
        ::shm_unlink(("/" + name).c_str());
        tell_tracker(tracker, 'U', name);
        detail::throw_errno("ftruncate", err);
      }
      mapping->size = static_cast<std::size_t>(size);
    } else {
      struct stat st;
      if (::fstat(fd, &st) != 0) detail::throw_errno("fstat");
      mapping->size = static_cast<std::size_t>(st.st_size);
    }
    void* data = ::mmap(nullptr, mapping->size == 0 ? 1 : mapping->size, PROT_READ | PROT_WRITE,
                        MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) detail::throw_errno("mmap");
    mapping->data = data;
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);  // the mapping keeps the block
  mapping_ = std::move(mapping);
}

const std::string& SharedMemory::name() const {
  if (!mapping_) throw std::logic_error("mp::SharedMemory: an empty handle has no name");
  return mapping_->name;
}

std::size_t SharedMemory::size() const {
  if (!mapping_) throw std::logic_error("mp::SharedMemory: an empty handle has no size");
  return mapping_->size;
}

std::span<std::byte> SharedMemory::buf() const {
  if (!mapping_) throw std::logic_error("mp::SharedMemory: an empty handle has no buffer");
  std::lock_guard guard(mapping_->mutex);
  if (mapping_->data == nullptr) throw std::logic_error("mp::SharedMemory: buf() after close()");
  return {static_cast<std::byte*>(mapping_->data), mapping_->size};
}

void SharedMemory::close() {
  if (!mapping_) return;
  std::lock_guard guard(mapping_->mutex);
  if (mapping_->data != nullptr) ::munmap(mapping_->data, mapping_->size == 0 ? 1 : mapping_->size);
  mapping_->data = nullptr;
}

void SharedMemory::unlink() {
  const std::string& n = name();
  if (::shm_unlink(("/" + n).c_str()) != 0) detail::throw_errno("shm_unlink");
  int tracker;
  {
    std::lock_guard guard(tracker_mutex);
    tracker = tracker_fd;
  }
  if (tracker >= 0) tell_tracker(tracker, 'U', n);
}

}  // namespace mp
