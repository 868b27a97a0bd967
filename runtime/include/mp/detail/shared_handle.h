// mp/detail/shared_handle.h — a typed pointer into a Segment that survives spawn.
//
//   mp::detail::SharedPtr<T>   a SegmentRef plus the offset of a T inside it
//
// Primitives keep nothing process-local but this: the segment keeps the mapping alive, and
// the offset (not the address) is what crosses exec, since a spawned child maps the segment
// at another address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "mp/detail/segment.h"

namespace mp::detail {

template <class T>
class SharedPtr {
 public:
  SharedPtr() = default;
  SharedPtr(SegmentRef ref, T* object) noexcept
      : ref_(std::move(ref)),
        object_(object),
        offset_(static_cast<std::uint64_t>(reinterpret_cast<char*>(object) -
                                           static_cast<char*>(ref_.data()))) {}

  // A new segment holding one T made from `args`.
  template <class... Args>
  static SharedPtr make(const char* debug_name, Args&&... args) {
    auto [ref, object] = make_shared_object<T>(debug_name, std::forward<Args>(args)...);
    return SharedPtr(std::move(ref), object);
  }

  T* get() const noexcept { return object_; }
  T* operator->() const noexcept { return object_; }
  T& operator*() const noexcept { return *object_; }
  const SegmentRef& segment() const noexcept { return ref_; }

  // Another object in the same segment.
  template <class U>
  SharedPtr<U> sibling(U* object) const noexcept {
    return SharedPtr<U>(ref_, object);
  }

  template <class Archive>
  void save(Archive& archive) const {
    archive(ref_, offset_);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(ref_, offset_);
    object_ = reinterpret_cast<T*>(static_cast<char*>(ref_.data()) + offset_);
  }

 private:
  SegmentRef ref_;
  T* object_ = nullptr;
  std::uint64_t offset_ = 0;
};

}  // namespace mp::detail
