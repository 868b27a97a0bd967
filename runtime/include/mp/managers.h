// mp/managers.h — a server process that owns objects, and proxies that reach them from
// any process (Python's multiprocessing.managers).
//
//   mp::BaseManager          a manager: start() a server process, or connect() to one, or
//                            serve_forever() in this one; register_type / register_function
//   mp::SyncManager          a BaseManager that makes the standard objects (below)
//   mp::Manager()            a started SyncManager (Python's multiprocessing.Manager())
//   mp::ManagerOptions       start method, client timeouts, message size limit
//   mp::exposed<&T::f>(name) a method of a registered type that proxies may call
//   mp::Proxy<T>             a proxy to an object of a registered type
//   DictProxy<K,V>, ListProxy<T>, ValueProxy<T>, ArrayProxy<T>, NamespaceProxy,
//   QueueProxy<T>, JoinableQueueProxy<T>, LockProxy, RLockProxy, SemaphoreProxy,
//   BoundedSemaphoreProxy, ConditionProxy, EventProxy, BarrierProxy
//
// Proxies are ordinary values: copy them, pass them to a Process (fork, spawn, thread), to
// a Pool task, put them in a Queue or inside another managed object; every copy, in every
// process, refers to the same object in the server. Unlike mp::Lock, mp::Queue and the
// other shared-memory primitives they are not inheritance-only.
//
//   mp::SyncManager manager = mp::Manager();
//   mp::DictProxy<std::string, std::vector<int>> d = manager.dict<std::string, std::vector<int>>();
//   d.set("a", {});
//   std::vector<int> copy = d["a"];   // a copy: changing it changes nothing in the server
//   copy.push_back(1);
//   d.set("a", copy);                 // the write-back, explicit (Python: d['a'] = copy)
//
// Semantics are Python's: every call is one round trip to the server; reads return copies,
// and a change to a copy is lost unless written back — while two processes fetch, change and
// write back, one's update is lost. update_with(key, "function", extra...) is the correct
// alternative: it runs a function registered with register_function inside the server,
// atomically with respect to every other call. Values travel as mp::serialize makes them;
// keys and elements are compared by those bytes (equal values serialize equally for the
// standard types; a user type must serialize equal values to equal bytes to be a key).
//
// Better than Python:
//   - If the server dies, every call fails within a bounded time with mp::ManagerGone,
//     including one blocked in a remote Queue::get or Lock::acquire: at once on a Unix
//     socket (EOF); over TCP within ManagerOptions::gone_timeout (heartbeats; a peer that
//     answers nothing for that long is gone). No call hangs.
//   - One connection per process and manager, shared by all threads (calls are multiplexed
//     by request id): a thousand threads use one socket. A forked child makes its own.
//   - A blocking call (Queue::get, Lock::acquire, Event::wait...) never stops the server or
//     the caller's other threads: the server waits for it without a thread per call.
//   - A manager Lock or RLock held by a process that dies (its connection drops) is
//     released by the server, and its next holder's acquire throws mp::OwnerDied — with the
//     lock held, as the runtime's robust locks do.
//   - The server checks every message (sizes bounded, operations known): a malformed,
//     truncated or oversized one drops that connection with the reason on the server's
//     stderr; everyone else is served on.
//   - Every connection passes the authkey challenge of mp::Listener/mp::Client first; an
//     unauthenticated peer reaches no object.
//
// Lifetimes: an object lives while a proxy to it lives in some process. A proxy that has
// left its process (serialized, or alive across a fork) is not given back by that process
// until the process's connection closes (it exits): the object then outlives its last
// proxy by as much, but never dies while it is in transit to another process (Python's
// race between the sender's last decref and the receiver's incref does not exist here).
//
// Threads: every proxy and manager member may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/manager_client.h"
#include "mp/detail/manager_registry.h"
#include "mp/errors.h"
#include "mp/listener.h"
#include "mp/process.h"
#include "mp/serialize.h"

