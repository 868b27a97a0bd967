// Private to the runtime: the manager's server — an event loop over authenticated client
// connections, the registry of live objects with their reference counts, and the interface
// every kind of managed object implements (manager_objects.cpp, manager_sync_objects.cpp).
//
// One thread serves everything, so an object's methods run one at a time (what makes
// update_with atomic) and no object needs a lock. A call that has to wait (Queue.get on an
// empty queue, Lock.acquire of a held lock) does not block the loop: the object keeps a
// Waiter and replies later, when it can, or when the waiter's time runs out; meanwhile the
// same connection's other calls, and everyone else's, are served.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mp/detail/manager_registry.h"
#include "mp/detail/manager_wire.h"
#include "mp/listener.h"

namespace mp::detail::manager {

using ConnId = std::uint64_t;
using ObjectId = std::uint64_t;
using Clock = std::chrono::steady_clock;

class Server;

// An error for the caller: `type` is what the client turns into an exception (KeyError,
// IndexError, ValueError, Empty, Full, ...; anything else becomes mp::RemoteError).
struct CallError {
  std::string type;
  std::string message;
};
[[noreturn]] inline void raise(std::string type, std::string message) {
  throw CallError{std::move(type), std::move(message)};
}

// The arguments of a call, checked as they are read: a missing field or one of the wrong
// size is a TypeError for the caller.
class Args {
 public:
  explicit Args(const std::vector<std::string_view>& fields) : fields_(fields) {}
  [[nodiscard]] std::size_t size() const { return fields_.size(); }
  [[nodiscard]] std::string_view bytes(std::size_t i) const;
  [[nodiscard]] std::int64_t i64(std::size_t i) const;
  [[nodiscard]] std::uint64_t u64(std::size_t i) const;
  [[nodiscard]] double f64(std::size_t i) const;
  [[nodiscard]] bool flag(std::size_t i) const;
  // Requires exactly `n` fields.
  void expect(std::size_t n, std::string_view method) const;

 private:
  const std::vector<std::string_view>& fields_;
};

// A call that waits: where its reply goes.
struct Waiter {
  ConnId conn = 0;
  std::uint64_t request_id = 0;
  std::uint64_t caller = 0;
  std::uint64_t token = 0;  // its timer, if any
};

// One call being served.
class Call {
 public:
  Call(Server& server, ConnId conn, const wire::Request& request, ObjectId object)
      : server(server), conn(conn), request(request), object(object), args(request.fields) {}

  void reply(const std::vector<std::string_view>& fields = {});
  void reply_u64(std::uint64_t v) { reply({wire::scalar_bytes(v)}); }
  void reply_bool(bool v);
  // Makes the call wait instead of replying now. After `timeout` seconds (negative: never)
  // the server calls the object's expire() with the waiter.
  Waiter wait(double timeout);

