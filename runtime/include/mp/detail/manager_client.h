// mp/detail/manager_client.h — the client half of a manager: where a manager is (Endpoint),
// the one connection each process keeps to it (Link, in manager_client.cpp), and ProxyBase,
// what every proxy is: a managed object's id, and this process's reference to it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mp/detail/manager_wire.h"
#include "mp/listener.h"
#include "mp/serialize.h"

namespace mp::detail::manager {

// Where a manager listens and how its clients behave; travels inside every proxy.
struct Endpoint {
  std::uint8_t family = 0;  // Address::Family
  std::string name;
  std::uint16_t port = 0;
  // The key to authenticate with; nullopt: the process's mp::authkey().
  std::optional<std::string> authkey;
  bool authenticate = true;
  double gone_timeout = 0.5;
  double heartbeat = 0.1;
  bool heartbeat_on_unix = false;
  std::uint32_t spin_us = 50;
  // Whether a client on the server's host talks through shared memory (byte_lane.h).
  bool lane = true;

  [[nodiscard]] Address address() const;
  static Endpoint of(const Address& address);

  template <class Archive>
  void serialize(Archive& ar) {
    ar(family, name, port, authkey, authenticate, gone_timeout, heartbeat, heartbeat_on_unix,
       spin_us, lane);
  }
};

// A reply: the bytes it came in, and its fields (views into them).
class Result {
 public:
  Result() = default;
  Result(std::string frame, std::vector<std::string_view> fields)
      : frame_(std::move(frame)), fields_(std::move(fields)) {}
  Result(Result&& other) noexcept;
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  [[nodiscard]] std::size_t size() const { return fields_.size(); }
  [[nodiscard]] std::string_view field(std::size_t i) const;
  template <class T>
  [[nodiscard]] T get(std::size_t i = 0) const {
    return mp::deserialize<T>(field(i));
  }
  [[nodiscard]] bool flag(std::size_t i = 0) const { return field(i) == std::string_view("\1", 1); }
  // The elements of a packed field (mp/detail/manager_wire.h): views into this Result,
  // so not of a temporary one.
  [[nodiscard]] std::vector<std::string_view> elements(std::size_t i = 0) const&;
  std::vector<std::string_view> elements(std::size_t i = 0) const&& = delete;

 private:
  std::string frame_;
  std::vector<std::string_view> fields_;
};

class Link;

// The connection of this process to the manager at `endpoint`, made on first use and made
// again in a forked child (which never shares its parent's socket). Errors: ManagerGone.
std::shared_ptr<Link> link_for(const Endpoint& endpoint);
// The server at `endpoint` has been shut down: this process stops keeping a link to it, so
// its socket closes once no proxy of this process holds the link any more.
void forget_link(const Endpoint& endpoint) noexcept;
// One round trip. Errors: the server's error as an exception (see managers.h), ManagerGone.
Result round_trip(Link& link, wire::Op op, std::uint64_t object, std::string_view name,
                  const std::vector<std::string_view>& fields);
// A request whose reply is not waited for (reference counts). Never throws.
void post(Link& link, wire::Op op, std::uint64_t object) noexcept;
// The pid of this process, kept across fork without a system call per use.
pid_t current_pid() noexcept;
// Counts the forks of this process: a reference alive at a fork is never given back here,
// because the child may still use it.
std::uint64_t fork_generation() noexcept;

// This process's reference to a managed object, shared by the copies of one proxy.
class ProxyRef {
 public:
  // `held`: the reference was made by this process's connection (create) and is counted
  // on the server already.
  ProxyRef(Endpoint endpoint, std::uint64_t id, std::string kind, bool held);
  ~ProxyRef();
  ProxyRef(const ProxyRef&) = delete;
  ProxyRef& operator=(const ProxyRef&) = delete;

  // This process's link, after telling the server this process holds the object if it did
  // not yet (a proxy inherited across fork, or received as bytes).
  std::shared_ptr<Link> link();
  void mark_shared() noexcept { shared_.store(true, std::memory_order_relaxed); }

  const Endpoint endpoint;
  const std::uint64_t id;
  const std::string kind;

 private:
  std::mutex mutex_;
  std::shared_ptr<Link> link_;
  pid_t holder_ = 0;  // the process whose connection counts this reference
  std::uint64_t born_ = 0;
  std::atomic<bool> shared_{false};
};

// What every proxy is. A value: copies refer to the same managed object, which lives while
// any proxy to it does. Serializable (mp/serialize.h): a proxy given to another process —
// as a Process argument, in a Pool task, inside another managed object — refers to the same
// object there. An empty ProxyBase (default-constructed) refers to nothing.
class ProxyBase {
 public:
  ProxyBase() = default;

  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  // The object's id on its manager, and its kind ("dict", "Queue", a registered type name).
  [[nodiscard]] std::uint64_t id() const;
  [[nodiscard]] const std::string& kind() const;

  template <class Archive>
  void save(Archive& ar) const {
    bool present = static_cast<bool>(ref_);
    ar(present);
    if (!present) return;
    ref_->mark_shared();
    ar(ref_->endpoint, ref_->id, ref_->kind);
  }
  template <class Archive>
  void load(Archive& ar) {
    bool present = false;
    ar(present);
    if (!present) {
      ref_.reset();
      return;
    }
    Endpoint endpoint;
    std::uint64_t id = 0;
    std::string kind;
    ar(endpoint, id, kind);
    ref_ = std::make_shared<ProxyRef>(std::move(endpoint), id, std::move(kind), false);
  }

 protected:
  ProxyBase(const Endpoint& endpoint, std::uint64_t id, std::string kind)
      : ref_(std::make_shared<ProxyRef>(endpoint, id, std::move(kind), true)) {}

  // Calls `method` of the object with `fields`; blocks until the reply.
  Result call(std::string_view method, const std::vector<std::string_view>& fields = {}) const;
  const Endpoint& endpoint() const;

 private:
  std::shared_ptr<ProxyRef> ref_;
};

// Scalars and flags as fields.
inline std::string flag_field(bool b) { return std::string(1, b ? '\1' : '\0'); }
inline std::string i64_field(std::int64_t v) { return mp::serialize(v); }
inline std::string f64_field(double v) { return mp::serialize(v); }

}  // namespace mp::detail::manager