namespace mp {

// -----------------------------------------------------------------------------
// Options, registration
// -----------------------------------------------------------------------------

struct ManagerOptions {
  // How start() starts the server (nullopt: the current default start method).
  std::optional<Context> context;
  // Over TCP, a call whose server has answered nothing (not even a heartbeat) for this many
  // seconds fails with mp::ManagerGone. On Unix sockets the server's death is seen at once.
  double gone_timeout = 0.5;
  // Seconds between heartbeat pings while a call waits (TCP).
  double heartbeat = 0.1;
  // Heartbeats on Unix sockets too (a stopped, not dead, server then counts as gone).
  bool heartbeat_on_unix = false;
  // Messages larger than this drop the connection that sent them.
  std::size_t max_message = std::size_t{1} << 28;
  // How long each side polls for the other's message before sleeping, in microseconds.
  std::uint32_t spin_us = 50;
  // Whether clients on the server's host talk to it through shared memory (a ring each way
  // in a memfd, the Unix socket left for wake-ups and for noticing a death) instead of
  // through the socket: a call then costs no system call while both sides are awake.
  bool shared_memory = true;
};

// A method of a registered type, by name: for register_type and Proxy<T>::call.
template <auto M>
struct Exposed {
  std::string name;
};
template <auto M>
Exposed<M> exposed(std::string name) {
  static_assert(std::is_member_function_pointer_v<decltype(M)>,
                "mp::exposed: give a member function, as mp::exposed<&Counter::add>(\"add\")");
  return Exposed<M>{std::move(name)};
}

template <class T>
class Proxy;

class SyncManager;
class BaseManager;

namespace detail::manager {
class Server;
}

// A server bound to its address, not yet serving (BaseManager::get_server, Python's
// manager.get_server()): learn the address, then serve_forever(). Movable.
class ManagerServer {
 public:
  ManagerServer(ManagerServer&&) noexcept;
  ManagerServer& operator=(ManagerServer&&) noexcept;
  ~ManagerServer();
  // Where it listens (a TCP port 0 is the real port here).
  [[nodiscard]] const Address& address() const noexcept { return address_; }
  // Serves in this thread until a client sends shutdown.
  void serve_forever();

 private:
  friend class BaseManager;
  ManagerServer(std::unique_ptr<detail::manager::Server> server, Address address);
  std::unique_ptr<detail::manager::Server> server_;
  Address address_;
};

// -----------------------------------------------------------------------------
// BaseManager
// -----------------------------------------------------------------------------
//
// A manager at an address. Movable, not copyable. The object that start()s a server owns
// it: its destructor shuts the server down (Python's `with manager:`).
class BaseManager {
 public:
  // A manager at `address` (nullopt: an arbitrary abstract Unix name, chosen at start)
  // with `authkey` (nullopt: mp::authkey(), which children inherit).
  explicit BaseManager(std::optional<Address> address = std::nullopt,
                       std::optional<std::string> authkey = std::nullopt,
                       ManagerOptions options = {});
  BaseManager(BaseManager&&) noexcept;
  BaseManager& operator=(BaseManager&&) noexcept;
  BaseManager(const BaseManager&) = delete;
  BaseManager& operator=(const BaseManager&) = delete;
  virtual ~BaseManager();

  // Lets proxies make objects of T by `name` (Python's register(typeid, callable, exposed)):
  // T must be default-constructible (or serializable, to be made from an initial value),
  // and only the `methods` given are callable; a call of any other name is refused by the
  // server (mp::RemoteError "AttributeError"). Before start() or serve_forever().
  template <class T, auto... M>
  void register_type(std::string name, Exposed<M>... methods) {
    detail::manager::TypeSpec spec;
    spec.name = std::move(name);
    spec.make = &detail::manager::make_object<T>;
    spec.destroy = &detail::manager::destroy_object<T>;
    (spec.methods.push_back({std::move(methods.name), &detail::manager::call_method<M>}), ...);
    registry_.types.push_back(std::move(spec));
  }

  // Lets update_with run F in the server under `name`: F is `V f(V current, Extra...)`,
  // given the stored value (a default-constructed V where there is none yet) and returning
  // the new one. Registered on both sides by the same code: the server finds it by name,
  // clients refer to it by name. Before start() or serve_forever().
  template <auto F>
  void register_function(std::string name) {
    using Traits = detail::manager::UpdateTraits<decltype(F)>;
    static_assert(Traits::kValid,
                  "mp::BaseManager::register_function: the function must take the current "
                  "value first and return the new value of the same type: V f(V, Extra...)");
    registry_.functions.push_back({std::move(name), &detail::manager::apply_update<F>});
  }

