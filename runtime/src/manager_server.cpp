// The manager's server: one thread, an epoll loop over the listening socket and every client
// connection; the authkey challenge run without blocking; frames parsed from each
// connection's bytes and bounded before anything is allocated for them; objects and their
// reference counts per connection; timers for waiting calls and for challenges.
#include "manager_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "byte_lane.h"
#include "challenge.h"
#include "mp/detail/futex.h"
#include "mp/errors.h"
#include "recv_buffer.h"
#include "spawn_internal.h"

namespace mp::detail::manager {

namespace {
// A sched_yield that returns later than this ran another task: the core is wanted.
constexpr std::chrono::microseconds kBusyCore{20};
// How long the spin stays off once a yield found the core wanted.
constexpr std::chrono::milliseconds kSpinOff{50};
// Why a lane client is dropped when a counter it can write is impossible.
constexpr const char* kLaneOverwritten =
    "the client's lane counters are impossible (its shared memory was overwritten)";
}  // namespace

// -----------------------------------------------------------------------------
// Args, Call
// -----------------------------------------------------------------------------

std::string_view Args::bytes(std::size_t i) const {
  if (i >= fields_.size())
    raise("TypeError", "missing argument " + std::to_string(i + 1) + " (got " +
                           std::to_string(fields_.size()) + ")");
  return fields_[i];
}

std::uint64_t Args::u64(std::size_t i) const {
  std::string_view b = bytes(i);
  if (b.size() != sizeof(std::uint64_t))
    raise("TypeError", "argument " + std::to_string(i + 1) + " must be 8 bytes, not " +
                           std::to_string(b.size()));
  std::uint64_t v;
  std::memcpy(&v, b.data(), sizeof v);
  return v;
}

std::int64_t Args::i64(std::size_t i) const { return static_cast<std::int64_t>(u64(i)); }

double Args::f64(std::size_t i) const {
  std::uint64_t bits = u64(i);
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

bool Args::flag(std::size_t i) const {
  std::string_view b = bytes(i);
  if (b.size() != 1) raise("TypeError", "argument " + std::to_string(i + 1) + " must be a bool");
  return b[0] != 0;
}

void Args::expect(std::size_t n, std::string_view method) const {
  if (fields_.size() != n)
    raise("TypeError", std::string(method) + "() takes " + std::to_string(n) + " arguments (" +
                           std::to_string(fields_.size()) + " given)");
}

void Call::reply(const std::vector<std::string_view>& fields) {
  answered = true;
  server.send_reply(conn, request.request_id, wire::Status::kOk, fields);
}

void Call::reply_bool(bool v) {
  char b = v ? 1 : 0;
  reply({std::string_view(&b, 1)});
}

Waiter Call::wait(double timeout) {
  answered = true;
  Waiter w{conn, request.request_id, request.caller, 0};
  if (!unlimited(timeout)) w.token = server.add_timer(object, w, timeout);
  return w;
}

// -----------------------------------------------------------------------------
// Registered types
// -----------------------------------------------------------------------------

namespace {

// An object of a type given to BaseManager::register_type: only its registered methods.
class CustomObject final : public Object {
 public:
  CustomObject(const TypeSpec& type, void* object) : type_(type), object_(object) {}
  ~CustomObject() override { type_.destroy(object_); }

  void call(std::string_view method, Call& call) override {
    for (const MethodSpec& m : type_.methods) {
      if (m.name == method) {
        std::string result = m.fn(object_, call.args.size() > 0 ? call.args.bytes(0) : "");
        call.reply({result});
        return;
      }
    }
    raise("AttributeError", "method '" + std::string(method) + "' of '" + type_.name +
                                "' is not exposed (register it with the type)");
  }

 private:
  const TypeSpec& type_;
  void* object_;
};

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno("fcntl");
}

}  // namespace

// -----------------------------------------------------------------------------
// Server
// -----------------------------------------------------------------------------

struct Server::Conn {
  enum class Stage { kAwaitAnswer, kAwaitChallenge, kAwaitVerdict, kReady };
  ConnId id = 0;
  int fd = -1;
  Stage stage = Stage::kReady;
  std::string challenge;  // what we challenged the peer with, after "#CHALLENGE#"
  RecvBuffer in;
  std::size_t in_begin = 0;
  std::string out;
  std::size_t out_begin = 0;
  bool want_out = false;
  bool closing = false;
  std::uint64_t handshake_timer = 0;
  bool local = false;               // a Unix socket: its peer may offer a lane
  int passed_fd = -1;               // the last descriptor the peer sent, for Op::kLane
  std::unique_ptr<Lane> next_lane;  // accepted: in use once the reply saying so is out
  std::unique_ptr<Lane> lane;       // in use: the socket carries only doorbells now
  LaneReader requests;
  LaneWriter replies;
};

Server::Server(Listener listener, std::optional<std::string> authkey, Registry registry,
               ServerOptions options)
    : listener_(std::move(listener)),
      authkey_(std::move(authkey)),
      registry_(std::move(registry)),
      options_(options) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) throw_errno("epoll_create1");
  set_nonblocking(listener_.fileno());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_.fileno(), &ev) != 0) throw_errno("epoll_ctl");
}

