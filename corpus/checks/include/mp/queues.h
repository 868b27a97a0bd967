// Minimal declarations mirroring docs/api-contract.md (mp/queues.h).
#pragma once
#include <cstddef>

namespace mp {

template <class T>
class Queue {
 public:
  static constexpr bool kInheritanceOnly = true;
  explicit Queue(std::size_t maxsize = 0);
  void put(const T& item, bool block = true, double timeout = -1);
  T get(bool block = true, double timeout = -1);
  void put_nowait(const T& item);
  T get_nowait();
  std::size_t qsize() const;
  bool empty() const;
  bool full() const;
  void close();
};

template <class T>
class SimpleQueue {
 public:
  static constexpr bool kInheritanceOnly = true;
  SimpleQueue();
  void put(const T& item);
  T get();
  bool empty() const;
  void close();
};

template <class T>
class JoinableQueue {
 public:
  static constexpr bool kInheritanceOnly = true;
  explicit JoinableQueue(std::size_t maxsize = 0);
  void put(const T& item, bool block = true, double timeout = -1);
  T get(bool block = true, double timeout = -1);
  void put_nowait(const T& item);
  T get_nowait();
  std::size_t qsize() const;
  bool empty() const;
  bool full() const;
  void close();
  void task_done();
  void join();
};

}  // namespace mp
