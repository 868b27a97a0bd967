// The manager's synchronization objects: Queue, JoinableQueue, Lock, RLock, Semaphore,
// BoundedSemaphore, Condition, Event, Barrier. A call that cannot finish yet becomes a
// Waiter that the object completes when it can, or when its time runs out (expire), or
// forgets when its connection closes (disconnected). Locks have owners (connection and
// calling thread): a lock whose owner's connection drops is released, and its next holder
// is told with an OwnerDied error, as the runtime's robust locks do.
#include <algorithm>
#include <deque>
#include <optional>

#include "manager_server.h"

namespace mp::detail::manager {
namespace {

template <class Q>
bool erase_waiter(Q& queue, std::uint64_t token) {
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->waiter.token == token) {
      queue.erase(it);
      return true;
    }
  }
  return false;
}

template <class Q>
void erase_connection(Q& queue, ConnId conn) {
  queue.erase(std::remove_if(queue.begin(), queue.end(),
                             [&](const auto& e) { return e.waiter.conn == conn; }),
              queue.end());
}

struct Waiting {
  Waiter waiter;
};

// -----------------------------------------------------------------------------
// Queue, JoinableQueue
// -----------------------------------------------------------------------------

class Queue : public TableObject<Queue> {
 public:
  static constexpr std::string_view kKind = "Queue";

  Queue(Server& server, std::int64_t maxsize, bool joinable)
      : server_(server), maxsize_(maxsize), joinable_(joinable) {}

  // put(item, block, timeout)
  void put(Call& c) {
    c.args.expect(3, "put");
    if (has_room()) {
      push(std::string(c.args.bytes(0)));
      c.reply();
      return;
    }
    if (!c.args.flag(1)) raise("Full", "the queue is full");
    putters_.push_back({c.wait(c.args.f64(2)), std::string(c.args.bytes(0))});
  }
  // get(block, timeout)
  void get(Call& c) {
    c.args.expect(2, "get");
    if (!items_.empty()) {
      std::string item = pop();
      c.reply({item});
      return;
    }
    if (!c.args.flag(0)) raise("Empty", "the queue is empty");
    getters_.push_back({c.wait(c.args.f64(1))});
  }
  void qsize(Call& c) { c.reply_u64(items_.size()); }
  void empty(Call& c) { c.reply_bool(items_.empty()); }
  void full(Call& c) { c.reply_bool(!has_room()); }
  void task_done(Call& c) {
    if (!joinable_) raise("AttributeError", "'Queue' object has no exposed method 'task_done'");
    if (unfinished_ == 0) raise("ValueError", "task_done() called too many times");
    if (--unfinished_ == 0) {
      for (auto& j : joiners_) server_.complete_bool(j.waiter, true);
      joiners_.clear();
    }
    c.reply();
  }
  // join(timeout): true once every item put has been task_done
  void join(Call& c) {
    if (!joinable_) raise("AttributeError", "'Queue' object has no exposed method 'join'");
    if (unfinished_ == 0) {
      c.reply_bool(true);
      return;
    }
    joiners_.push_back({c.wait(c.args.f64(0))});
  }

  void expire(const Waiter& w) override {
    if (erase_waiter(getters_, w.token)) {
      server_.fail(w, "Empty", "the queue stayed empty");
    } else if (erase_waiter(putters_, w.token)) {
      server_.fail(w, "Full", "the queue stayed full");
    } else if (erase_waiter(joiners_, w.token)) {
      server_.complete_bool(w, false);
    }
  }
  void disconnected(ConnId conn) override {
    erase_connection(getters_, conn);
    erase_connection(putters_, conn);
    erase_connection(joiners_, conn);
  }

  static constexpr Method<Queue> kMethods[] = {
      {"put", &Queue::put},     {"get", &Queue::get},   {"qsize", &Queue::qsize},
      {"empty", &Queue::empty}, {"full", &Queue::full}, {"task_done", &Queue::task_done},
      {"join", &Queue::join},
  };

