// BaseManager: starting the server process (fork, spawn or thread) and talking to it.
// The server's side of start() is serve_started_manager: it binds the address, reports the
// real address (or why it could not) on a pipe, and serves.
#include "mp/managers.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "manager_server.h"
#include "spawn_internal.h"

namespace mp {
namespace detail::manager {
namespace {

// The registry as code addresses, for a spawned server (and the same under fork).
struct RegistryWire {
  struct Type {
    std::string name;
    CodeAddress make, destroy;
    std::vector<std::pair<std::string, CodeAddress>> methods;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(name, make, destroy, methods);
    }
  };
  struct Function {
    std::string name;
    CodeAddress fn;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(name, fn);
    }
  };
  std::vector<Type> types;
  std::vector<Function> functions;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(types, functions);
  }
};

RegistryWire to_wire(const Registry& r) {
  RegistryWire w;
  for (const TypeSpec& t : r.types) {
    RegistryWire::Type wt{t.name,
                          locate_code(reinterpret_cast<const void*>(t.make)),
                          locate_code(reinterpret_cast<const void*>(t.destroy)),
                          {}};
    for (const MethodSpec& m : t.methods)
      wt.methods.emplace_back(m.name, locate_code(reinterpret_cast<const void*>(m.fn)));
    w.types.push_back(std::move(wt));
  }
  for (const FunctionSpec& f : r.functions)
    w.functions.push_back({f.name, locate_code(reinterpret_cast<const void*>(f.fn))});
  return w;
}

Registry from_wire(const RegistryWire& w) {
  Registry r;
  for (const auto& t : w.types) {
    TypeSpec spec{t.name,
                  reinterpret_cast<MakeFn>(resolve_code(t.make)),
                  reinterpret_cast<DestroyFn>(resolve_code(t.destroy)),
                  {}};
    for (const auto& [name, fn] : t.methods)
      spec.methods.push_back({name, reinterpret_cast<MethodFn>(resolve_code(fn))});
    r.types.push_back(std::move(spec));
  }
  for (const auto& f : w.functions)
    r.functions.push_back({f.name, reinterpret_cast<UpdateFn>(resolve_code(f.fn))});
  return r;
}

struct StartSpec {
  Endpoint endpoint;
  std::optional<std::string> authkey;  // the key itself (the server must know it)
  RegistryWire registry;
  std::uint64_t max_message = 0;
  std::uint32_t spin_us = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(endpoint, authkey, registry, max_message, spin_us);
  }
};

ServerOptions server_options(std::uint64_t max_message, std::uint32_t spin_us) {
  ServerOptions o;
  o.max_message = static_cast<std::size_t>(max_message);
  o.spin = std::chrono::microseconds(spin_us);
  return o;
}

// The server process of BaseManager::start.
void serve_started_manager(std::string spec_bytes, mp::Connection ready) {
  std::optional<Server> server;
  try {
    auto spec = mp::deserialize<StartSpec>(spec_bytes);
    Listener listener(spec.endpoint.address(), 128, spec.authkey);
    Endpoint bound = Endpoint::of(listener.address());
    server.emplace(std::move(listener), spec.authkey, from_wire(spec.registry),
                   server_options(spec.max_message, spec.spin_us));
    ready.send_bytes(std::string("ok") + mp::serialize(bound));
  } catch (const std::exception& e) {
    ready.send_bytes(std::string("no") + e.what());
    return;
  }
  ready.close();
  server->serve_forever();
}

}  // namespace
}  // namespace detail::manager

using detail::manager::Endpoint;

BaseManager::BaseManager(std::optional<Address> address, std::optional<std::string> authkey,
                         ManagerOptions options)
    : address_(std::move(address)), authkey_(std::move(authkey)), options_(std::move(options)) {
  if (address_) endpoint_ = Endpoint::of(*address_);
}

BaseManager::BaseManager(BaseManager&&) noexcept = default;
BaseManager& BaseManager::operator=(BaseManager&& other) noexcept {
  if (this != &other) {
    try {
      shutdown();
    } catch (...) {
    }
    address_ = std::move(other.address_);
    authkey_ = std::move(other.authkey_);
    options_ = std::move(other.options_);
    registry_ = std::move(other.registry_);
    endpoint_ = std::move(other.endpoint_);
    process_ = std::move(other.process_);
    running_ = std::exchange(other.running_, false);
  }
  return *this;
}

BaseManager::~BaseManager() {
  if (!process_) return;
  try {
    shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp: BaseManager: shutting down the server failed: %s\n", e.what());
  }
}

namespace {
void fill_client_options(Endpoint& e, const std::optional<std::string>& authkey,
                         const ManagerOptions& o) {
  e.authkey = authkey;
  e.gone_timeout = o.gone_timeout;
  e.heartbeat = o.heartbeat;
  e.heartbeat_on_unix = o.heartbeat_on_unix;
  e.spin_us = o.spin_us;
  e.lane = o.shared_memory;
}
}  // namespace

