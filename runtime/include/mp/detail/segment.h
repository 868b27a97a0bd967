// mp/detail/segment.h — shared memory that crosses fork and exec.
//
// Every primitive of the runtime keeps its state in a Segment: an anonymous memfd mapped
// MAP_SHARED. A forked child shares the mapping as is; a spawned child (fork + exec of the
// same binary) inherits the descriptor under the same number and maps it again. A memfd has
// no name, so when the last process that maps it dies — however it dies — the kernel frees
// it: nothing is left behind in /dev/shm.
//
// Primitives are handles: copying one copies a SegmentRef, and every copy names the same
// shared state, as a Python object passed to a child does.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace mp::detail {

class Segment {
 public:
  // A new zero-filled segment of at least `size` bytes. `debug_name` shows in
  // /proc/<pid>/fd. Throws std::system_error if the kernel refuses.
  static std::shared_ptr<Segment> create(std::size_t size, const char* debug_name);

  // The segment whose descriptor `fd` this process inherited from the process that spawned
  // it. Mapped once per process: every call with the same fd returns the same Segment.
  static std::shared_ptr<Segment> attach_inherited(int fd, std::size_t size);

  // Descriptors of every segment alive in this process, for the spawn machinery to pass on.
  static std::vector<int> live_fds();

  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }

 private:
  Segment(int fd, void* data, std::size_t size) noexcept : fd_(fd), data_(data), size_(size) {}

  int fd_;
  void* data_;
  std::size_t size_;
};

// A reference to a segment that serializes (cereal) as its descriptor and size, so that a
// primitive given to a spawned child finds its shared state there. Only meaningful between
// processes where the descriptor was inherited: use a manager proxy for anything else.
class SegmentRef {
 public:
  SegmentRef() = default;
  explicit SegmentRef(std::shared_ptr<Segment> segment) : segment_(std::move(segment)) {}

  Segment* get() const noexcept { return segment_.get(); }
  void* data() const noexcept { return segment_->data(); }
  explicit operator bool() const noexcept { return static_cast<bool>(segment_); }

  template <class Archive>
  void save(Archive& archive) const {
    archive(segment_->fd(), static_cast<unsigned long long>(segment_->size()));
  }
  template <class Archive>
  void load(Archive& archive) {
    int fd = -1;
    unsigned long long size = 0;
    archive(fd, size);
    segment_ = Segment::attach_inherited(fd, static_cast<std::size_t>(size));
  }

 private:
  std::shared_ptr<Segment> segment_;
};

// Creates a segment holding one `T` constructed in place with `args`, and returns it with
// a pointer to that T. T must be usable from several processes at once (no pointers into
// one process's memory).
template <class T, class... Args>
std::pair<SegmentRef, T*> make_shared_object(const char* debug_name, Args&&... args) {
  auto segment = Segment::create(sizeof(T), debug_name);
  T* object = new (segment->data()) T(std::forward<Args>(args)...);
  return {SegmentRef(std::move(segment)), object};
}

}  // namespace mp::detail

namespace mp {

// Primitives that live in a Segment can only reach another process by inheritance (fork,
// spawn, thread), never through a Queue, a Pipe or a Pool task. They declare
//   static constexpr bool kInheritanceOnly = true;
// and this concept names them, so that such uses fail at compile time.
template <class T>
concept InheritanceOnly = requires { requires T::kInheritanceOnly; };

}  // namespace mp
