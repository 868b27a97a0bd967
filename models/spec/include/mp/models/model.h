// mp/models/model.h — what every sequential specification in mp::models has in common.
//
//   mp::models::Status       the outcome of an operation, named after Python's exceptions
//   mp::models::Reply<T>     a Status and a value: the observed result of one operation
//   mp::models::Model        the concept a specification satisfies (and that the
//                            linearizability checker of ipcheck::proptest accepts)
//
// A model is plain data: a value with equality and a hash, changed only by `step`. Each
// operation is applied at one instant, its linearization point. A blocking operation is a
// request that may complete only in some states: its `step` answers "not yet" (false) in the
// others instead of blocking, so that a history where processes waited can be checked. An
// operation that blocks, releases and blocks again (Condition::wait, Barrier::wait) is split
// into two operations of the same process that happen in program order.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mp::models {

// Identifies a process (or thread) of a history: small, non-negative.
using ProcessId = int;

// How an operation ended. Values carry their meaning in Python's terms.
enum class Status : std::uint8_t {
  kOk,          // succeeded (a blocking call returned, a try-acquire got it, a bool was true)
  kFalse,       // a bool answer was false, a try-acquire or a timed wait did not succeed
  kEmpty,       // mp::Empty: nothing to get
  kFull,        // mp::Full: no room to put
  kBroken,      // mp::BrokenBarrierError
  kOwnerDied,   // mp::OwnerDied: the holder died; the caller now holds the lock
  kEof,         // mp::EOFError: the peer closed the connection and nothing is left
  kMissing,     // KeyError / IndexError / AttributeError
  kValueError,  // ValueError: released too many times, task_done() without a task
  kGone,        // mp::ManagerGone: the server holding the object died
};

inline const char* to_string(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kFalse:
      return "false";
    case Status::kEmpty:
      return "Empty";
    case Status::kFull:
      return "Full";
    case Status::kBroken:
      return "BrokenBarrierError";
    case Status::kOwnerDied:
      return "OwnerDied";
    case Status::kEof:
      return "EOFError";
    case Status::kMissing:
      return "missing";
    case Status::kValueError:
      return "ValueError";
    case Status::kGone:
      return "ManagerGone";
  }
  return "?";
}

// The observed result of one operation: a status and, where the operation returns one, a
// value (zero otherwise). Trivially copyable when T is, so that it can be recorded in shared
// memory.
template <class T = std::int64_t>
struct Reply {
  Status status = Status::kOk;
  T value{};

  friend bool operator==(const Reply&, const Reply&) = default;
};

template <class T>
Reply<T> ok(T value) {
  return {Status::kOk, value};
}

template <class T>
std::string to_string(const Reply<T>& reply) {
  if (reply.status == Status::kOk) return "ok(" + std::to_string(reply.value) + ")";
  return to_string(reply.status);
}

// Mixes `value`'s hash into `seed` (boost::hash_combine's recipe, 64-bit constant).
template <class T>
void hash_combine(std::size_t& seed, const T& value) {
  seed ^= std::hash<T>{}(value) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

template <class Range>
void hash_range(std::size_t& seed, const Range& range) {
  for (const auto& element : range) hash_combine(seed, element);
  hash_combine(seed, range.size());
}

// A sequential specification. For a model `m`:
//   m.step(p, op, result)      if process `p` may perform `op` now and observe `result`,
//                              moves `m` to the state after it and returns true; otherwise
//                              returns false and leaves `m` unchanged. "Otherwise" covers a
//                              wrong result and a blocking operation that cannot complete yet.
//   m.possible_results(p, op)  every result `op` could have in any state (used for an
//                              operation cut off by a kill, whose result nobody saw).
//   m.hash()                   a hash consistent with ==, for memoisation.
// Optional members the checker uses when present:
//   m.crash(p)                 process `p` died (SIGKILL): e.g. a lock it held is orphaned.
//   M::partition(op)           a key such that operations on different keys never affect
//                              each other (std::optional; nullopt for whole-object ops), so
//                              a history can be checked key by key.
//   M::lost_reply(result)      true for a result that says the reply never came because the
//                              other side died (ManagerGone): the call may still have taken
//                              effect before that death, unseen, as if its process had been
//                              killed in it; `step` then judges the failure itself, later.
template <class M>
concept Model = std::regular<M> && requires(M m, const M cm, ProcessId p, const typename M::Op& op,
                                            const typename M::Result& result) {
  { m.step(p, op, result) } -> std::same_as<bool>;
  { cm.possible_results(p, op) } -> std::convertible_to<std::vector<typename M::Result>>;
  { cm.hash() } -> std::convertible_to<std::size_t>;
  { to_string(op) } -> std::convertible_to<std::string>;
  { to_string(result) } -> std::convertible_to<std::string>;
};

template <class M>
concept CrashAware = Model<M> && requires(M m, ProcessId p) {
  m.crash(p);
};

template <class M>
concept LosesReplies = Model<M> && requires(const typename M::Result& result) {
  { M::lost_reply(result) } -> std::convertible_to<bool>;
};

template <class M>
concept Partitioned = Model<M> && requires(const typename M::Op& op) {
  { M::partition(op).has_value() } -> std::convertible_to<bool>;
};

}  // namespace mp::models