void BaseManager::start() {
  if (running_) throw std::logic_error("mp::BaseManager::start: already started or connected");
  detail::manager::StartSpec spec;
  spec.endpoint = Endpoint::of(address_ ? *address_ : Address::arbitrary());
  spec.authkey = authkey_ ? *authkey_ : mp::authkey();
  spec.registry = detail::manager::to_wire(registry_);
  spec.max_message = options_.max_message;
  spec.spin_us = options_.spin_us;
  auto [mine, theirs] = Pipe();
  Context ctx = options_.context ? *options_.context : get_context();
  process_ = std::make_unique<Process>(ctx.Process(ProcessOptions{"SyncManager", true},
                                                   &detail::manager::serve_started_manager,
                                                   mp::serialize(spec), theirs));
  process_->start();
  // A thread-mode server shares this very end: closing it here would close it there.
  if (ctx.method() != StartMethod::kThread) theirs.close();
  std::string answer;
  try {
    answer = mine.recv_bytes();
  } catch (const EOFError&) {
    process_->join(5);
    process_.reset();
    throw ProcessError("mp::BaseManager::start: the server process exited before it listened");
  }
  if (answer.substr(0, 2) != "ok") {
    process_->join(5);
    process_.reset();
    throw ProcessError("mp::BaseManager::start: the server could not start: " + answer.substr(2));
  }
  Endpoint bound = mp::deserialize<Endpoint>(std::string_view(answer).substr(2));
  endpoint_ = bound;
  address_ = bound.address();
  fill_client_options(endpoint_, authkey_, options_);
  running_ = true;
}

void BaseManager::connect() {
  if (running_) throw std::logic_error("mp::BaseManager::connect: already started or connected");
  if (!address_) throw std::logic_error("mp::BaseManager::connect: no address to connect to");
  endpoint_ = Endpoint::of(*address_);
  fill_client_options(endpoint_, authkey_, options_);
  auto link = detail::manager::link_for(endpoint_);
  detail::manager::round_trip(*link, detail::wire::Op::kPing, 0, {}, {});
  running_ = true;
}

void BaseManager::shutdown() {
  if (!running_) return;
  running_ = false;
  try {
    auto link = detail::manager::link_for(endpoint_);
    detail::manager::round_trip(*link, detail::wire::Op::kShutdown, 0, {}, {});
  } catch (const ManagerGone&) {  // gone already
  }
  if (process_) {
    if (!process_->join(5)) {
      if (process_->start_method() != StartMethod::kThread) process_->kill();
      process_->join(5);
    }
    process_.reset();
  }
  detail::manager::forget_link(endpoint_);
}

ManagerServer::ManagerServer(std::unique_ptr<detail::manager::Server> server, Address address)
    : server_(std::move(server)), address_(std::move(address)) {}
ManagerServer::ManagerServer(ManagerServer&&) noexcept = default;
ManagerServer& ManagerServer::operator=(ManagerServer&&) noexcept = default;
ManagerServer::~ManagerServer() = default;

void ManagerServer::serve_forever() {
  if (!server_) throw std::logic_error("mp::ManagerServer: moved from");
  server_->serve_forever();
}

ManagerServer BaseManager::get_server() {
  Address address = address_ ? *address_ : Address::arbitrary();
  std::optional<std::string> key = authkey_ ? *authkey_ : mp::authkey();
  Listener listener(address, 128, key);
  address_ = listener.address();
  return ManagerServer(std::make_unique<detail::manager::Server>(
                           std::move(listener), key, registry_,
                           detail::manager::server_options(options_.max_message, options_.spin_us)),
                       *address_);
}

void BaseManager::serve_forever() { get_server().serve_forever(); }

const Address& BaseManager::address() const {
  if (!address_) throw std::logic_error("mp::BaseManager: no address before start()");
  return *address_;
}

std::string BaseManager::authkey() const { return authkey_ ? *authkey_ : mp::authkey(); }

const Endpoint& BaseManager::endpoint() const {
  if (!running_)
    throw std::logic_error("mp::BaseManager: not running (call start() or connect() first)");
  return endpoint_;
}

std::uint64_t BaseManager::make(std::string_view kind,
                                const std::vector<std::string_view>& fields) const {
  auto link = detail::manager::link_for(endpoint());
  return detail::manager::round_trip(*link, detail::wire::Op::kCreate, 0, kind, fields)
      .get<std::uint64_t>(0);
}

std::size_t BaseManager::number_of_objects() const {
  auto link = detail::manager::link_for(endpoint());
  return static_cast<std::size_t>(
      detail::manager::round_trip(*link, detail::wire::Op::kInfo, 0, {}, {}).get<std::uint64_t>(0));
}

SyncManager Manager(ManagerOptions options) {
  SyncManager m(std::nullopt, std::nullopt, std::move(options));
  m.start();
  return m;
}

}  // namespace mp
