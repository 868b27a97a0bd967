// mp/models/queue.h — specifications of mp::Queue<T> and mp::JoinableQueue<T>.
//
//   mp::models::Queue<T>           items from one producer come out in the order it put
//                                  them; items of different producers interleave freely
//   mp::models::JoinableQueue<T>   the same, counting unfinished tasks for join()
//
// Per-producer order is what Python's Queue promises: each producer's feeder thread flushes
// its items in order, but nothing orders two producers. `get` may return the oldest item of
// any producer, and the observed item says which. Give items values unique in a test (e.g.
// producer * 1000 + sequence): with two equal items at the heads of two producers the model
// takes the first producer's, and may then reject a history that taking the other would
// have explained.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class QueueOpKind : std::uint8_t {
  kPut,        // blocks while full
  kPutNowait,  // kFull when full
  kGet,        // blocks while empty
  kGetNowait,  // kEmpty when empty (also a timed get that timed out)
  kQsize,
  kEmpty,
  kTaskDone,   // JoinableQueue
  kJoin,       // JoinableQueue: blocks while tasks are unfinished
  kJoinTimed,  // JoinableQueue: join(timeout); kFalse when it timed out
};

template <class T>
struct QueueOp {
  QueueOpKind kind = QueueOpKind::kPut;
  T item{};
  friend bool operator==(const QueueOp&, const QueueOp&) = default;
};

template <class T>
std::string to_string(const QueueOp<T>& op) {
  switch (op.kind) {
    case QueueOpKind::kPut:
      return "put(" + std::to_string(op.item) + ")";
    case QueueOpKind::kPutNowait:
      return "put_nowait(" + std::to_string(op.item) + ")";
    case QueueOpKind::kGet:
      return "get()";
    case QueueOpKind::kGetNowait:
      return "get_nowait()";
    case QueueOpKind::kQsize:
      return "qsize()";
    case QueueOpKind::kEmpty:
      return "empty()";
    case QueueOpKind::kTaskDone:
      return "task_done()";
    case QueueOpKind::kJoin:
      return "join()";
    case QueueOpKind::kJoinTimed:
      return "join(timeout)";
  }
  return "?";
}

// Queue<T>
//   put / put_nowait   kOk: appends to the caller's items; kFull (put_nowait) when
//                      maxsize items are queued; put waits then.
//   get / get_nowait   ok(item) with the oldest item of some producer; kEmpty
//                      (get_nowait) when nothing is queued; get waits then.
//   qsize              ok(count); empty: kOk if none, kFalse otherwise.
// With `lagging_visibility`, kEmpty is allowed at any time (Python's Queue: a put becomes
// visible to other processes some time after it returns).
template <class T>
class Queue {
 public:
  using Op = QueueOp<T>;
  using Result = Reply<T>;

  Queue() = default;
  explicit Queue(std::int64_t maxsize, bool lagging_visibility = false)
      : maxsize_(maxsize), lagging_(lagging_visibility) {}