  // Starts the server in a child process (fork, spawn, forkserver or thread:
  // options.context) and returns once it listens. Errors: std::logic_error if started or
  // connected already; mp::ProcessError if the server could not start (the reason: the
  // address in use, ...).
  void start();
  // Connects to a server that runs already at the address (started by another program,
  // perhaps on another host). Errors: mp::ManagerGone if none answers there,
  // mp::AuthenticationError if the key is refused.
  void connect();
  // Stops the server (a started one, or a connected one: anyone with the key may) and, if
  // this object started it, waits for its process. Every proxy call afterwards throws
  // mp::ManagerGone. Harmless if not running.
  void shutdown();
  // Runs the server in this process until a client sends shutdown.
  void serve_forever();
  // Binds the address (errors as Listener's) and gives the server, to serve later.
  ManagerServer get_server();

  // The address: the one given, or the one start() chose (a TCP port 0 becomes the real
  // port). Errors: std::logic_error if none was given and start() has not run.
  [[nodiscard]] const Address& address() const;
  // The authkey clients use.
  [[nodiscard]] std::string authkey() const;
  // How many objects the server holds (Python's _number_of_objects()).
  [[nodiscard]] std::size_t number_of_objects() const;
  // The server process (start() only; nullptr otherwise).
  [[nodiscard]] Process* process() noexcept { return process_.get(); }

  // An object of a registered type, default-constructed or from `initial`.
  template <class T>
  Proxy<T> create(std::string_view type_name);
  template <class T>
  Proxy<T> create(std::string_view type_name, const T& initial);

 protected:
  // Makes an object of `kind` with `fields` for its constructor; its proxy's parts.
  [[nodiscard]] std::uint64_t make(std::string_view kind,
                                   const std::vector<std::string_view>& fields) const;
  [[nodiscard]] const detail::manager::Endpoint& endpoint() const;

 private:
  std::optional<Address> address_;
  std::optional<std::string> authkey_;
  ManagerOptions options_;
  detail::manager::Registry registry_;
  detail::manager::Endpoint endpoint_;
  std::unique_ptr<Process> process_;
  bool running_ = false;
};

// -----------------------------------------------------------------------------
// Proxies
// -----------------------------------------------------------------------------

namespace detail::manager {
template <class T>
std::string value_field(const T& v) {
  return mp::serialize(v);
}
template <class... A>
std::string tuple_field(const A&... a) {
  return mp::serialize(std::tuple<std::decay_t<A>...>(a...));
}
}  // namespace detail::manager

// A proxy to an object of a type given to register_type.
template <class T>
class Proxy : public detail::manager::ProxyBase {
 public:
  Proxy() = default;

  // Calls M (exposed under `method.name`) with `args` converted to its parameter types;
  // returns its result. Errors: mp::RemoteError with the server's exception (its type name
  // and message) if M throws there or the method is not exposed; mp::ManagerGone.
  template <auto M, class... A>
  auto call(const Exposed<M>& method, A&&... args) const {
    using Traits = detail::manager::MemberTraits<decltype(M)>;
    using R = typename Traits::Return;
    typename Traits::Arguments values(std::forward<A>(args)...);
    std::string bytes = mp::serialize(values);
    detail::manager::Result r = ProxyBase::call(method.name, {bytes});
    if constexpr (!std::is_void_v<R>) return r.get<std::decay_t<R>>(0);
  }
  // The same by name, for a method whose types the caller states: R and the decayed types
  // of `args` must be the method's (Python's proxy._callmethod(name, args)).
  template <class R, class... A>
  R call(std::string_view method, const A&... args) const {
    std::string bytes = detail::manager::tuple_field(args...);
    detail::manager::Result r = ProxyBase::call(method, {bytes});
    if constexpr (!std::is_void_v<R>) return r.get<R>(0);
  }

 private:
  friend class BaseManager;
  Proxy(const detail::manager::Endpoint& e, std::uint64_t id, std::string kind)
      : ProxyBase(e, id, std::move(kind)) {}
};

template <class T>
Proxy<T> BaseManager::create(std::string_view type_name) {
  return Proxy<T>(endpoint(), make(type_name, {}), std::string(type_name));
}
template <class T>
Proxy<T> BaseManager::create(std::string_view type_name, const T& initial) {
  std::string bytes = mp::serialize(initial);
  return Proxy<T>(endpoint(), make(type_name, {bytes}), std::string(type_name));
}

// A managed dict: keys in insertion order (Python's). Reads return copies.
template <class K, class V>
class DictProxy : public detail::manager::ProxyBase {
 public:
  DictProxy() = default;