Server::~Server() {
  for (auto& [id, c] : conns_) ::close(c->fd);
  conns_.clear();
  objects_.clear();
  if (epoll_ >= 0) ::close(epoll_);
}

void Server::serve_forever() {
  epoll_event events[64];
  auto last_activity = Clock::now();  // a socket's
  auto last_lane_activity = last_activity;
  auto spin_off_until = last_activity;  // no socket spinning before then (busy cores)
  bool spinning = false;                // on the sockets: epoll_wait without sleeping
  for (unsigned round = 0; !stopping_; ++round) {
    // Lanes are served without a system call. While one was active lately, the server spins
    // on them and looks at the sockets every 16th round only.
    const bool moved = serve_lanes();
    const auto served = Clock::now();
    if (moved) last_lane_activity = served;
    const bool lane_spin = !lanes_.empty() && served - last_lane_activity <= options_.spin;
    if (lane_spin && (round & 15) != 0) {
      cpu_relax();
      continue;
    }
    const int timeout = spinning || lane_spin ? 0 : poll_timeout_ms();
    // Before sleeping, every lane reader parks (its client rings); if one has bytes by then,
    // serve it instead.
    const bool parked = timeout != 0 && park_lanes();
    if (timeout != 0 && !parked) continue;
    int n = ::epoll_wait(epoll_, events, 64, timeout);
    if (parked) unpark_lanes();
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("epoll_wait");
    }
    auto now = Clock::now();
    if (n > 0) {
      last_activity = now;
      spinning = now >= spin_off_until;
    } else if (spinning && now - last_activity > options_.spin) {
      spinning = false;
    } else if (lane_spin && (round & 63) == 0) {
      ::sched_yield();  // a lane client that shares this core reads its reply now
    } else if (spinning && !lane_spin) {
      // Yield, as the client's socket spin does (manager_client.cpp): a client waiting for
      // this core would wait a whole time slice; a yield that ran another task turns
      // spinning off for a while.
      ::sched_yield();
      if (Clock::now() - now > kBusyCore) {
        spinning = false;
        spin_off_until = Clock::now() + kSpinOff;
      }
    }
    for (int i = 0; i < n; ++i) {
      ConnId id = events[i].data.u64;
      if (id == 0) {
        accept_new();
        continue;
      }
      auto it = conns_.find(id);
      if (it == conns_.end() || it->second->closing) continue;
      Conn& c = *it->second;
      if (events[i].events & EPOLLOUT) flush(c);
      if (!c.closing && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
      if (!c.closing) flush(c);
    }
    if (!deadlines_.empty()) run_timers();
    flush_dirty();
    // Connections marked closing are gone once nothing of this round refers to them.
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (!it->second->closing) {
        ++it;
        continue;
      }
      ConnId id = it->first;
      ::close(it->second->fd);
      if (it->second->passed_fd >= 0) ::close(it->second->passed_fd);
      std::erase(lanes_, it->second.get());
      if (it->second->handshake_timer != 0) {
        auto t = timers_.find(it->second->handshake_timer);
        if (t != timers_.end()) {
          deadlines_.erase({t->second.at, t->first});
          timers_.erase(t);
        }
      }
      it = conns_.erase(it);
      // Give back what the connection held: locks, waiters, references.
      std::vector<ObjectId> ids;
      ids.reserve(objects_.size());
      for (auto& [oid, e] : objects_) ids.push_back(oid);
      for (ObjectId oid : ids) {
        auto e = objects_.find(oid);
        if (e != objects_.end()) e->second.object->disconnected(id);
      }
      for (ObjectId oid : ids) {
        auto e = objects_.find(oid);
        if (e == objects_.end()) continue;
        auto h = e->second.holders.find(id);
        if (h == e->second.holders.end()) continue;
        e->second.refs -= h->second;
        e->second.holders.erase(h);
        if (e->second.refs <= 0) garbage_.push_back(oid);
      }
      for (std::size_t i = 0; i < garbage_.size(); ++i) collect(garbage_[i]);
      garbage_.clear();
      flush_dirty();
    }
  }
  // Replies already queued (the shutdown's own) go out before the sockets close.
  for (auto& [id, c] : conns_) {
    if (c->out.size() > c->out_begin) {
      int flags = ::fcntl(c->fd, F_GETFL);
      ::fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
      flush(*c);
    }
  }
}

