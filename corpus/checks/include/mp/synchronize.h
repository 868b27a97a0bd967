// Minimal declarations mirroring docs/api-contract.md (mp/synchronize.h), so that the checker's
// tests do not depend on the runtime. Names and signatures as in the contract; no definitions.
#pragma once
#include <cstddef>
#include <functional>

namespace mp {

class Lock {
 public:
  Lock();
  bool acquire(bool block = true, double timeout = -1);
  void release();
  void lock();
  void unlock();
  [[nodiscard]] bool try_lock();
  bool locked() const;
  void mark_consistent();
};

class RLock {
 public:
  RLock();
  bool acquire(bool block = true, double timeout = -1);
  void release();
  void lock();
  void unlock();
  [[nodiscard]] bool try_lock();
  bool locked() const;
  void mark_consistent();
};

template <class L>
class [[nodiscard]] LockGuard {
 public:
  explicit LockGuard(L& lock);
  ~LockGuard();
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;
};

class Semaphore {
 public:
  explicit Semaphore(int value = 1);
  bool acquire(bool block = true, double timeout = -1);
  void release(int n = 1);
  int get_value() const;
};

class BoundedSemaphore {
 public:
  explicit BoundedSemaphore(int value = 1);
  bool acquire(bool block = true, double timeout = -1);
  void release(int n = 1);
  int get_value() const;
};

class Event {
 public:
  Event();
  bool is_set() const;
  void set();
  void clear();
  bool wait(double timeout = -1);
};

class Condition {
 public:
  Condition();
  explicit Condition(Lock lock);
  explicit Condition(RLock lock);
  bool acquire(bool block = true, double timeout = -1);
  void release();
  void lock();
  void unlock();
  bool wait(double timeout = -1);
  bool wait_for(std::function<bool()> predicate, double timeout = -1);
  void notify(int n = 1);
  void notify_all();
};

class Barrier {
 public:
  explicit Barrier(std::size_t parties, std::function<void()> action = {}, double timeout = -1);
  std::size_t wait(double timeout = -1);
  void reset();
  void abort();
  std::size_t parties() const;
  std::size_t n_waiting() const;
  bool broken() const;
};

}  // namespace mp
