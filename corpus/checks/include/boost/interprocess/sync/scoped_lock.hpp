// Minimal declarations mirroring Boost.Interprocess (Boost is not installed here).
#pragma once
namespace boost {
namespace interprocess {
struct defer_lock_type {};
struct try_to_lock_type {};
struct accept_ownership_type {};
static const defer_lock_type defer_lock = defer_lock_type();
static const try_to_lock_type try_to_lock = try_to_lock_type();
template <class Mutex>
class scoped_lock {
 public:
  explicit scoped_lock(Mutex& m);
  scoped_lock(Mutex& m, defer_lock_type);
  scoped_lock(Mutex& m, try_to_lock_type);
  ~scoped_lock();
  void lock();
  bool try_lock();
  void unlock();
  bool owns() const;
};
}  // namespace interprocess
}  // namespace boost
