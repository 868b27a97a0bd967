// mp::Condition (mp/condition.h).
#include "mp/condition.h"

#include <climits>
#include <stdexcept>

namespace mp {
namespace {

struct ConditionWithLock {
  detail::MutexState mutex;
  detail::ConditionState condition;
};

}  // namespace

Condition::Condition() {
  auto both = detail::SharedPtr<ConditionWithLock>::make("mp.Condition");
  MP_TSAN_MUTEX_CREATE(&both->mutex, MP_TSAN_RECURSIVE);
  lock_.emplace<RLock>(both.sibling(&both->mutex));
  state_ = both.sibling(&both->condition);
}

Condition::Condition(Lock lock)
    : lock_(std::move(lock)),
      state_(detail::SharedPtr<detail::ConditionState>::make("mp.Condition")) {}

Condition::Condition(RLock lock)
    : lock_(std::move(lock)),
      state_(detail::SharedPtr<detail::ConditionState>::make("mp.Condition")) {}

bool Condition::acquire(bool block, double timeout) {
  return std::visit([&](auto& l) { return l.acquire(block, timeout); }, lock_);
}

void Condition::release() {
  std::visit([](auto& l) { l.release(); }, lock_);
}

void Condition::mark_consistent() {
  std::visit([](auto& l) { l.mark_consistent(); }, lock_);
}

bool Condition::held_by_caller() const noexcept {
  if (const auto* l = std::get_if<Lock>(&lock_)) return l->held_by_caller();
  return std::get<RLock>(lock_).is_mine();
}

bool Condition::wait(double timeout) {
  if (!held_by_caller())
    throw std::logic_error("mp::Condition::wait: cannot wait on un-acquired lock");
  std::uint32_t seq = detail::condition_register(*state_);
  bool notified;
  if (auto* l = std::get_if<Lock>(&lock_)) {
    l->release();
    MP_HOOK("condition.wait.after_release");
    notified = detail::condition_sleep(*state_, seq, timeout);
    l->lock();
  } else {
    auto& r = std::get<RLock>(lock_);
    RLock::Levels levels = r.release_all();
    MP_HOOK("condition.wait.after_release");
    notified = detail::condition_sleep(*state_, seq, timeout);
    r.reacquire_all(levels);
  }
  return notified;
}

void Condition::notify(int n) {
  if (!held_by_caller())
    throw std::logic_error("mp::Condition::notify: cannot notify on un-acquired lock");
  if (n > 0) detail::condition_notify(*state_, static_cast<std::uint32_t>(n));
}

void Condition::notify_all() {
  if (!held_by_caller())
    throw std::logic_error("mp::Condition::notify_all: cannot notify on un-acquired lock");
  detail::condition_notify(*state_, UINT32_MAX);
}

}  // namespace mp
