// Minimal declarations mirroring Boost.Interprocess (Boost is not installed here).
#pragma once
#include <cstddef>
namespace boost {
namespace posix_time {
class ptime;
}  // namespace posix_time
namespace interprocess {
template <class VoidPointer>
class message_queue_t {
 public:
  void send(const void* buffer, std::size_t size, unsigned int priority);
  bool try_send(const void* buffer, std::size_t size, unsigned int priority);
  void receive(void* buffer, std::size_t size, std::size_t& recvd, unsigned int& priority);
  bool try_receive(void* buffer, std::size_t size, std::size_t& recvd, unsigned int& priority);
  bool timed_receive(void* buffer, std::size_t size, std::size_t& recvd, unsigned int& priority,
                     const posix_time::ptime& abs_time);
  std::size_t get_num_msg() const;
};
typedef message_queue_t<void*> message_queue;
}  // namespace interprocess
}  // namespace boost
