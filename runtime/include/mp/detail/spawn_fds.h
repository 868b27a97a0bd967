// mp/detail/spawn_fds.h — descriptors that a spawned child must inherit.
//
// A spawned child is a fresh image of the program: it has none of the parent's memory, only
// the descriptors the parent passes on. An object that serializes as a descriptor (a
// Connection, anything holding one) calls mp::detail::inherit_fd from its cereal save()
// function; while the spawn machinery serializes a target's arguments it collects these,
// and the child inherits each under the same number. Outside spawn the call does nothing.
//
// Segments (mp/detail/segment.h) need no call: spawn passes every live segment.
#pragma once

#include <vector>

namespace mp::detail {

// Records `fd` for the spawn in progress on this thread, if any. Does not block.
void inherit_fd(int fd);

// While alive, collects the descriptors that inherit_fd records on this thread into `fds`.
// Not copyable; scopes nest (the inner one collects).
class InheritedFdCollector {
 public:
  explicit InheritedFdCollector(std::vector<int>& fds);
  ~InheritedFdCollector();
  InheritedFdCollector(const InheritedFdCollector&) = delete;
  InheritedFdCollector& operator=(const InheritedFdCollector&) = delete;

 private:
  std::vector<int>* previous_;
};

}  // namespace mp::detail