int Server::poll_timeout_ms() const {
  if (deadlines_.empty()) return -1;
  auto left = deadlines_.begin()->first - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

void Server::accept_new() {
  for (;;) {
    int fd = ::accept4(listener_.fileno(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        std::fprintf(stderr, "mp manager %d: accept4: %s\n", ::getpid(), std::strerror(errno));
      return;
    }
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
        local.ss_family != AF_UNIX) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    }
    auto conn = std::make_unique<Conn>();
    conn->id = next_conn_++;
    conn->fd = fd;
    conn->local = local.ss_family == AF_UNIX;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = conn->id;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    Conn& c = *conn;
    conns_.emplace(c.id, std::move(conn));
    if (authkey_) {
      c.stage = Conn::Stage::kAwaitAnswer;
      c.challenge = std::string(kDigestTag) + random_bytes(kChallengeBytes);
      std::string frame = std::string(kChallenge) + c.challenge;
      wire::FrameWriter w(c.out);
      w.bytes(frame);
      w.finish();
      Timer t;
      t.at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(options_.handshake_timeout));
      t.handshake = c.id;
      c.handshake_timer = next_timer_++;
      deadlines_.insert({t.at, c.handshake_timer});
      timers_.emplace(c.handshake_timer, t);
      flush(c);
    }
  }
}

std::size_t Server::frame_limit(const Conn& c) const {
  return c.stage == Conn::Stage::kReady ? options_.max_message : kMaxHandshakeMessage;
}

std::size_t Server::read_size(Conn& c) {
  // What the next frame needs, in chunks of at least 64 KiB.
  std::size_t want = 1 << 16;
  const std::size_t have = c.in.size() - c.in_begin;
  wire::FrameScan next = wire::scan_frame({c.in.data() + c.in_begin, have}, frame_limit(c));
  if (next.state == wire::FrameScan::State::kTooLarge) {
    drop_too_large(c, next.length);
    return 0;
  }
  if (next.size > have)
    want = std::max(want, std::min<std::size_t>(next.size - have, std::size_t{1} << 24));
  return want;
}

