// runtime/src/recv_buffer.h — bytes read from a socket and not yet parsed: the read buffer of
// the manager's client and server.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

namespace mp::detail {

// A growable byte buffer whose free room is not zero-filled. The readers ask for 64 KiB of
// room before every recv, most of which find a few bytes or none: std::string::resize would
// clear all 64 KiB each time, which cost more than the round trip it was waiting for.
class RecvBuffer {
 public:
  // Room for `want` more bytes after the held ones (invalidates data()); fill it, then
  // commit() what was written.
  char* prepare(std::size_t want) {
    if (capacity_ - size_ < want) {
      std::size_t capacity = std::max(size_ + want, 2 * capacity_);
      auto bytes = std::make_unique_for_overwrite<char[]>(capacity);
      if (size_ > 0) std::memcpy(bytes.get(), bytes_.get(), size_);
      bytes_ = std::move(bytes);
      capacity_ = capacity;
    }
    return bytes_.get() + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }

  [[nodiscard]] const char* data() const noexcept { return bytes_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  void clear() noexcept { size_ = 0; }
  // Drops the first `n` bytes, moving the rest to the front.
  void erase_front(std::size_t n) noexcept {
    std::memmove(bytes_.get(), bytes_.get() + n, size_ - n);
    size_ -= n;
  }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace mp::detail