 private:
  struct Putter {
    Waiter waiter;
    std::string item;
  };
  bool has_room() const {
    return maxsize_ <= 0 || static_cast<std::int64_t>(items_.size()) < maxsize_;
  }
  // An item in: straight to the oldest waiting getter if there is one.
  void push(std::string item) {
    if (joinable_) ++unfinished_;
    if (!getters_.empty()) {
      Waiter w = getters_.front().waiter;
      getters_.pop_front();
      server_.complete(w, {item});
      return;
    }
    items_.push_back(std::move(item));
  }
  // An item out: its place goes to the oldest waiting putter.
  std::string pop() {
    std::string item = std::move(items_.front());
    items_.pop_front();
    while (!putters_.empty() && has_room()) {
      Putter p = std::move(putters_.front());
      putters_.pop_front();
      Waiter w = p.waiter;
      push(std::move(p.item));
      server_.complete(w);
    }
    return item;
  }

  Server& server_;
  std::int64_t maxsize_;
  bool joinable_;
  std::uint64_t unfinished_ = 0;
  std::deque<std::string> items_;
  std::deque<Waiting> getters_;
  std::deque<Putter> putters_;
  std::deque<Waiting> joiners_;
};

std::unique_ptr<Object> make_queue(Server& server, const Args& args) {
  return std::make_unique<Queue>(server, args.size() > 0 ? args.i64(0) : 0, false);
}
std::unique_ptr<Object> make_joinable_queue(Server& server, const Args& args) {
  return std::make_unique<Queue>(server, args.size() > 0 ? args.i64(0) : 0, true);
}

// -----------------------------------------------------------------------------
// Lock, RLock
// -----------------------------------------------------------------------------

// What Lock and RLock share, and what a Condition needs of its lock.
class OwnedLock : public Object {
 public:
  struct Owner {
    ConnId conn = 0;
    std::uint64_t caller = 0;
    friend bool operator==(const Owner&, const Owner&) = default;
  };

  OwnedLock(Server& server, bool recursive) : server_(server), recursive_(recursive) {}

  [[nodiscard]] bool owned_by(Owner o) const { return count_ > 0 && owner_ == o; }

  // acquire(block, timeout) -> bool
  void acquire(Call& c) {
    c.args.expect(2, "acquire");
    Owner me{c.conn, c.request.caller};
    if (count_ > 0 && recursive_ && owner_ == me) {
      ++count_;
      c.reply_bool(true);
      return;
    }
    if (count_ == 0) {
      take(me, 1);
      if (owner_died_) {
        owner_died_ = false;
        raise("OwnerDied", died_message());
      }
      c.reply_bool(true);
      return;
    }
    if (!c.args.flag(0)) {
      c.reply_bool(false);
      return;
    }
    queue_.push_back({c.wait(c.args.f64(1)), 1, true});
  }
  void release(Call& c) {
    Owner me{c.conn, c.request.caller};
    if (count_ == 0) raise("RuntimeError", "release of an unlocked lock");
    if (recursive_ && owner_ != me) raise("RuntimeError", "cannot release un-acquired lock");
    if (--count_ == 0) hand_over();
    c.reply();
  }
  void locked(Call& c) { c.reply_bool(count_ > 0); }

  // For Condition.wait: gives the lock up entirely; the levels to restore.
  std::int64_t release_all() {
    std::int64_t levels = count_;
    count_ = 0;
    hand_over();
    return levels;
  }
  // For Condition.wait: takes the lock back for `w` with `levels`, replying `result` then.
  void reacquire(const Waiter& w, std::int64_t levels, bool result) {
    if (count_ == 0) {
      take({w.conn, w.caller}, levels);
      grant({w, levels, result});
      return;
    }
    queue_.push_back({w, levels, result});
  }