  Server& server;
  const ConnId conn;
  const wire::Request& request;
  const ObjectId object;
  const Args args;
  bool answered = false;
};

// A managed object.
class Object {
 public:
  virtual ~Object() = default;
  // Serves `method`; replies through `call` (now, or later through a Waiter). Throws
  // CallError for the caller.
  virtual void call(std::string_view method, Call& call) = 0;
  // A waiter's time has run out: forget it and reply to it.
  virtual void expire(const Waiter&) {}
  // `conn` has closed: forget its waiters, give back what it held.
  virtual void disconnected(ConnId) {}
};

// An Object whose methods are a table: `static constexpr Method<T> kMethods[]` in T, each a
// name and a member `void f(Call&)`. Adding a method is adding a row.
template <class T>
struct Method {
  std::string_view name;
  void (T::*fn)(Call&);
};

template <class T>
class TableObject : public Object {
 public:
  void call(std::string_view method, Call& call) override {
    for (const auto& m : T::kMethods) {
      if (m.name == method) {
        (static_cast<T*>(this)->*m.fn)(call);
        return;
      }
    }
    raise("AttributeError", "'" + std::string(T::kKind) + "' object has no exposed method '" +
                                std::string(method) + "'");
  }
};

// How the built-in kinds are made: from the arguments of the create request.
using Factory = std::unique_ptr<Object> (*)(Server& server, const Args& args);
struct Kind {
  std::string_view name;
  Factory make;
};
// manager_objects.cpp / manager_sync_objects.cpp: the built-in kinds.
const std::vector<Kind>& container_kinds();
const std::vector<Kind>& sync_kinds();

struct ServerOptions {
  std::size_t max_message = std::size_t{1} << 28;  // 256 MiB
  double handshake_timeout = 5.0;
  // How long the loop polls without sleeping after its last message: a reply then costs no
  // wake-up (see DESIGN.md: a wake-up costs ~50 µs here).
  std::chrono::microseconds spin{100};
};

class Server {
 public:
  Server(Listener listener, std::optional<std::string> authkey, Registry registry,
         ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until a shutdown request.
  void serve_forever();

  // For objects:
  void complete(const Waiter& w, const std::vector<std::string_view>& fields = {});
  void complete_bool(const Waiter& w, bool v);
  void fail(const Waiter& w, std::string_view type, std::string_view message);
  // Cancels a waiter's timer (when the object completes it first).
  void cancel_timer(const Waiter& w);
  // An object by id (nullptr if there is none); references held by the server itself.
  Object* find(ObjectId id);
  void hold(ObjectId id);
  void release(ObjectId id);
  // Runs a registered update function. Throws CallError if there is none of that name.
  std::string apply_function(std::string_view name, const std::string_view* current,
                             std::string_view args);
  [[nodiscard]] bool connected(ConnId conn) const { return conns_.count(conn) != 0; }
  std::size_t object_count() const { return objects_.size(); }

  // For Call:
  void send_reply(ConnId conn, std::uint64_t request_id, wire::Status status,
                  const std::vector<std::string_view>& fields);
  std::uint64_t add_timer(ObjectId object, const Waiter& w, double timeout);

 private:
  struct Conn;
  struct Entry {
    std::unique_ptr<Object> object;
    std::int64_t refs = 0;
    std::unordered_map<ConnId, std::int64_t> holders;  // ConnId 0: the server itself
  };
  struct Timer {
    Clock::time_point at;
    ObjectId object = 0;
    Waiter waiter;
    ConnId handshake = 0;  // a connection whose challenge must be over by `at`
  };

  void accept_new();
  void on_readable(Conn& c);
  std::size_t frame_limit(const Conn& c) const;
  std::size_t read_size(Conn& c);  // bytes to read for the next frame; 0: dropped (too large)
  ssize_t receive_with_fd(Conn& c, char* room, std::size_t want);
  void consume_frames(Conn& c);
  void drop_too_large(Conn& c, std::uint64_t length);
  // Lanes (byte_lane.h): shared-memory connections of local clients.
  void accept_lane(Conn& c, const wire::Request& r);
  bool serve_lane(Conn& c);  // true if bytes moved
  bool serve_lanes();
  bool park_lanes();  // false if a lane had bytes to serve (then none is parked)
  void unpark_lanes();
  void on_frame(Conn& c, std::string_view payload);
  void on_handshake(Conn& c, std::string_view payload);
  void on_request(Conn& c, std::string_view payload);
  void create(Conn& c, const wire::Request& r);
  void incref(ConnId conn, ObjectId id);
  void decref(ConnId conn, ObjectId id);
  void drop(ConnId conn, const std::string& reason);
  void flush(Conn& c);
  void flush_dirty();
  void run_timers();
  int poll_timeout_ms() const;
  void collect(ObjectId id);

  Listener listener_;
  std::optional<std::string> authkey_;
  Registry registry_;
  ServerOptions options_;
  int epoll_ = -1;
  bool stopping_ = false;
  ConnId next_conn_ = 1;
  ObjectId next_object_ = 1;
  std::uint64_t next_timer_ = 1;
  std::unordered_map<ConnId, std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> lanes_;  // the connections talking through a lane
  std::unordered_map<ObjectId, Entry> objects_;
  std::map<std::uint64_t, Timer> timers_;
  std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines_;
  std::set<ConnId> dirty_;
  std::vector<ObjectId> garbage_;
};

}  // namespace mp::detail::manager