void Server::on_readable(Conn& c) {
  if (c.lane) {
    int error = 0;
    const bool open = manager::drain_doorbells(c.fd, error);
    // What the client wrote before its end is served first, as its socket's bytes would be.
    serve_lane(c);
    if (!open)
      drop(c.id,
           error == 0 || error == ECONNRESET ? "" : std::string("recv: ") + std::strerror(error));
    return;
  }
  for (;;) {
    const std::size_t want = read_size(c);
    if (want == 0) return;
    ssize_t n = c.local ? receive_with_fd(c, c.in.prepare(want), want)
                        : ::recv(c.fd, c.in.prepare(want), want, MSG_DONTWAIT);
    if (n > 0) c.in.commit(static_cast<std::size_t>(n));
    if (n == 0) {
      if (c.in.size() > c.in_begin)
        drop(c.id, "the connection closed in the middle of a message");
      else
        drop(c.id, "");
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      drop(c.id, errno == ECONNRESET ? "" : std::string("recv: ") + std::strerror(errno));
      return;
    }
    consume_frames(c);
    if (c.closing || c.lane) return;
    if (static_cast<std::size_t>(n) < want) return;  // drained for now
  }
}

ssize_t Server::receive_with_fd(Conn& c, char* room, std::size_t want) {
  iovec iov{room, want};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(c.fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  for (cmsghdr* h = CMSG_FIRSTHDR(&m); h != nullptr; h = CMSG_NXTHDR(&m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      // Only the last one is kept, so a peer cannot make the server hold descriptors. It may
      // come with the very bytes that end the challenge, so it is kept whatever the stage:
      // Op::kLane, which alone uses it, is served once the peer is authenticated.
      if (i + 1 == count) {
        if (c.passed_fd >= 0) ::close(c.passed_fd);
        c.passed_fd = fd;
      } else {
        ::close(fd);
      }
    }
  }
  return n;
}

void Server::consume_frames(Conn& c) {
  while (!c.closing) {
    wire::FrameScan frame =
        wire::scan_frame({c.in.data() + c.in_begin, c.in.size() - c.in_begin}, frame_limit(c));
    if (frame.state == wire::FrameScan::State::kTooLarge) {
      drop_too_large(c, frame.length);
      return;
    }
    if (frame.state == wire::FrameScan::State::kNeedMore) break;
    c.in_begin += frame.size;
    on_frame(c, frame.payload);
  }
  if (c.closing) return;
  if (c.in_begin == c.in.size()) {
    c.in.clear();
    c.in_begin = 0;
  } else if (c.in_begin > (1 << 20)) {
    c.in.erase_front(c.in_begin);
    c.in_begin = 0;
  }
}

void Server::drop_too_large(Conn& c, std::uint64_t length) {
  drop(c.id, "a message of " + std::to_string(length) + " bytes (at most " +
                 std::to_string(frame_limit(c)) +
                 (c.stage == Conn::Stage::kReady ? ")" : " before authentication)"));
}

// ---- lanes ----

bool Server::serve_lane(Conn& c) {
  bool moved = false;
  for (;;) {
    const std::size_t want = read_size(c);
    if (want == 0) return moved;
    const std::int64_t n = c.requests.read_some(c.in.prepare(want), want);
    if (n < 0) {
      drop(c.id, kLaneOverwritten);
      return moved;
    }
    if (n == 0) break;
    moved = true;
    c.in.commit(static_cast<std::size_t>(n));
    consume_frames(c);
    if (c.closing) return moved;
  }
  if (c.out.size() > c.out_begin) {
    const std::size_t before = c.out_begin;
    flush(c);
    moved = moved || c.out_begin != before;
  }
  return moved;
}

bool Server::serve_lanes() {
  bool moved = false;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    Conn& c = *lanes_[i];
    if (!c.closing && serve_lane(c)) moved = true;
  }
  if (moved) {
    if (!deadlines_.empty()) run_timers();
    flush_dirty();
  }
  return moved;
}

bool Server::park_lanes() {
  for (Conn* c : lanes_) {
    if (c->closing) continue;
    c->requests.park();
    if (c->out.size() > c->out_begin) c->replies.park();
  }
  for (Conn* c : lanes_) {
    if (c->closing) continue;
    const bool reply_can_go = c->out.size() > c->out_begin && c->replies.has_room();
    if (c->requests.available() != 0 || reply_can_go) {
      unpark_lanes();
      return false;
    }
  }
  return true;
}

void Server::unpark_lanes() {
  for (Conn* c : lanes_) {
    c->requests.unpark();
    c->replies.unpark();
  }
}