  void expire(const Waiter& w) override {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->waiter.token == w.token) {
        queue_.erase(it);
        server_.complete_bool(w, false);
        return;
      }
    }
  }
  void disconnected(ConnId conn) override {
    erase_connection(queue_, conn);
    if (count_ > 0 && owner_.conn == conn) {
      count_ = 0;
      owner_died_ = true;
      hand_over();
    }
  }

 private:
  struct Pending {
    Waiter waiter;
    std::int64_t levels;
    bool result;
  };
  void take(Owner o, std::int64_t levels) {
    owner_ = o;
    count_ = levels;
  }
  void grant(const Pending& p) {
    if (owner_died_) {
      owner_died_ = false;
      server_.fail(p.waiter, "OwnerDied", died_message());
      return;
    }
    server_.complete_bool(p.waiter, p.result);
  }
  void hand_over() {
    if (queue_.empty()) return;
    Pending next = queue_.front();
    queue_.pop_front();
    take({next.waiter.conn, next.waiter.caller}, next.levels);
    grant(next);
  }
  static std::string died_message() {
    return "the lock's previous holder disconnected (its process died?) while holding it; "
           "the lock is now held by this caller";
  }

  Server& server_;
  bool recursive_;
  Owner owner_;
  std::int64_t count_ = 0;
  bool owner_died_ = false;
  std::deque<Pending> queue_;
};

class Lock final : public OwnedLock {
 public:
  static constexpr std::string_view kKind = "Lock";
  explicit Lock(Server& s) : OwnedLock(s, false) {}
  void call(std::string_view method, Call& c) override { dispatch(this, method, c); }
  static constexpr Method<OwnedLock> kMethods[] = {
      {"acquire", &OwnedLock::acquire},
      {"release", &OwnedLock::release},
      {"locked", &OwnedLock::locked},
  };
  template <class T>
  static void dispatch(T* self, std::string_view method, Call& c) {
    for (const auto& m : kMethods) {
      if (m.name == method) {
        (self->*m.fn)(c);
        return;
      }
    }
    raise("AttributeError", "'" + std::string(T::kKind) + "' object has no exposed method '" +
                                std::string(method) + "'");
  }
};

class RLock final : public OwnedLock {
 public:
  static constexpr std::string_view kKind = "RLock";
  explicit RLock(Server& s) : OwnedLock(s, true) {}
  void call(std::string_view method, Call& c) override { Lock::dispatch(this, method, c); }
};

template <class T>
std::unique_ptr<Object> make_with_server(Server& server, const Args&) {
  return std::make_unique<T>(server);
}

// -----------------------------------------------------------------------------
// Semaphore, BoundedSemaphore
// -----------------------------------------------------------------------------

class Semaphore final : public TableObject<Semaphore> {
 public:
  static constexpr std::string_view kKind = "Semaphore";

  Semaphore(Server& server, std::int64_t value, std::optional<std::int64_t> bound)
      : server_(server), value_(value), bound_(bound) {
    if (value < 0) raise("ValueError", "semaphore initial value must be >= 0");
  }

  void acquire(Call& c) {
    c.args.expect(2, "acquire");
    if (value_ > 0) {
      --value_;
      c.reply_bool(true);
      return;
    }
    if (!c.args.flag(0)) {
      c.reply_bool(false);
      return;
    }
    waiters_.push_back({c.wait(c.args.f64(1))});
  }
  void release(Call& c) {
    if (bound_ && value_ >= *bound_) raise("ValueError", "Semaphore released too many times");
    if (!waiters_.empty()) {
      Waiter w = waiters_.front().waiter;
      waiters_.pop_front();
      server_.complete_bool(w, true);
    } else {
      ++value_;
    }
    c.reply();
  }
  void get_value(Call& c) { c.reply_u64(static_cast<std::uint64_t>(value_)); }

  void expire(const Waiter& w) override {
    if (erase_waiter(waiters_, w.token)) server_.complete_bool(w, false);
  }
  void disconnected(ConnId conn) override { erase_connection(waiters_, conn); }

  static constexpr Method<Semaphore> kMethods[] = {
      {"acquire", &Semaphore::acquire},
      {"release", &Semaphore::release},
      {"get_value", &Semaphore::get_value},
  };

 private:
  Server& server_;
  std::int64_t value_;
  std::optional<std::int64_t> bound_;
  std::deque<Waiting> waiters_;
};

std::unique_ptr<Object> make_semaphore(Server& server, const Args& args) {
  return std::make_unique<Semaphore>(server, args.size() > 0 ? args.i64(0) : 1, std::nullopt);
}
std::unique_ptr<Object> make_bounded_semaphore(Server& server, const Args& args) {
  std::int64_t value = args.size() > 0 ? args.i64(0) : 1;
  return std::make_unique<Semaphore>(server, value, value);
}