  bool step(ProcessId p, const Op& op, const Result& result) {
    switch (op.kind) {
      case QueueOpKind::kPut:
      case QueueOpKind::kPutNowait:
        if (full()) return op.kind == QueueOpKind::kPutNowait && result.status == Status::kFull;
        if (result.status != Status::kOk) return false;
        producer(p).push_back(op.item);
        ++count_;
        return true;
      case QueueOpKind::kGet:
      case QueueOpKind::kGetNowait:
        if (result.status == Status::kEmpty) {
          return op.kind == QueueOpKind::kGetNowait && (count_ == 0 || lagging_);
        }
        if (result.status != Status::kOk) return false;
        for (auto& [who, items] : producers_) {
          if (!items.empty() && items.front() == result.value) {
            items.pop_front();
            --count_;
            return true;
          }
        }
        return false;
      case QueueOpKind::kQsize:
        return result.status == Status::kOk && result.value == static_cast<T>(count_);
      case QueueOpKind::kEmpty:
        return result.status == (count_ == 0 ? Status::kOk : Status::kFalse);
      case QueueOpKind::kTaskDone:
      case QueueOpKind::kJoin:
      case QueueOpKind::kJoinTimed:
        return step_tasks(op, result);
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op& op) const {
    std::vector<Result> results = {
        {Status::kOk}, {Status::kFalse}, {Status::kEmpty}, {Status::kFull}, {Status::kValueError}};
    for (const auto& [who, items] : producers_) {
      if (!items.empty()) results.push_back(ok(items.front()));
    }
    if (op.kind == QueueOpKind::kQsize) results.push_back(ok(static_cast<T>(count_)));
    return results;
  }

  std::int64_t size() const { return count_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    for (const auto& [who, items] : producers_) {
      if (items.empty()) continue;
      hash_combine(seed, who);
      hash_range(seed, items);
    }
    hash_combine(seed, unfinished_);
    return seed;
  }
  friend bool operator==(const Queue& a, const Queue& b) {
    return a.count_ == b.count_ && a.unfinished_ == b.unfinished_ &&
           a.nonempty_producers() == b.nonempty_producers();
  }

 private:
  bool full() const { return maxsize_ > 0 && count_ >= maxsize_; }

  bool step_tasks(const Op& op, const Result& result) {
    if (!joinable_) return false;
    if (op.kind == QueueOpKind::kJoin) return unfinished_ == 0 && result.status == Status::kOk;
    if (op.kind == QueueOpKind::kJoinTimed) {
      return result.status == (unfinished_ == 0 ? Status::kOk : Status::kFalse);
    }
    if (unfinished_ == 0) return result.status == Status::kValueError;
    if (result.status != Status::kOk) return false;
    --unfinished_;
    return true;
  }

  std::deque<T>& producer(ProcessId p) {
    for (auto& [who, items] : producers_) {
      if (who == p) return items;
    }
    return producers_.emplace_back(p, std::deque<T>{}).second;
  }

  std::vector<std::pair<ProcessId, std::deque<T>>> nonempty_producers() const {
    std::vector<std::pair<ProcessId, std::deque<T>>> result;
    for (const auto& entry : producers_) {
      if (!entry.second.empty()) result.push_back(entry);
    }
    std::sort(result.begin(), result.end());
    return result;
  }

  template <class>
  friend class JoinableQueue;

  std::vector<std::pair<ProcessId, std::deque<T>>> producers_;
  std::int64_t count_ = 0;
  std::int64_t maxsize_ = 0;
  bool lagging_ = false;
  bool joinable_ = false;
  std::int64_t unfinished_ = 0;  // JoinableQueue
};

// JoinableQueue<T>
//   put          also counts one more unfinished task.
//   task_done    kOk, one task fewer; kValueError when none is unfinished.
//   join         kOk once no task is unfinished; waits otherwise (a request that completes
//                only in a state without unfinished tasks).
//   join_timed   join(timeout): kOk with no task unfinished, kFalse (timed out) while some
//                is — e.g. forever once a consumer died between its get and its task_done.
template <class T>
class JoinableQueue {
 public:
  using Op = QueueOp<T>;
  using Result = Reply<T>;

  JoinableQueue() { queue_.joinable_ = true; }
  explicit JoinableQueue(std::int64_t maxsize) : queue_(maxsize) { queue_.joinable_ = true; }

  bool step(ProcessId p, const Op& op, const Result& result) {
    if (!queue_.step(p, op, result)) return false;
    if ((op.kind == QueueOpKind::kPut || op.kind == QueueOpKind::kPutNowait) &&
        result.status == Status::kOk) {
      ++queue_.unfinished_;
    }
    return true;
  }

  std::vector<Result> possible_results(ProcessId p, const Op& op) const {
    return queue_.possible_results(p, op);
  }

  std::int64_t size() const { return queue_.size(); }
  std::int64_t unfinished_tasks() const { return queue_.unfinished_; }
  std::size_t hash() const { return queue_.hash(); }
  friend bool operator==(const JoinableQueue&, const JoinableQueue&) = default;

 private:
  Queue<T> queue_;
};

}  // namespace mp::models