  // A copy of the value at `key`, or `fallback` if there is none (Python's d.get(k, f)).
  V get(const K& key, const V& fallback = V{}) const {
    auto r = call("get", {detail::manager::value_field(key)});
    return r.size() == 0 ? fallback : r.template get<V>(0);
  }
  // A copy of the value at `key` (Python's d[k]). Errors: std::out_of_range (KeyError).
  V operator[](const K& key) const {
    return call("__getitem__", {detail::manager::value_field(key)}).template get<V>(0);
  }
  // d[k] = v
  void set(const K& key, const V& value) {
    call("__setitem__", {detail::manager::value_field(key), detail::manager::value_field(value)});
  }
  // del d[k]. Errors: std::out_of_range (KeyError).
  void erase(const K& key) { call("__delitem__", {detail::manager::value_field(key)}); }
  [[nodiscard]] bool contains(const K& key) const {
    return call("__contains__", {detail::manager::value_field(key)}).flag();
  }
  [[nodiscard]] std::size_t size() const {
    return static_cast<std::size_t>(call("__len__").template get<std::uint64_t>());
  }
  [[nodiscard]] std::vector<K> keys() const {
    auto r = call("keys");
    return decode<K>(r.elements());
  }
  [[nodiscard]] std::vector<V> values() const {
    auto r = call("values");
    return decode<V>(r.elements());
  }
  [[nodiscard]] std::vector<std::pair<K, V>> items() const {
    auto r = call("items");
    auto e = r.elements();
    std::vector<std::pair<K, V>> out;
    out.reserve(e.size() / 2);
    for (std::size_t i = 0; i + 1 < e.size(); i += 2)
      out.emplace_back(mp::deserialize<K>(e[i]), mp::deserialize<V>(e[i + 1]));
    return out;
  }
  // A copy of the whole dict (Python's d.copy()).
  [[nodiscard]] std::map<K, V> copy() const {
    std::map<K, V> out;
    for (auto& [k, v] : items()) out.emplace(std::move(k), std::move(v));
    return out;
  }
  // Removes and returns the value at `key`. Errors: std::out_of_range (KeyError).
  V pop(const K& key) {
    return call("pop", {detail::manager::value_field(key)}).template get<V>(0);
  }
  V pop(const K& key, const V& fallback) {
    return call("pop", {detail::manager::value_field(key), detail::manager::value_field(fallback)})
        .template get<V>(0);
  }
  // Removes and returns the last inserted pair. Errors: std::out_of_range if empty.
  std::pair<K, V> popitem() {
    auto r = call("popitem");
    return {r.template get<K>(0), r.template get<V>(1)};
  }
  // The value at `key`, after setting it to `value` if there was none.
  V setdefault(const K& key, const V& value) {
    return call("setdefault",
                {detail::manager::value_field(key), detail::manager::value_field(value)})
        .template get<V>(0);
  }
  template <class Range>
  void update(const Range& pairs) {
    std::string packed;
    for (const auto& [k, v] : pairs) {
      detail::wire::pack_into(packed, mp::serialize(k));
      detail::wire::pack_into(packed, mp::serialize(v));
    }
    call("update", {packed});
  }
  void clear() { call("clear"); }
  // Atomically, in the server: d[key] = function(d[key] or V{}, extra...); the new value.
  // `function` is a name given to register_function. Errors: std::out_of_range if no
  // function has that name; mp::RemoteError if it throws.
  template <class... Extra>
  V update_with(const K& key, std::string_view function, const Extra&... extra) {
    return call("update_with", {detail::manager::value_field(key), function,
                                detail::manager::tuple_field(extra...)})
        .template get<V>(0);
  }

 private:
  friend class SyncManager;
  DictProxy(const detail::manager::Endpoint& e, std::uint64_t id) : ProxyBase(e, id, "dict") {}
  template <class T>
  static std::vector<T> decode(const std::vector<std::string_view>& e) {
    std::vector<T> out;
    out.reserve(e.size());
    for (auto b : e) out.push_back(mp::deserialize<T>(b));
    return out;
  }
};

namespace detail::manager {
// What ListProxy and ArrayProxy share: indexed copies in and out.
template <class T>
class SequenceProxy : public ProxyBase {
 public:
  SequenceProxy() = default;

