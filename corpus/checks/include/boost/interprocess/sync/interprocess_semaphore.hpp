// Minimal declarations mirroring Boost.Interprocess (Boost is not installed here).
#pragma once
namespace boost {
namespace interprocess {
class interprocess_semaphore {
 public:
  explicit interprocess_semaphore(unsigned int initial_count);
  void post();
  void wait();
  bool try_wait();
};
}  // namespace interprocess
}  // namespace boost