// -----------------------------------------------------------------------------
// Condition: on a manager Lock or RLock
// -----------------------------------------------------------------------------

class Condition final : public TableObject<Condition> {
 public:
  static constexpr std::string_view kKind = "Condition";

  Condition(Server& server, ObjectId lock) : server_(server), lock_id_(lock) {
    server_.hold(lock_id_);
  }
  ~Condition() override { server_.release(lock_id_); }

  // wait(timeout) -> bool: false if the time ran out; the lock is held again either way.
  void wait(Call& c) {
    c.args.expect(1, "wait");
    OwnedLock& l = lock();
    if (!l.owned_by({c.conn, c.request.caller}))
      raise("RuntimeError", "cannot wait on un-acquired lock");
    Waiter w = c.wait(c.args.f64(0));
    waiters_.push_back({w, l.release_all()});
  }
  // notify(n)
  void notify(Call& c) {
    c.args.expect(1, "notify");
    OwnedLock& l = lock();
    if (!l.owned_by({c.conn, c.request.caller}))
      raise("RuntimeError", "cannot notify on un-acquired lock");
    std::int64_t n = c.args.i64(0);
    while (n-- > 0 && !waiters_.empty()) {
      Sleeper s = waiters_.front();
      waiters_.pop_front();
      server_.cancel_timer(s.waiter);
      s.waiter.token = 0;
      l.reacquire(s.waiter, s.levels, true);
    }
    c.reply();
  }
  void notify_all(Call& c) {
    OwnedLock& l = lock();
    if (!l.owned_by({c.conn, c.request.caller}))
      raise("RuntimeError", "cannot notify on un-acquired lock");
    while (!waiters_.empty()) {
      Sleeper s = waiters_.front();
      waiters_.pop_front();
      server_.cancel_timer(s.waiter);
      s.waiter.token = 0;
      l.reacquire(s.waiter, s.levels, true);
    }
    c.reply();
  }
  // The lock's own methods, so that the proxy works as a lock too (Python's Condition does).
  void acquire(Call& c) { lock().acquire(c); }
  void release(Call& c) { lock().release(c); }

  void expire(const Waiter& w) override {
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->waiter.token != w.token) continue;
      Sleeper s = *it;
      waiters_.erase(it);
      s.waiter.token = 0;
      lock().reacquire(s.waiter, s.levels, false);
      return;
    }
    lock().expire(w);  // a timed acquire made through the condition
  }
  void disconnected(ConnId conn) override { erase_connection(waiters_, conn); }

  static constexpr Method<Condition> kMethods[] = {
      {"wait", &Condition::wait},
      {"notify", &Condition::notify},
      {"notify_all", &Condition::notify_all},
      {"acquire", &Condition::acquire},
      {"release", &Condition::release},
  };

  static std::unique_ptr<Object> make(Server& server, const Args& args) {
    args.expect(1, "Condition");
    ObjectId lock = args.u64(0);
    if (dynamic_cast<OwnedLock*>(server.find(lock)) == nullptr)
      raise("TypeError", "a Condition needs a manager Lock or RLock");
    return std::make_unique<Condition>(server, lock);
  }

 private:
  struct Sleeper {
    Waiter waiter;
    std::int64_t levels;
  };
  OwnedLock& lock() { return *static_cast<OwnedLock*>(server_.find(lock_id_)); }

  Server& server_;
  ObjectId lock_id_;
  std::deque<Sleeper> waiters_;
};

// -----------------------------------------------------------------------------
// Event
// -----------------------------------------------------------------------------

class Event final : public TableObject<Event> {
 public:
  static constexpr std::string_view kKind = "Event";
  explicit Event(Server& server) : server_(server) {}

  void set(Call& c) {
    flag_ = true;
    for (auto& w : waiters_) server_.complete_bool(w.waiter, true);
    waiters_.clear();
    c.reply();
  }
  void clear(Call& c) {
    flag_ = false;
    c.reply();
  }
  void is_set(Call& c) { c.reply_bool(flag_); }
  // wait(timeout) -> bool
  void wait(Call& c) {
    c.args.expect(1, "wait");
    if (flag_) {
      c.reply_bool(true);
      return;
    }
    waiters_.push_back({c.wait(c.args.f64(0))});
  }
  void expire(const Waiter& w) override {
    if (erase_waiter(waiters_, w.token)) server_.complete_bool(w, false);
  }
  void disconnected(ConnId conn) override { erase_connection(waiters_, conn); }