  // A copy of element `i` (negative: from the end). Errors: std::out_of_range (IndexError).
  T get(std::int64_t i) const { return call("__getitem__", {i64_field(i)}).template get<T>(0); }
  T operator[](std::int64_t i) const { return get(i); }
  void set(std::int64_t i, const T& value) {
    call("__setitem__", {i64_field(i), value_field(value)});
  }
  [[nodiscard]] std::size_t size() const {
    return static_cast<std::size_t>(call("__len__").template get<std::uint64_t>());
  }
  [[nodiscard]] bool contains(const T& value) const {
    return call("__contains__", {value_field(value)}).flag();
  }
  // The position of the first element equal to `value`. Errors: std::invalid_argument.
  [[nodiscard]] std::size_t index(const T& value) const {
    return static_cast<std::size_t>(
        call("index", {value_field(value)}).template get<std::uint64_t>());
  }
  [[nodiscard]] std::size_t count(const T& value) const {
    return static_cast<std::size_t>(
        call("count", {value_field(value)}).template get<std::uint64_t>());
  }
  // A copy of every element.
  [[nodiscard]] std::vector<T> to_vector() const {
    auto r = call("all");
    auto e = r.elements();
    std::vector<T> out;
    out.reserve(e.size());
    for (auto b : e) out.push_back(mp::deserialize<T>(b));
    return out;
  }
  // Atomically, in the server: s[i] = function(s[i], extra...); the new value.
  template <class... Extra>
  T update_with(std::int64_t i, std::string_view function, const Extra&... extra) {
    return call("update_with", {i64_field(i), function, tuple_field(extra...)}).template get<T>(0);
  }

 protected:
  SequenceProxy(const Endpoint& e, std::uint64_t id, std::string kind)
      : ProxyBase(e, id, std::move(kind)) {}
  static std::string pack_values(const std::vector<T>& values) {
    std::string packed;
    for (const T& v : values) wire::pack_into(packed, mp::serialize(v));
    return packed;
  }
};
}  // namespace detail::manager

// A managed list (Python's ListProxy). Reads return copies.
template <class T>
class ListProxy : public detail::manager::SequenceProxy<T> {
  using Base = detail::manager::SequenceProxy<T>;

 public:
  ListProxy() = default;

  void append(const T& value) { this->call("append", {detail::manager::value_field(value)}); }
  void extend(const std::vector<T>& values) { this->call("extend", {Base::pack_values(values)}); }
  // Python's insert: the position is clamped to the list.
  void insert(std::int64_t i, const T& value) {
    this->call("insert", {detail::manager::i64_field(i), detail::manager::value_field(value)});
  }
  // Removes and returns the last element, or element `i`. Errors: std::out_of_range.
  T pop() { return this->call("pop").template get<T>(0); }
  T pop(std::int64_t i) {
    return this->call("pop", {detail::manager::i64_field(i)}).template get<T>(0);
  }
  // del l[i]
  void erase(std::int64_t i) { this->call("__delitem__", {detail::manager::i64_field(i)}); }
  // Removes the first element equal to `value`. Errors: std::invalid_argument.
  void remove(const T& value) { this->call("remove", {detail::manager::value_field(value)}); }
  void reverse() { this->call("reverse"); }
  void clear() { this->call("clear"); }

 private:
  friend class SyncManager;
  ListProxy(const detail::manager::Endpoint& e, std::uint64_t id) : Base(e, id, "list") {}
};

// A managed fixed-length array (Python's manager Array).
template <class T>
class ArrayProxy : public detail::manager::SequenceProxy<T> {
  using Base = detail::manager::SequenceProxy<T>;

 public:
  ArrayProxy() = default;

 private:
  friend class SyncManager;
  ArrayProxy(const detail::manager::Endpoint& e, std::uint64_t id) : Base(e, id, "Array") {}
};

// A managed value (Python's ValueProxy: .value is get()/set()).
template <class T>
class ValueProxy : public detail::manager::ProxyBase {
 public:
  ValueProxy() = default;

  T get() const { return call("get").template get<T>(0); }
  void set(const T& value) { call("set", {detail::manager::value_field(value)}); }
  // Atomically, in the server: value = function(value, extra...); the new value.
  template <class... Extra>
  T update_with(std::string_view function, const Extra&... extra) {
    return call("update_with", {function, detail::manager::tuple_field(extra...)})
        .template get<T>(0);
  }

