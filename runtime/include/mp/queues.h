// mp/queues.h — FIFO queues shared by processes (Python's multiprocessing.queues).
//
//   mp::Queue<T>          put/get with block and timeout, qsize, empty, full, close
//   mp::SimpleQueue<T>    put, get, empty, close
//   mp::JoinableQueue<T>  a Queue that counts unfinished tasks: task_done, join
//   mp::QueueOptions      where a queue keeps its bytes (mp/detail/queue_core.h)
//
// Items are serialized (mp/serialize.h: memcpy for trivially copyable types, cereal
// otherwise) straight into shared memory: small ones into a ring, large ones (and any item
// put while the ring is full) into a sparse memfd arena. Items of any size work, over 4 GiB
// included.
//
// Better than Python:
//   - No feeder thread. An item is in shared memory when put() returns, so the producer may
//     exit, and be joined, before anyone reads it: nothing is lost and nothing blocks. (In
//     Python, a child that put a large item cannot exit until it is read: join-before-drain
//     deadlocks.) put() raises mp::Full or returns; it never fails later in another thread.
//   - A put is visible to every process when it returns (Python: "after a short delay").
//   - A process killed (SIGKILL) anywhere inside put or get never leaves a torn item: a put
//     killed before its commit leaves nothing, a get killed before its commit leaves the
//     item for the next consumer, and the queue stays usable (the next producer or consumer
//     takes the dead process's side lock over, which takes ~2–100 ms once).
//
// Order: items come out in the order their puts committed, so the items of one producer
// come out in the order it put them (Python promises no more than that).
//
// Cost: put and get take one side's lock (a compare-and-swap, no system call) and publish
// their progress with one store; producers and consumers do not contend with each other.
// A get on an empty queue (a put on a full one) spins ~30 us, then sleeps on a futex.
//
// Queues are handles: copies name the same queue. They reach other processes by
// inheritance only (fork, spawn, thread: kInheritanceOnly), never through a queue, a pipe or
// a pool task: use a manager queue for those. close() is per handle: it stops this copy
// from putting or getting, as Python's close() does for one process's Queue object.
//
// ThreadSanitizer (thread mode): the side locks are annotated mutexes and the commits are
// release/acquire atomics, so a get happens-after the put of its item.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "mp/detail/queue_core.h"
#include "mp/errors.h"
#include "mp/serialize.h"

namespace mp {

namespace detail {

// Calls f(pointer, size) with the bytes mp::serialize would make of `item`, without a copy
// where those bytes are the item's own.
template <class T, class F>
void with_item_bytes(const T& item, F&& f) {
  if constexpr (std::is_same_v<T, std::string>) {
    f(item.data(), item.size());
  } else if constexpr (IsVectorOfPlainBytes<T>::value) {
    f(item.data(), item.size() * sizeof(typename T::value_type));
  } else if constexpr (kIsPlainBytes<T>) {
    f(&item, sizeof(T));
  } else {
    const std::string bytes = serialize(item);
    f(bytes.data(), bytes.size());
  }
}

template <class T>
constexpr void check_queue_item() {
  static_assert(!InheritanceOnly<T>,
                "mp::Queue: this object lives in shared memory and reaches another process only "
                "by inheritance; pass it as a Process argument instead, or use a Manager proxy");
  static_assert(Serializable<T>,
                "mp::Queue: items must be serializable (mp/serialize.h): trivially copyable, or "
                "with a cereal serialize function");
}

}  // namespace detail

// -----------------------------------------------------------------------------
// Queue
// -----------------------------------------------------------------------------
//
// A FIFO queue of T, bounded by `maxsize` items (0 or less: unbounded).
//
// Visibility: everything a process wrote before put(x) returned is visible to the process
// whose get() returns x.
//
// Errors common to the members: std::logic_error (Python's ValueError/OSError) on a handle
// after close(); std::system_error naming the call if the OS refuses memory.
template <class T>
class Queue {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A new empty queue. Throws std::invalid_argument for bad `options`.
  explicit Queue(std::int64_t maxsize = 0, const QueueOptions& options = {})
      : core_(maxsize, options) {
    detail::check_queue_item<T>();
  }

