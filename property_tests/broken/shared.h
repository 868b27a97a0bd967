// The state of a broken primitive, in shared memory as the runtime's primitives keep theirs.
#pragma once

#include <utility>

#include "mp/detail/segment.h"

namespace ipcheck::broken {

// One T in its own shared segment, as the state of a broken primitive: made with the
// segment, inherited across fork, and carried to a spawned child as the segment's descriptor.
template <class T>
class Shared {
 public:
  template <class... Args>
  explicit Shared(const char* name, Args&&... args) {
    auto [ref, object] = mp::detail::make_shared_object<T>(name, std::forward<Args>(args)...);
    ref_ = ref;
    object_ = object;
  }
  T* operator->() const { return object_; }
  T& operator*() const { return *object_; }

  template <class Archive>
  void save(Archive& archive) const {
    archive(ref_);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(ref_);
    object_ = static_cast<T*>(ref_.data());
  }

 private:
  mp::detail::SegmentRef ref_;
  T* object_ = nullptr;
};

}  // namespace ipcheck::broken
