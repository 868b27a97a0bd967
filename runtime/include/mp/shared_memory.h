// mp/shared_memory.h — named shared memory (Python's multiprocessing.shared_memory).
//
//   mp::SharedMemory   a block of bytes named in /dev/shm: create, attach, close, unlink
//
// Unlike the runtime's other primitives (anonymous memfd segments that vanish with their
// last user), a named block outlives the processes that map it until someone unlinks it.
// So that a program killed with SIGKILL leaves nothing in /dev/shm, every block created here
// is registered with a *tracker*: a small helper process started (double-forked, so nobody
// must reap it) at the first create in a process tree. It holds one end of a socket whose
// other end every process of the tree inherits (fork, thread, and spawn when a SharedMemory
// is passed to the child). When the last of them is gone — however it died — the tracker
// reads end-of-file and unlinks every block still registered, then exits. unlink() tells it
// to forget a block. As in Python, this means a block does not outlive the process tree that
// created it.
//
// Limitation: a process that was not started from the creator's tree (an unrelated program
// attaching by name) is not a user as far as the tracker knows: the block may be unlinked
// while it still maps it (its mapping stays valid; the name disappears).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace mp {

// -----------------------------------------------------------------------------
// SharedMemory
// -----------------------------------------------------------------------------
//
// A handle to one mapping of a named block: copies share the mapping (close() on one closes
// it for all copies in this process). Passed to a child process it is re-attached there by
// name. Not a synchronization primitive: guard the bytes with a Lock or Semaphore.
//
// Visibility: bytes written through buf() are visible to every process mapping the block,
// subject to the usual rules for concurrent memory access (use a lock).
class SharedMemory {
 public:
  // create = true: a new block of `size` bytes (zero-filled), named `name`, or a fresh
  // random name ("psm_…") if `name` is empty. The creating process tree's tracker will
  // unlink it when the tree is gone (file comment). Errors: std::invalid_argument if size <= 0
  // (Python's ValueError); std::system_error with EEXIST naming shm_open if the name exists
  // (Python's FileExistsError).
  // create = false: attaches to the existing block `name`; its size is the block's. Errors:
  // std::invalid_argument if `name` is empty or size < 0; std::system_error with ENOENT
  // naming shm_open if there is no such block (Python's FileNotFoundError).
  // Other OS failures: std::system_error naming the call. Names are given without the
  // leading '/'.
  explicit SharedMemory(std::string name, bool create = false, std::int64_t size = 0);

  // A handle that names no block (what deserialization starts from); every accessor but
  // close() throws std::logic_error on it.
  SharedMemory() noexcept = default;

  // The name, without the leading '/'.
  [[nodiscard]] const std::string& name() const;
  // The size in bytes (the block's, rounded by nothing).
  [[nodiscard]] std::size_t size() const;
  // The mapped bytes. Precondition: not closed (throws std::logic_error otherwise).
  [[nodiscard]] std::span<std::byte> buf() const;

  // Unmaps the block in this process (for every copy of this handle). Idempotent. The block
  // itself stays until unlink().
  void close();
  // Removes the name (shm_unlink) and tells the tracker to forget it; mappings stay valid
  // until closed. Call once, from one process. Errors: std::system_error (ENOENT if already
  // unlinked).
  void unlink();

  static constexpr bool kInheritanceOnly = true;

  template <class Archive>
  void save(Archive& archive) const {
    archive(name(), pass_tracker_to_child());
  }
  template <class Archive>
  void load(Archive& archive) {
    std::string name;
    int tracker_fd = -1;
    archive(name, tracker_fd);
    adopt_tracker(tracker_fd);
    *this = SharedMemory(std::move(name), false, 0);
  }

 private:
  struct Mapping;
  // The tracker descriptor, recorded for the spawn in progress (mp/detail/spawn_fds.h).
  static int pass_tracker_to_child();
  static void adopt_tracker(int fd);

  std::shared_ptr<Mapping> mapping_;
};

namespace detail {
// For tests of the tracker: forget (and close) the tracker this process inherited, so that
// the next create starts a new one whose only users are this process and its children.
void reset_shm_tracker_for_testing();
}  // namespace detail

}  // namespace mp
