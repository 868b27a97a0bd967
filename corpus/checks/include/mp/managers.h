// Minimal declarations mirroring docs/api-contract.md (mp/managers.h).
// Reads through a proxy return copies; writes are explicit, as in Python: changing what get()
// returned changes only the copy.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mp {

template <class K, class V>
class DictProxy {
 public:
  V get(const K& k) const;
  V get(const K& k, const V& fallback) const;
  V operator[](const K& k) const;
  void set(const K& k, const V& v);
  bool contains(const K& k) const;
  std::size_t size() const;
  std::vector<K> keys() const;
  std::vector<std::pair<K, V>> items() const;
  void update(const std::map<K, V>& other);
  void erase(const K& k);
  // Runs fn on the value in the manager's process, atomically: the alternative to a fetched
  // copy written back.
  void update_with(const K& k, std::function<V(V)> fn);
};

template <class T>
class ListProxy {
 public:
  T get(std::size_t i) const;
  T operator[](std::size_t i) const;
  void set(std::size_t i, const T& v);
  void append(const T& v);
  std::size_t size() const;
  void update_with(std::size_t i, std::function<T(T)> fn);
};

template <class T>
class ValueProxy {
 public:
  T get() const;
  void set(const T& v);
  void update_with(std::function<T(T)> fn);
};

// Python's Namespace: named fields, each read as a copy and written whole.
class Namespace {
 public:
  template <class T>
  T get(const std::string& field) const;
  template <class T>
  void set(const std::string& field, const T& value);
};

template <class T>
class QueueProxy {
 public:
  void put(const T& item, bool block = true, double timeout = -1);
  void put_nowait(const T& item);
  T get(bool block = true, double timeout = -1);
  T get_nowait();
  std::size_t qsize() const;
  bool empty() const;
  bool full() const;
};

template <class T>
class JoinableQueueProxy : public QueueProxy<T> {
 public:
  void task_done();
  void join();
  [[nodiscard]] bool join(double timeout);
};

class LockProxy {
 public:
  bool acquire(bool block = true, double timeout = -1);
  void release();
  void lock();
  void unlock();
  [[nodiscard]] bool try_lock();
  bool locked() const;
};

class RLockProxy : public LockProxy {};

class SemaphoreProxy {
 public:
  bool acquire(bool block = true, double timeout = -1);
  void release();
};

class ConditionProxy {
 public:
  bool acquire(bool block = true, double timeout = -1);
  void release();
  void lock();
  void unlock();
  bool wait(double timeout = -1);
  void notify(long n = 1);
  void notify_all();
};

class EventProxy {
 public:
  void set();
  void clear();
  bool is_set() const;
  bool wait(double timeout = -1);
};

class BarrierProxy {
 public:
  std::size_t wait(double timeout = -1);
};

class BaseManager {
 public:
  BaseManager();
  void start();
  void connect();
  void shutdown();
};

class SyncManager : public BaseManager {
 public:
  template <class K, class V>
  DictProxy<K, V> dict();
  template <class T>
  ListProxy<T> list();
  template <class T>
  ValueProxy<T> Value(const T& initial);
  ::mp::Namespace Namespace();
  template <class T>
  QueueProxy<T> Queue(long maxsize = 0);
  template <class T>
  JoinableQueueProxy<T> JoinableQueue(long maxsize = 0);
  LockProxy Lock();
  RLockProxy RLock();
  SemaphoreProxy Semaphore(long value = 1);
  ConditionProxy Condition();
  EventProxy Event();
  BarrierProxy Barrier(long parties, double timeout = -1);
};

// Starts a SyncManager's server process, as Python's multiprocessing.Manager().
SyncManager Manager();

}  // namespace mp
