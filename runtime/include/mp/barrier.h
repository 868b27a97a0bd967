// mp/barrier.h — a rendezvous of a fixed number of processes.
//
//   mp::Barrier   parties, action, default timeout, wait / reset / abort (Python's
//                 multiprocessing.Barrier, itself threading.Barrier's algorithm)
//
// A handle: copies name the same barrier; it reaches other processes by inheritance only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>

#include "mp/condition.h"
#include "mp/detail/shared_handle.h"

namespace mp {

namespace detail {
struct BarrierState {
  static constexpr std::int32_t kFilling = 0, kDraining = 1, kResetting = -1, kBroken = -2;
  MutexState mutex;
  ConditionState condition;
  std::uint32_t parties = 0;
  std::atomic<std::int32_t> state{kFilling};  // atomic: broken() reads it unlocked
  std::atomic<std::uint32_t> count{0};  // inside wait() this pass; n_waiting() reads it unlocked
  double timeout = -1;
};
}  // namespace detail

// -----------------------------------------------------------------------------
// Barrier
// -----------------------------------------------------------------------------
//
// `parties` processes call wait(); the last to arrive runs the action (if any) and releases
// them all, and the barrier is ready for the next pass. A pass is atomic for its parties: a
// process arriving while the previous pass drains waits for it to finish.
//
// The barrier breaks — every waiter and every later wait() throws mp::BrokenBarrierError
// until reset() — when abort() is called, when a wait() times out, when the action throws,
// or when a process dies holding the barrier's internal lock. A process that dies while
// waiting is not noticed: the others wait until their timeout, as in Python.
//
// Visibility: what each party wrote before wait() is visible to every party after wait()
// returns (and to the action).
//
// The action runs in whichever process arrives last. Fork and thread children carry any
// callable; a spawned child (a fresh image of the program) finds the action by its place
// in the binary, so a Barrier passed to a spawned child needs a plain function — a free
// function or a captureless lambda — as its action: passing one with another callable
// (a lambda with captures) throws mp::ProcessError when the child is started.
class Barrier {
 public:
  static constexpr bool kInheritanceOnly = true;

  // A barrier for `parties` processes (≥ 1; otherwise std::invalid_argument), running
  // `action` in the last process to arrive at each pass, with a default wait timeout in
  // seconds (negative: none). Throws std::system_error if memory is refused.
  explicit Barrier(std::size_t parties, std::function<void()> action = {}, double timeout = -1);
  // The same with a plain function (a function pointer or a captureless lambda), which
  // spawned children can run too.
  template <class F>
    requires std::is_convertible_v<F, void (*)()>
  Barrier(std::size_t parties, F action, double timeout = -1)
      : Barrier(parties, std::function<void()>(static_cast<void (*)()>(action)), timeout) {}

  // Waits for the other parties. Blocks until all `parties` have called wait() in this pass,
  // or the barrier breaks, or `timeout` seconds pass (nullopt: the default timeout; negative:
  // no limit). Returns this process's arrival index, 0 to parties-1, different for each
  // party of a pass (the last to arrive gets parties-1). Throws mp::BrokenBarrierError if the
  // barrier is or becomes broken — a timeout breaks it — and whatever the action throws (the
  // barrier is then broken).
  std::size_t wait(std::optional<double> timeout = std::nullopt);

  // Returns the barrier to its initial state. Processes waiting in the current pass get
  // mp::BrokenBarrierError. Blocks only for the barrier's internal lock.
  void reset();
  // Breaks the barrier: current and later wait() calls throw mp::BrokenBarrierError until
  // reset(). Blocks only for the barrier's internal lock.
  void abort();

  [[nodiscard]] std::size_t parties() const noexcept;
  // Processes waiting in the current pass (a snapshot; 0 while it drains or is broken).
  [[nodiscard]] std::size_t n_waiting() const noexcept;
  [[nodiscard]] bool broken() const noexcept;

  template <class Archive>
  void save(Archive& archive) const {
    std::string module;
    std::uint64_t offset = 0;
    const bool has_action = static_cast<bool>(action_);
    if (has_action) locate_action(module, offset);
    archive(state_, has_action, module, offset);
  }
  template <class Archive>
  void load(Archive& archive) {
    bool has_action = false;
    std::string module;
    std::uint64_t offset = 0;
    archive(state_, has_action, module, offset);
    bind_condition();
    if (has_action) resolve_action(module, offset);
  }

  // For deserialization only (cereal default-constructs first); names no barrier.
  Barrier() = default;

 private:
  // The action as (module, offset from the module's load address): the same in every
  // process running the same binaries. Throws mp::ProcessError if it is no plain function.
  void locate_action(std::string& module, std::uint64_t& offset) const;
  void resolve_action(const std::string& module, std::uint64_t offset);
  void bind_condition();
  template <class F>
  auto locked(F&& body);
  void enter_locked(detail::BarrierState& s);
  void release_locked(detail::BarrierState& s);
  void wait_locked(detail::BarrierState& s, double timeout);
  void break_locked(detail::BarrierState& s);
  void exit_locked(detail::BarrierState& s);

  detail::SharedPtr<detail::BarrierState> state_;
  std::optional<Lock> lock_;  // the condition's lock, for mark_consistent
  std::optional<Condition> condition_;
  std::function<void()> action_;
};

}  // namespace mp