  static constexpr Method<Event> kMethods[] = {{"set", &Event::set},
                                               {"clear", &Event::clear},
                                               {"is_set", &Event::is_set},
                                               {"wait", &Event::wait}};

 private:
  Server& server_;
  bool flag_ = false;
  std::deque<Waiting> waiters_;
};

// -----------------------------------------------------------------------------
// Barrier
// -----------------------------------------------------------------------------

class Barrier final : public TableObject<Barrier> {
 public:
  static constexpr std::string_view kKind = "Barrier";

  Barrier(Server& server, std::int64_t parties, double timeout)
      : server_(server), parties_(parties), timeout_(timeout) {
    if (parties < 1) raise("ValueError", "a Barrier needs at least one party");
  }

  // wait(timeout) -> the arrival index (0 for the first); negative timeout: the default.
  void wait(Call& c) {
    c.args.expect(1, "wait");
    if (broken_) raise("BrokenBarrierError", "the barrier is broken");
    double timeout = c.args.f64(0) < 0 ? timeout_ : c.args.f64(0);
    std::uint64_t index = waiters_.size();
    if (static_cast<std::int64_t>(index) + 1 == parties_) {
      for (std::size_t i = 0; i < waiters_.size(); ++i) {
        std::uint64_t k = i;
        server_.complete(waiters_[i].waiter, {wire::scalar_bytes(k)});
      }
      waiters_.clear();
      c.reply_u64(index);
      return;
    }
    waiters_.push_back({c.wait(timeout)});
  }
  void abort(Call& c) {
    break_barrier("the barrier was aborted");
    c.reply();
  }
  void reset(Call& c) {
    break_barrier("the barrier was reset");
    broken_ = false;
    c.reply();
  }
  void n_waiting(Call& c) { c.reply_u64(waiters_.size()); }
  void parties(Call& c) { c.reply_u64(static_cast<std::uint64_t>(parties_)); }
  void broken(Call& c) { c.reply_bool(broken_); }

  void expire(const Waiter& w) override {
    if (erase_waiter(waiters_, w.token)) {
      server_.fail(w, "BrokenBarrierError", "the barrier's wait timed out");
      break_barrier("another party's wait timed out");
    }
  }
  // A party that disconnects while waiting will never arrive again: the barrier breaks.
  void disconnected(ConnId conn) override {
    auto before = waiters_.size();
    erase_connection(waiters_, conn);
    if (waiters_.size() != before) break_barrier("a waiting party disconnected");
  }

  static constexpr Method<Barrier> kMethods[] = {
      {"wait", &Barrier::wait},       {"abort", &Barrier::abort},
      {"reset", &Barrier::reset},     {"n_waiting", &Barrier::n_waiting},
      {"parties", &Barrier::parties}, {"broken", &Barrier::broken},
  };

  static std::unique_ptr<Object> make(Server& server, const Args& args) {
    args.expect(2, "Barrier");
    return std::make_unique<Barrier>(server, args.i64(0), args.f64(1));
  }

 private:
  void break_barrier(const std::string& why) {
    broken_ = true;
    for (auto& w : waiters_) server_.fail(w.waiter, "BrokenBarrierError", why);
    waiters_.clear();
  }

  Server& server_;
  std::int64_t parties_;
  double timeout_;
  bool broken_ = false;
  std::deque<Waiting> waiters_;
};

}  // namespace

const std::vector<Kind>& sync_kinds() {
  static const std::vector<Kind> kinds = {
      {"Queue", &make_queue},
      {"JoinableQueue", &make_joinable_queue},
      {"Lock", &make_with_server<Lock>},
      {"RLock", &make_with_server<RLock>},
      {"Semaphore", &make_semaphore},
      {"BoundedSemaphore", &make_bounded_semaphore},
      {"Condition", &Condition::make},
      {"Event", &make_with_server<Event>},
      {"Barrier", &Barrier::make},
  };
  return kinds;
}

}  // namespace mp::detail::manager
