// Minimal declarations mirroring Boost.Interprocess (Boost is not installed here).
#pragma once
namespace boost {
namespace posix_time {
class ptime {};
}  // namespace posix_time
namespace interprocess {
class interprocess_condition {
 public:
  template <class Lock>
  void wait(Lock& lock);
  template <class Lock>
  bool timed_wait(Lock& lock, const posix_time::ptime& abs_time);
  void notify_one();
  void notify_all();
};
}  // namespace interprocess
}  // namespace boost