  // Appends `item`. Blocks (if `block`) while the queue holds maxsize items, at most
  // `timeout` seconds (negative: no limit). An unbounded queue blocks only when it holds
  // QueueOptions::arena_bytes of unread data.
  // Errors: mp::Full if there was no room in time (at once, with `block` false);
  // std::length_error for an item larger than the arena (it can never fit).
  void put(const T& item, bool block = true, double timeout = -1) {
    bool done = false;
    detail::with_item_bytes(item, [&](const void* data, std::size_t size) {
      done = core_.put(data, size, block, timeout);
    });
    if (!done) throw Full();
  }
  // put(item, false).
  void put_nowait(const T& item) { put(item, false); }

  // Removes and returns the oldest item. Blocks (if `block`) while the queue is empty, at
  // most `timeout` seconds (negative: no limit).
  // Errors: mp::Empty if no item came in time (at once, with `block` false); the
  // deserialization error if the bytes are not a T (the item is consumed, as in Python).
  T get(bool block = true, double timeout = -1) {
    std::optional<T> out;
    auto read = [](void* context, const char* data, std::size_t size) {
      static_cast<std::optional<T>*>(context)->emplace(deserialize<T>({data, size}));
    };
    if (!core_.get(block, timeout, {read, &out})) throw Empty();
    return std::move(*out);
  }
  // get(false).
  T get_nowait() { return get(false); }

  // The number of items in the queue (a snapshot). Does not block.
  [[nodiscard]] std::int64_t qsize() const noexcept { return core_.qsize(); }
  // qsize() == 0, and qsize() >= maxsize for a bounded queue (snapshots).
  [[nodiscard]] bool empty() const noexcept { return qsize() == 0; }
  [[nodiscard]] bool full() const noexcept {
    return core_.maxsize() > 0 && qsize() >= core_.maxsize();
  }
  [[nodiscard]] std::int64_t maxsize() const noexcept { return core_.maxsize(); }

  // This handle will put and get no more; the items stay for other handles. Does not block.
  // Closing twice is harmless.
  void close() noexcept { core_.close(); }
  // Python: waits for the feeder thread to flush this process's items. There is none here:
  // every item is in shared memory when put() returns, so this returns at once.
  // Precondition: close() was called (std::logic_error otherwise, as Python's assertion).
  void join_thread() {
    if (!core_.closed()) throw std::logic_error("mp::Queue::join_thread: call close() first");
  }
  // Python: lets the process exit without flushing (losing unflushed items). Nothing is ever
  // unflushed here: a no-op, and nothing is lost.
  void cancel_join_thread() noexcept {}

  template <class Archive>
  void serialize(Archive& archive) {
    archive(core_);
  }

 protected:
  detail::QueueCore core_;
};

// -----------------------------------------------------------------------------
// SimpleQueue
// -----------------------------------------------------------------------------
//
// An unbounded queue with the four members of Python's SimpleQueue. put never blocks (until
// QueueOptions::arena_bytes are unread); get blocks until an item comes. Errors and
// visibility as Queue.
template <class T>
class SimpleQueue {
 public:
  static constexpr bool kInheritanceOnly = true;

  explicit SimpleQueue(const QueueOptions& options = {}) : queue_(0, options) {}

  void put(const T& item) { queue_.put(item); }
  T get() { return queue_.get(); }
  [[nodiscard]] bool empty() const noexcept { return queue_.empty(); }
  void close() noexcept { queue_.close(); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(queue_);
  }

 private:
  Queue<T> queue_;
};

// -----------------------------------------------------------------------------
// JoinableQueue
// -----------------------------------------------------------------------------
//
// A Queue that counts unfinished tasks: every put adds one, every task_done removes one,
// and join waits until none is left.
//
// A consumer that dies between its get and its task_done leaves that task unfinished
// forever, as in Python: join then waits (use join(timeout)).
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  using Queue<T>::Queue;

  // Marks one task done. Does not block.
  // Errors: std::logic_error (Python's ValueError) if called more times than items were put.
  void task_done() { this->core_.task_done(); }

  // Blocks until every item put so far has had its task_done.
  // Visibility: what a process wrote before its task_done is visible after join returns.
  void join() { (void)this->core_.join(-1); }
  // The same, at most `timeout` seconds: true if no task is left.
  [[nodiscard]] bool join(double timeout) { return this->core_.join(timeout); }
};

}  // namespace mp
