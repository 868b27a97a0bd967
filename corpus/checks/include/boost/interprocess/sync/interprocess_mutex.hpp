// Minimal declarations mirroring Boost.Interprocess (Boost is not installed here).
#pragma once
namespace boost {
namespace interprocess {
class interprocess_mutex {
 public:
  interprocess_mutex();
  void lock();
  bool try_lock();
  void unlock();
};
class interprocess_recursive_mutex {
 public:
  void lock();
  bool try_lock();
  void unlock();
};
}  // namespace interprocess
}  // namespace boost