void Server::accept_lane(Conn& c, const wire::Request& r) {
  auto refuse = [&](const std::string& why) {
    send_reply(c.id, r.request_id, wire::Status::kError, {"ValueError", "no lane: " + why});
  };
  const int fd = std::exchange(c.passed_fd, -1);
  if (!c.local || c.lane || c.next_lane) {
    if (fd >= 0) ::close(fd);
    refuse(c.local ? "this connection has one already" : "lanes are for Unix sockets");
    return;
  }
  if (fd < 0) {
    refuse("no descriptor came with the request");
    return;
  }
  std::uint64_t capacity = 0;
  if (r.fields.size() != 1 || r.fields[0].size() != sizeof capacity) {
    ::close(fd);
    refuse("the request has no ring capacity");
    return;
  }
  std::memcpy(&capacity, r.fields[0].data(), sizeof capacity);
  std::string why;
  c.next_lane = Lane::adopt(fd, capacity, why);
  if (!c.next_lane) {
    refuse(why);
    return;
  }
  send_reply(c.id, r.request_id, wire::Status::kOk, {});
}

void Server::on_frame(Conn& c, std::string_view payload) {
  if (c.stage == Conn::Stage::kReady) {
    on_request(c, payload);
  } else {
    on_handshake(c, payload);
  }
}

void Server::on_handshake(Conn& c, std::string_view payload) {
  auto send_frame = [&](std::string_view bytes) {
    wire::FrameWriter w(c.out);
    w.bytes(bytes);
    w.finish();
  };
  switch (c.stage) {
    case Conn::Stage::kAwaitAnswer: {
      std::string expected = std::string(kDigestTag) + hmac_sha256(*authkey_, c.challenge);
      if (!digests_equal(payload, expected)) {
        send_frame(kFailure);
        flush(c);
        drop(c.id, "authentication failed: the digest received was wrong");
        return;
      }
      send_frame(kWelcome);
      c.stage = Conn::Stage::kAwaitChallenge;
      return;
    }
    case Conn::Stage::kAwaitChallenge: {
      if (payload.substr(0, kChallenge.size()) != kChallenge ||
          payload.substr(kChallenge.size(), kDigestTag.size()) != kDigestTag) {
        drop(c.id, "authentication failed: the peer sent no sha256 challenge");
        return;
      }
      std::string_view body = payload.substr(kChallenge.size());
      send_frame(std::string(kDigestTag) + hmac_sha256(*authkey_, body));
      c.stage = Conn::Stage::kAwaitVerdict;
      return;
    }
    case Conn::Stage::kAwaitVerdict:
      if (payload != kWelcome) {
        drop(c.id, "authentication failed: the peer refused our digest");
        return;
      }
      c.stage = Conn::Stage::kReady;
      if (auto t = timers_.find(c.handshake_timer); t != timers_.end()) {
        deadlines_.erase({t->second.at, t->first});
        timers_.erase(t);
      }
      c.handshake_timer = 0;
      return;
    case Conn::Stage::kReady:
      return;
  }
}