 private:
  friend class SyncManager;
  ValueProxy(const detail::manager::Endpoint& e, std::uint64_t id) : ProxyBase(e, id, "Value") {}
};

// A managed namespace: named fields of any type, each read as a copy and written whole.
class NamespaceProxy : public detail::manager::ProxyBase {
 public:
  NamespaceProxy() = default;

  // A copy of field `name`. Errors: mp::RemoteError ("AttributeError") if there is none.
  template <class T>
  T get(std::string_view name) const {
    return call("__getattr__", {name}).template get<T>(0);
  }
  template <class T>
  void set(std::string_view name, const T& value) {
    call("__setattr__", {name, detail::manager::value_field(value)});
  }
  [[nodiscard]] bool has(std::string_view name) const { return call("hasattr", {name}).flag(); }
  void erase(std::string_view name) { call("__delattr__", {name}); }
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    auto r = call("names");
    for (auto b : r.elements()) out.emplace_back(b);
    return out;
  }
  template <class T, class... Extra>
  T update_with(std::string_view name, std::string_view function, const Extra&... extra) {
    return call("update_with", {name, function, detail::manager::tuple_field(extra...)})
        .template get<T>(0);
  }

 private:
  friend class SyncManager;
  NamespaceProxy(const detail::manager::Endpoint& e, std::uint64_t id)
      : ProxyBase(e, id, "Namespace") {}
};

// A managed queue (Python's Manager().Queue()): unlike mp::Queue it can be a pool task's
// argument. Blocking calls wait in the server, not in a socket read of this thread alone:
// other threads' calls go on meanwhile.
template <class T>
class QueueProxy : public detail::manager::ProxyBase {
 public:
  QueueProxy() = default;

  // Errors: mp::Full if there is no room (block false, or within timeout); ManagerGone.
  void put(const T& item, bool block = true, double timeout = -1) {
    call("put", {detail::manager::value_field(item), detail::manager::flag_field(block),
                 detail::manager::f64_field(timeout)});
  }
  void put_nowait(const T& item) { put(item, false); }
  // Errors: mp::Empty if there is no item (block false, or within timeout); ManagerGone.
  T get(bool block = true, double timeout = -1) {
    return call("get", {detail::manager::flag_field(block), detail::manager::f64_field(timeout)})
        .template get<T>(0);
  }
  T get_nowait() { return get(false); }
  [[nodiscard]] std::size_t qsize() const {
    return static_cast<std::size_t>(call("qsize").template get<std::uint64_t>());
  }
  [[nodiscard]] bool empty() const { return call("empty").flag(); }
  [[nodiscard]] bool full() const { return call("full").flag(); }

 protected:
  friend class SyncManager;
  QueueProxy(const detail::manager::Endpoint& e, std::uint64_t id, std::string kind)
      : ProxyBase(e, id, std::move(kind)) {}
};

template <class T>
class JoinableQueueProxy : public QueueProxy<T> {
 public:
  JoinableQueueProxy() = default;

  // Errors: std::invalid_argument if called more times than items were put.
  void task_done() { this->call("task_done"); }
  // Blocks until every item put has been task_done().
  void join() { (void)join(-1); }
  // The same for at most `timeout` seconds: false if items remain unfinished.
  [[nodiscard]] bool join(double timeout) {
    return this->call("join", {detail::manager::f64_field(timeout)}).flag();
  }

 private:
  friend class SyncManager;
  JoinableQueueProxy(const detail::manager::Endpoint& e, std::uint64_t id)
      : QueueProxy<T>(e, id, "JoinableQueue") {}
};

namespace detail::manager {
// acquire/release/lock/unlock/try_lock, for the lock-like proxies.
class LockLikeProxy : public ProxyBase {
 public:
  LockLikeProxy() = default;

  // Blocks until acquired (or `timeout` seconds: false), or returns false at once if
  // `block` is false. Errors: mp::OwnerDied — with the lock held — if the previous holder's
  // process died holding it (Lock, RLock); ManagerGone.
  bool acquire(bool block = true, double timeout = -1) {
    return call("acquire", {flag_field(block), f64_field(timeout)}).flag();
  }
  // Errors: std::logic_error if not held (RLock: not held by this thread).
  void release() { call("release"); }
  void lock() { (void)acquire(); }
  void unlock() { release(); }
  [[nodiscard]] bool try_lock() { return acquire(false); }

