// mp::Barrier (mp/barrier.h): threading.Barrier's algorithm over a shared Lock + Condition.
#include "mp/barrier.h"

#include <link.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "mp/errors.h"

namespace mp {

using detail::BarrierState;

Barrier::Barrier(std::size_t parties, std::function<void()> action, double timeout)
    : action_(std::move(action)) {
  if (parties < 1 || parties > UINT32_MAX)
    throw std::invalid_argument("mp::Barrier: parties must be >= 1");
  state_ = detail::SharedPtr<BarrierState>::make("mp.Barrier");
  state_->parties = static_cast<std::uint32_t>(parties);
  state_->timeout = timeout;
  MP_TSAN_MUTEX_CREATE(&state_->mutex, 0);
  bind_condition();
}

void Barrier::bind_condition() {
  lock_.emplace(state_.sibling(&state_->mutex));
  condition_.emplace(Condition(*lock_, state_.sibling(&state_->condition)));
}

namespace {

// The module whose loaded segments contain `address`: its name (empty for the main program,
// which dl_iterate_phdr lists first) and load address.
struct ModuleOf {
  std::uintptr_t address = 0;
  bool found = false;
  std::string name;
  std::uintptr_t base = 0;
};

int find_module_of(dl_phdr_info* info, std::size_t, void* data) {
  auto* q = static_cast<ModuleOf*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && q->address >= begin && q->address < begin + ph.p_memsz) {
      q->found = true;
      q->name = info->dlpi_name != nullptr ? info->dlpi_name : "";
      q->base = info->dlpi_addr;
      return 1;
    }
  }
  return 0;
}

struct ModuleNamed {
  const std::string* name;
  bool first = true;
  bool found = false;
  std::uintptr_t base = 0;
};

int find_module_named(dl_phdr_info* info, std::size_t, void* data) {
  auto* q = static_cast<ModuleNamed*>(data);
  const bool is_main = q->first;
  q->first = false;
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (q->name->empty() ? is_main : *q->name == name) {
    q->found = true;
    q->base = info->dlpi_addr;
    return 1;
  }
  return 0;
}

}  // namespace

void Barrier::locate_action(std::string& module, std::uint64_t& offset) const {
  auto* const* fn = action_.target<void (*)()>();
  if (fn == nullptr)
    throw ProcessError(
        "mp::Barrier: a spawned child cannot run this barrier's action: only a plain function "
        "(a free function or a captureless lambda) can be found in a fresh image of the "
        "program. Use one, or the fork or thread start method");
  ModuleOf query;
  query.address = reinterpret_cast<std::uintptr_t>(*fn);
  dl_iterate_phdr(find_module_of, &query);
  if (!query.found) throw ProcessError("mp::Barrier: the action's code is in no loaded module");
  module = query.name;
  offset = query.address - query.base;
}

void Barrier::resolve_action(const std::string& module, std::uint64_t offset) {
  ModuleNamed query{&module};
  dl_iterate_phdr(find_module_named, &query);
  if (!query.found)
    throw ProcessError("mp::Barrier: the action's module '" + module + "' is not loaded here");
  action_ = reinterpret_cast<void (*)()>(query.base + offset);
}

// Runs `body` holding the internal lock. A process that died holding it leaves the
// barrier's counts unknown: the barrier breaks.
template <class F>
auto Barrier::locked(F&& body) {
  BarrierState& s = *state_;
  try {
    lock_->lock();
  } catch (const OwnerDied&) {
    lock_->mark_consistent();
    break_locked(s);
  }
  struct Unlock {
    Lock& lock;
    ~Unlock() { lock.unlock(); }
  } unlock{*lock_};
  try {
    return body();
  } catch (const OwnerDied&) {
    lock_->mark_consistent();
    break_locked(s);
    throw BrokenBarrierError("mp::Barrier: a process died holding the barrier's lock");
  }
}

std::size_t Barrier::wait(std::optional<double> timeout) {
  BarrierState& s = *state_;
  const double t = timeout ? *timeout : s.timeout;
  return locked([&]() -> std::size_t {
    enter_locked(s);
    std::size_t index = s.count++;
    MP_HOOK("barrier.wait.after_arrive");
    try {
      if (index + 1 == s.parties) {
        release_locked(s);
      } else {
        wait_locked(s, t);
      }
    } catch (...) {
      --s.count;
      exit_locked(s);
      throw;
    }
    --s.count;
    exit_locked(s);
    return index;
  });
}

// Waits while the previous pass drains or a reset completes.
void Barrier::enter_locked(BarrierState& s) {
  while (s.state == BarrierState::kDraining || s.state == BarrierState::kResetting)
    condition_->wait();
  if (s.state < 0) throw BrokenBarrierError("mp::Barrier: the barrier is broken");
}

// The last party: run the action, then let everyone go.
void Barrier::release_locked(BarrierState& s) {
  try {
    if (action_) action_();
    s.state = BarrierState::kDraining;
    condition_->notify_all();
  } catch (...) {
    break_locked(s);
    throw;
  }
}

void Barrier::wait_locked(BarrierState& s, double timeout) {
  if (!condition_->wait_for([&] { return s.state != BarrierState::kFilling; }, timeout)) {
    break_locked(s);
    throw BrokenBarrierError("mp::Barrier: wait timed out (the barrier is now broken)");
  }
  if (s.state < 0) throw BrokenBarrierError("mp::Barrier: the barrier was aborted or reset");
}

void Barrier::break_locked(BarrierState& s) {
  s.state = BarrierState::kBroken;
  condition_->notify_all();
}

// The last party to leave a draining or resetting barrier opens it for the next pass.
void Barrier::exit_locked(BarrierState& s) {
  if (s.count == 0 && (s.state == BarrierState::kResetting || s.state == BarrierState::kDraining)) {
    s.state = BarrierState::kFilling;
    condition_->notify_all();
  }
}

void Barrier::reset() {
  BarrierState& s = *state_;
  locked([&] {
    if (s.count > 0) {
      if (s.state == BarrierState::kFilling || s.state == BarrierState::kBroken)
        s.state = BarrierState::kResetting;
    } else {
      s.state = BarrierState::kFilling;
    }
    condition_->notify_all();
  });
}

void Barrier::abort() {
  locked([&] { break_locked(*state_); });
}

std::size_t Barrier::parties() const noexcept { return state_->parties; }

std::size_t Barrier::n_waiting() const noexcept {
  const BarrierState& s = *state_;
  return s.state.load(std::memory_order_relaxed) == BarrierState::kFilling
             ? s.count.load(std::memory_order_relaxed)
             : 0;
}

bool Barrier::broken() const noexcept { return state_->state == BarrierState::kBroken; }

}  // namespace mp
