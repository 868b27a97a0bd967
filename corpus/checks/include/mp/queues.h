// Minimal declarations mirroring docs/api-contract.md (mp/queues.h).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mp {

struct QueueOptions {
  std::size_t ring_bytes = std::size_t{1} << 20;
  std::size_t arena_bytes = std::size_t{64} << 30;
};

template <class T>
class Queue {
 public:
  static constexpr bool kInheritanceOnly = true;
  explicit Queue(std::int64_t maxsize = 0, const QueueOptions& options = {});
  void put(const T& item, bool block = true, double timeout = -1);
  T get(bool block = true, double timeout = -1);
  void put_nowait(const T& item);
  T get_nowait();
  std::int64_t qsize() const noexcept;
  bool empty() const noexcept;
  bool full() const noexcept;
  std::int64_t maxsize() const noexcept;
  void close() noexcept;
  void join_thread();
  void cancel_join_thread() noexcept;
};

template <class T>
class SimpleQueue {
 public:
  static constexpr bool kInheritanceOnly = true;
  explicit SimpleQueue(const QueueOptions& options = {});
  void put(const T& item);
  T get();
  bool empty() const noexcept;
  void close() noexcept;
};

template <class T>
class JoinableQueue : public Queue<T> {
 public:
  using Queue<T>::Queue;
  void task_done();
  void join();
  bool join(double timeout);
};

}  // namespace mp