void Server::on_request(Conn& c, std::string_view payload) {
  wire::Request r;
  std::string why = wire::decode_request(payload, r);
  if (!why.empty()) {
    drop(c.id, "malformed request: " + why);
    return;
  }
  auto error = [&](std::string_view type, std::string_view message) {
    send_reply(c.id, r.request_id, wire::Status::kError, {type, message});
  };
  switch (r.op) {
    case wire::Op::kPing:
      send_reply(c.id, r.request_id, wire::Status::kOk, {});
      return;
    case wire::Op::kInfo: {
      std::uint64_t count = objects_.size();
      send_reply(c.id, r.request_id, wire::Status::kOk, {wire::scalar_bytes(count)});
      return;
    }
    case wire::Op::kLane:
      accept_lane(c, r);
      return;
    case wire::Op::kShutdown:
      send_reply(c.id, r.request_id, wire::Status::kOk, {});
      stopping_ = true;
      return;
    case wire::Op::kIncref:
      incref(c.id, r.object);
      if (objects_.count(r.object) == 0)
        error("ReferenceError", "no managed object " + std::to_string(r.object));
      else
        send_reply(c.id, r.request_id, wire::Status::kOk, {});
      return;
    case wire::Op::kDecref:
      decref(c.id, r.object);
      send_reply(c.id, r.request_id, wire::Status::kOk, {});
      for (std::size_t i = 0; i < garbage_.size(); ++i) collect(garbage_[i]);
      garbage_.clear();
      return;
    case wire::Op::kCreate:
      try {
        create(c, r);
      } catch (const CallError& e) {
        error(e.type, e.message);
      } catch (const std::exception& e) {
        error(current_exception_type_name(), e.what());
      }
      return;
    case wire::Op::kCall: {
      auto it = objects_.find(r.object);
      if (it == objects_.end()) {
        error("ReferenceError", "no managed object " + std::to_string(r.object) +
                                    " (it died with its last proxy, or the id is wrong)");
        return;
      }
      Call call(*this, c.id, r, r.object);
      // Exactly one reply per call: the error is the answer.
      try {
        it->second.object->call(r.name, call);
      } catch (const CallError& e) {
        if (!call.answered) error(e.type, e.message);
        call.answered = true;
      } catch (const std::exception& e) {
        if (!call.answered) error(current_exception_type_name(), e.what());
        call.answered = true;
      }
      if (!call.answered) send_reply(c.id, r.request_id, wire::Status::kOk, {});
      return;
    }
  }
}

void Server::create(Conn& c, const wire::Request& r) {
  Args args(r.fields);
  std::unique_ptr<Object> object;
  for (const auto* kinds : {&container_kinds(), &sync_kinds()}) {
    for (const Kind& k : *kinds) {
      if (k.name == r.name) {
        object = k.make(*this, args);
        break;
      }
    }
    if (object) break;
  }
  if (!object) {
    for (const TypeSpec& t : registry_.types) {
      if (t.name != r.name) continue;
      std::string_view initial;
      void* p = t.make(args.size() > 0 ? &(initial = args.bytes(0)) : nullptr);
      object = std::make_unique<CustomObject>(t, p);
      break;
    }
  }
  if (!object)
    raise("TypeError", "the manager has no type '" + std::string(r.name) +
                           "' (register it with register_type before start)");
  ObjectId id = next_object_++;
  Entry& e = objects_[id];
  e.object = std::move(object);
  e.refs = 1;
  e.holders[c.id] = 1;
  send_reply(c.id, r.request_id, wire::Status::kOk, {wire::scalar_bytes(id)});
}

void Server::incref(ConnId conn, ObjectId id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  it->second.refs += 1;
  it->second.holders[conn] += 1;
}

void Server::decref(ConnId conn, ObjectId id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  auto h = it->second.holders.find(conn);
  if (h == it->second.holders.end()) return;  // not this connection's to give back
  if (--h->second == 0) it->second.holders.erase(h);
  if (--it->second.refs <= 0) garbage_.push_back(id);
}

void Server::hold(ObjectId id) { incref(0, id); }

void Server::release(ObjectId id) { decref(0, id); }

void Server::collect(ObjectId id) {
  auto it = objects_.find(id);
  if (it == objects_.end() || it->second.refs > 0) return;
  std::unique_ptr<Object> dead = std::move(it->second.object);
  objects_.erase(it);
  dead.reset();  // may release objects it held (a Condition its lock): more garbage
}

Object* Server::find(ObjectId id) {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second.object.get();
}

std::string Server::apply_function(std::string_view name, const std::string_view* current,
                                   std::string_view args) {
  for (const FunctionSpec& f : registry_.functions)
    if (f.name == name) return f.fn(current, args);
  raise("KeyError", "no function '" + std::string(name) +
                        "' is registered with the manager (register_function before start)");
}

void Server::drop(ConnId conn, const std::string& reason) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second->closing) return;
  it->second->closing = true;
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, it->second->fd, nullptr);
  if (!reason.empty()) {
    std::fprintf(stderr, "mp manager %d: dropped connection %llu: %s\n", ::getpid(),
                 static_cast<unsigned long long>(conn), reason.c_str());
  }
}

