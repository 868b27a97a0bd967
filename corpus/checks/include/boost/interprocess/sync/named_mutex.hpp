// Minimal declarations mirroring Boost.Interprocess (Boost is not installed here).
#pragma once
namespace boost {
namespace interprocess {
struct open_or_create_t {};
static const open_or_create_t open_or_create = open_or_create_t();
class named_mutex {
 public:
  named_mutex(open_or_create_t, const char* name);
  void lock();
  bool try_lock();
  void unlock();
};
}  // namespace interprocess
}  // namespace boost