 protected:
  LockLikeProxy(const Endpoint& e, std::uint64_t id, std::string kind)
      : ProxyBase(e, id, std::move(kind)) {}
};
}  // namespace detail::manager

// A managed Lock. Its owner is the calling thread of the calling process; a process that
// dies holding it releases it (the next acquire throws mp::OwnerDied, holding it).
class LockProxy : public detail::manager::LockLikeProxy {
 public:
  LockProxy() = default;
  [[nodiscard]] bool locked() const { return call("locked").flag(); }

 protected:
  friend class SyncManager;
  LockProxy(const detail::manager::Endpoint& e, std::uint64_t id, std::string kind)
      : LockLikeProxy(e, id, std::move(kind)) {}
};

// A managed RLock: the holding thread may acquire it again, and must release as often.
class RLockProxy : public LockProxy {
 public:
  RLockProxy() = default;

 private:
  friend class SyncManager;
  RLockProxy(const detail::manager::Endpoint& e, std::uint64_t id) : LockProxy(e, id, "RLock") {}
};

class SemaphoreProxy : public detail::manager::LockLikeProxy {
 public:
  SemaphoreProxy() = default;
  [[nodiscard]] std::int64_t get_value() const {
    return static_cast<std::int64_t>(call("get_value").template get<std::uint64_t>());
  }

 protected:
  friend class SyncManager;
  SemaphoreProxy(const detail::manager::Endpoint& e, std::uint64_t id, std::string kind)
      : LockLikeProxy(e, id, std::move(kind)) {}
};

// release() beyond the initial value: std::invalid_argument (Python's ValueError).
class BoundedSemaphoreProxy : public SemaphoreProxy {
 public:
  BoundedSemaphoreProxy() = default;

 private:
  friend class SyncManager;
  BoundedSemaphoreProxy(const detail::manager::Endpoint& e, std::uint64_t id)
      : SemaphoreProxy(e, id, "BoundedSemaphore") {}
};

// A managed Condition on a manager Lock or RLock (its own RLock by default).
class ConditionProxy : public detail::manager::LockLikeProxy {
 public:
  ConditionProxy() = default;

  // Releases the lock, waits for a notify (or `timeout` seconds: false), takes the lock
  // back. Errors: std::logic_error if the caller does not hold the lock.
  bool wait(double timeout = -1) {
    return call("wait", {detail::manager::f64_field(timeout)}).flag();
  }
  // Waits until `predicate()` is true (checked with the lock held); its last value.
  template <class Predicate>
  bool wait_for(Predicate predicate, double timeout = -1);
  void notify(std::int64_t n = 1) { call("notify", {detail::manager::i64_field(n)}); }
  void notify_all() { call("notify_all"); }

 private:
  friend class SyncManager;
  ConditionProxy(const detail::manager::Endpoint& e, std::uint64_t id)
      : LockLikeProxy(e, id, "Condition") {}
};

class EventProxy : public detail::manager::ProxyBase {
 public:
  EventProxy() = default;
  void set() { call("set"); }
  void clear() { call("clear"); }
  [[nodiscard]] bool is_set() const { return call("is_set").flag(); }
  // Blocks until set (or `timeout` seconds: false).
  bool wait(double timeout = -1) {
    return call("wait", {detail::manager::f64_field(timeout)}).flag();
  }

 private:
  friend class SyncManager;
  EventProxy(const detail::manager::Endpoint& e, std::uint64_t id) : ProxyBase(e, id, "Event") {}
};

class BarrierProxy : public detail::manager::ProxyBase {
 public:
  BarrierProxy() = default;
  // Blocks until `parties` callers wait; returns this caller's arrival index (0..parties-1).
  // Errors: mp::BrokenBarrierError if the barrier is or becomes broken (abort, reset, a
  // timeout — `timeout`, or the barrier's default when negative — or a waiting party's
  // process dying).
  std::size_t wait(double timeout = -1) {
    return static_cast<std::size_t>(
        call("wait", {detail::manager::f64_field(timeout)}).template get<std::uint64_t>());
  }
  void abort() { call("abort"); }
  void reset() { call("reset"); }
  [[nodiscard]] std::size_t parties() const {
    return static_cast<std::size_t>(call("parties").template get<std::uint64_t>());
  }
  [[nodiscard]] std::size_t n_waiting() const {
    return static_cast<std::size_t>(call("n_waiting").template get<std::uint64_t>());
  }
  [[nodiscard]] bool broken() const { return call("broken").flag(); }