void Server::send_reply(ConnId conn, std::uint64_t request_id, wire::Status status,
                        const std::vector<std::string_view>& fields) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second->closing) return;
  Conn& c = *it->second;
  wire::encode_reply(c.out, status, request_id, fields);
  if (c.out.size() - c.out_begin > 4 * options_.max_message + (1 << 20)) {
    drop(conn, "the client does not read its replies");
    return;
  }
  dirty_.insert(conn);
}

void Server::flush(Conn& c) {
  if (c.lane) {
    while (c.out_begin < c.out.size()) {
      const std::int64_t n =
          c.replies.write_some(c.out.data() + c.out_begin, c.out.size() - c.out_begin);
      if (n < 0) {
        drop(c.id, kLaneOverwritten);
        return;
      }
      if (n == 0) break;  // full: served again once the client rings, or while spinning
      c.out_begin += static_cast<std::size_t>(n);
    }
    if (c.replies.take_reader_parked()) ring_doorbell(c.fd);
    if (c.out_begin == c.out.size()) {
      c.out.clear();
      c.out_begin = 0;
    }
    return;
  }
  while (c.out_begin < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_begin, c.out.size() - c.out_begin,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_begin += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.want_out) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u64 = c.id;
        ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
        c.want_out = true;
      }
      return;
    }
    drop(c.id,
         errno == EPIPE || errno == ECONNRESET ? "" : std::string("send: ") + std::strerror(errno));
    return;
  }
  c.out.clear();
  c.out_begin = 0;
  if (c.want_out) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = false;
  }
  if (c.next_lane) {
    // The yes to Op::kLane is out: from here on, frames go through the lane.
    c.lane = std::move(c.next_lane);
    c.requests = c.lane->requests_reader();
    c.replies = c.lane->replies_writer();
    lanes_.push_back(&c);
    serve_lane(c);  // bytes the client sent as soon as it read the yes
  }
}

void Server::flush_dirty() {
  while (!dirty_.empty()) {
    ConnId id = *dirty_.begin();
    dirty_.erase(dirty_.begin());
    auto it = conns_.find(id);
    if (it != conns_.end() && !it->second->closing) flush(*it->second);
  }
}

void Server::complete(const Waiter& w, const std::vector<std::string_view>& fields) {
  cancel_timer(w);
  send_reply(w.conn, w.request_id, wire::Status::kOk, fields);
}

void Server::complete_bool(const Waiter& w, bool v) {
  char b = v ? 1 : 0;
  complete(w, {std::string_view(&b, 1)});
}

void Server::fail(const Waiter& w, std::string_view type, std::string_view message) {
  cancel_timer(w);
  send_reply(w.conn, w.request_id, wire::Status::kError, {type, message});
}

void Server::cancel_timer(const Waiter& w) {
  if (w.token == 0) return;
  auto t = timers_.find(w.token);
  if (t == timers_.end()) return;
  deadlines_.erase({t->second.at, t->first});
  timers_.erase(t);
}

std::uint64_t Server::add_timer(ObjectId object, const Waiter& w, double timeout) {
  Timer t;
  t.at = steady_deadline(timeout);
  t.object = object;
  t.waiter = w;
  std::uint64_t token = next_timer_++;
  t.waiter.token = token;
  deadlines_.insert({t.at, token});
  timers_.emplace(token, t);
  return token;
}

void Server::run_timers() {
  auto now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    std::uint64_t token = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto t = timers_.find(token);
    if (t == timers_.end()) continue;
    Timer timer = t->second;
    timers_.erase(t);
    if (timer.handshake != 0) {
      auto c = conns_.find(timer.handshake);
      if (c != conns_.end()) c->second->handshake_timer = 0;
      drop(timer.handshake, "authentication failed: the challenge was not completed in time");
      continue;
    }
    if (Object* o = find(timer.object)) o->expire(timer.waiter);
  }
}

}  // namespace mp::detail::manager
