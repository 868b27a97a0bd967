#include "mp/detail/segment.h"

#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include "mp/errors.h"

namespace mp::detail {
namespace {

// Live segments of this process by descriptor, so that attach_inherited maps a descriptor
// once and live_fds can list them. Weak: the registry never keeps a segment alive.
struct Registry {
  std::mutex mutex;
  std::map<int, std::weak_ptr<Segment>> by_fd;
};

Registry& registry() {
  static auto* r = new Registry;  // never destroyed: segments may die during static teardown
  return *r;
}

std::size_t round_to_page(std::size_t size) {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  if (size == 0) size = 1;
  return (size + page - 1) / page * page;
}

void* map_fd(int fd, std::size_t size) {
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) throw_errno("mmap");
  return data;
}

}  // namespace

std::shared_ptr<Segment> Segment::create(std::size_t size, const char* debug_name) {
  size = round_to_page(size);
  int fd = memfd_create(debug_name, MFD_CLOEXEC);
  if (fd < 0) throw_errno("memfd_create");
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    close(fd);
    throw_errno("ftruncate", err);
  }
  void* data;
  try {
    data = map_fd(fd, size);
  } catch (...) {
    close(fd);
    throw;
  }
  std::shared_ptr<Segment> segment(new Segment(fd, data, size));
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.by_fd[fd] = segment;
  return segment;
}

std::shared_ptr<Segment> Segment::attach_inherited(int fd, std::size_t size) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (auto it = r.by_fd.find(fd); it != r.by_fd.end()) {
    if (auto live = it->second.lock()) return live;
  }
  std::shared_ptr<Segment> segment(new Segment(fd, map_fd(fd, size), size));
  r.by_fd[fd] = segment;
  return segment;
}

std::vector<int> Segment::live_fds() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<int> fds;
  for (auto& [fd, weak] : r.by_fd)
    if (!weak.expired()) fds.push_back(fd);
  return fds;
}

Segment::~Segment() {
  munmap(data_, size_);
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    if (auto it = r.by_fd.find(fd_); it != r.by_fd.end() && it->second.expired()) r.by_fd.erase(it);
  }
  close(fd_);
}

}  // namespace mp::detail