 private:
  friend class SyncManager;
  BarrierProxy(const detail::manager::Endpoint& e, std::uint64_t id)
      : ProxyBase(e, id, "Barrier") {}
};

template <class Predicate>
bool ConditionProxy::wait_for(Predicate predicate, double timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout));
  bool result = predicate();
  while (!result) {
    double left = -1;
    if (timeout >= 0) {
      left = std::chrono::duration<double>(deadline - Clock::now()).count();
      if (left <= 0) break;
    }
    wait(left);
    result = predicate();
  }
  return result;
}

// -----------------------------------------------------------------------------
// SyncManager
// -----------------------------------------------------------------------------

// A BaseManager that makes the standard objects. Python's SyncManager.
class SyncManager : public BaseManager {
 public:
  using BaseManager::BaseManager;

  template <class K, class V>
  DictProxy<K, V> dict() {
    return DictProxy<K, V>(endpoint(), make("dict", {}));
  }
  template <class K, class V>
  DictProxy<K, V> dict(const std::map<K, V>& initial) {
    auto d = dict<K, V>();
    if (!initial.empty()) d.update(initial);
    return d;
  }
  template <class T>
  ListProxy<T> list(const std::vector<T>& initial = {}) {
    std::string packed;
    for (const T& v : initial) detail::wire::pack_into(packed, mp::serialize(v));
    return ListProxy<T>(endpoint(), make("list", {packed}));
  }
  template <class T>
  ValueProxy<T> Value(const T& initial) {
    std::string bytes = mp::serialize(initial);
    return ValueProxy<T>(endpoint(), make("Value", {bytes}));
  }
  template <class T>
  ArrayProxy<T> Array(const std::vector<T>& initial) {
    std::string packed;
    for (const T& v : initial) detail::wire::pack_into(packed, mp::serialize(v));
    return ArrayProxy<T>(endpoint(), make("Array", {packed}));
  }
  // `size` default-constructed (zero) elements.
  template <class T>
  ArrayProxy<T> Array(std::size_t size) {
    return Array<T>(std::vector<T>(size));
  }
  NamespaceProxy Namespace() { return NamespaceProxy(endpoint(), make("Namespace", {})); }
  // maxsize ≤ 0: unbounded.
  template <class T>
  QueueProxy<T> Queue(std::int64_t maxsize = 0) {
    std::string m = detail::manager::i64_field(maxsize);
    return QueueProxy<T>(endpoint(), make("Queue", {m}), "Queue");
  }
  template <class T>
  JoinableQueueProxy<T> JoinableQueue(std::int64_t maxsize = 0) {
    std::string m = detail::manager::i64_field(maxsize);
    return JoinableQueueProxy<T>(endpoint(), make("JoinableQueue", {m}));
  }
  LockProxy Lock() { return LockProxy(endpoint(), make("Lock", {}), "Lock"); }
  RLockProxy RLock() { return RLockProxy(endpoint(), make("RLock", {})); }
  SemaphoreProxy Semaphore(std::int64_t value = 1) {
    std::string v = detail::manager::i64_field(value);
    return SemaphoreProxy(endpoint(), make("Semaphore", {v}), "Semaphore");
  }
  BoundedSemaphoreProxy BoundedSemaphore(std::int64_t value = 1) {
    std::string v = detail::manager::i64_field(value);
    return BoundedSemaphoreProxy(endpoint(), make("BoundedSemaphore", {v}));
  }
  // A Condition on its own RLock, or on `lock` (a manager Lock or RLock).
  ConditionProxy Condition() { return Condition(RLock()); }
  ConditionProxy Condition(const LockProxy& lock) {
    std::string id = mp::serialize(lock.id());
    return ConditionProxy(endpoint(), make("Condition", {id}));
  }
  EventProxy Event() { return EventProxy(endpoint(), make("Event", {})); }
  // `timeout`: the default of wait() (negative: none).
  BarrierProxy Barrier(std::int64_t parties, double timeout = -1) {
    std::string p = detail::manager::i64_field(parties);
    std::string t = detail::manager::f64_field(timeout);
    return BarrierProxy(endpoint(), make("Barrier", {p, t}));
  }
};

// A started SyncManager (Python's multiprocessing.Manager()): an arbitrary abstract Unix
// address, mp::authkey(), the current start method.
SyncManager Manager(ManagerOptions options = {});

}  // namespace mp
