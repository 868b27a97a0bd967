// The client half of a manager: one connection per process and manager, shared by every
// thread of the process. Calls are multiplexed by request id: each caller sends its request
// and waits for its reply; whichever waiting thread finds no one reading becomes the reader
// and hands the others their replies, so a single-threaded caller reads its own reply with
// no hand-off. The reader polls the socket for a short while before sleeping (a wake-up
// costs more than the round trip here). EOF, or on TCP a silent peer past gone_timeout
// (heartbeat pings keep a live one talking), fails every waiting call with ManagerGone.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "byte_lane.h"
#include "mp/detail/futex.h"
#include "mp/detail/manager_client.h"
#include "mp/errors.h"
#include "mp/hook.h"
#include "mp/process.h"
#include "recv_buffer.h"
#include "spawn_internal.h"

namespace mp::detail::manager {

namespace {
// A sched_yield that returns later than this ran another task: the core is wanted.
constexpr std::chrono::microseconds kBusyCore{20};
// How long the spin stays off once a yield found the core wanted.
constexpr std::chrono::milliseconds kSpinOff{50};
// Each ring of a lane (byte_lane.h): a frame larger than this streams through it.
constexpr std::uint64_t kLaneCapacity = std::uint64_t{1} << 18;
// While spinning on a lane, its ring is read after 1, 2, 4, ... up to this many pauses, and
// the core offered to others this often.
constexpr int kMaxBackoff = 16;
constexpr std::chrono::microseconds kYieldEvery{4};
}  // namespace

using Clock = std::chrono::steady_clock;

// -----------------------------------------------------------------------------
// Endpoint, Result
// -----------------------------------------------------------------------------

Address Endpoint::address() const {
  switch (static_cast<Address::Family>(family)) {
    case Address::Family::kTcp:
      return Address(name, port);
    case Address::Family::kAbstract:
      return Address(std::string(1, '\0') + name);
    case Address::Family::kUnix:
      break;
  }
  return Address(name);
}

Endpoint Endpoint::of(const Address& address) {
  Endpoint e;
  e.family = static_cast<std::uint8_t>(address.family());
  e.name = address.name();
  e.port = address.port();
  return e;
}

Result::Result(Result&& other) noexcept { *this = std::move(other); }

Result& Result::operator=(Result&& other) noexcept {
  // The views point into the frame: moving a std::string may move its bytes (the small
  // string buffer), so they are rebased.
  const char* old_base = other.frame_.data();
  frame_ = std::move(other.frame_);
  fields_.clear();
  for (std::string_view f : other.fields_)
    fields_.emplace_back(frame_.data() + (f.data() - old_base), f.size());
  other.fields_.clear();
  return *this;
}

std::string_view Result::field(std::size_t i) const {
  if (i >= fields_.size())
    throw ProcessError("mp manager: the reply has " + std::to_string(fields_.size()) +
                       " fields, field " + std::to_string(i) + " was expected");
  return fields_[i];
}

std::vector<std::string_view> Result::elements(std::size_t i) const& {
  std::vector<std::string_view> out;
  if (!wire::unpack(field(i), out)) throw ProcessError("mp manager: a malformed list in a reply");
  return out;
}

namespace {

std::atomic<pid_t> g_pid{0};
std::atomic<std::uint64_t> g_fork_generation{0};
std::atomic<std::uint64_t> g_next_caller{1};

std::uint64_t caller_id() {
  thread_local std::uint64_t id = g_next_caller.fetch_add(1);
  return id;
}

// Turns the server's error into the exception a local call would throw.
[[noreturn]] void throw_remote(std::string_view type, std::string_view message) {
  std::string what = "mp manager: " + std::string(type) + ": " + std::string(message);
  if (type == "KeyError" || type == "IndexError") throw std::out_of_range(what);
  if (type == "ValueError") throw std::invalid_argument(what);
  if (type == "RuntimeError") throw std::logic_error(what);
  if (type == "Empty") throw Empty(what);
  if (type == "Full") throw Full(what);
  if (type == "OwnerDied") throw OwnerDied(what);
  if (type == "BrokenBarrierError") throw BrokenBarrierError(what);
  if (type == "TimeoutError") throw TimeoutError(what);
  throw RemoteError(std::string(type), std::string(message));
}

}  // namespace

pid_t current_pid() noexcept {
  pid_t p = g_pid.load(std::memory_order_relaxed);
  if (p == 0) {
    p = ::getpid();
    g_pid.store(p, std::memory_order_relaxed);
  }
  return p;
}

std::uint64_t fork_generation() noexcept { return g_fork_generation.load(); }

// -----------------------------------------------------------------------------
// Link
// -----------------------------------------------------------------------------

class Link {
 public:
  explicit Link(Endpoint endpoint) : endpoint_(std::move(endpoint)), pid_(current_pid()) {
    const Address address = endpoint_.address();
    heartbeat_ = address.family() == Address::Family::kTcp || endpoint_.heartbeat_on_unix;
    std::optional<std::string> key;
    if (endpoint_.authenticate) key = endpoint_.authkey ? *endpoint_.authkey : mp::authkey();
    mp::Connection conn;
    try {
      conn = mp::Client(address, key, std::max(2.0, 4 * endpoint_.gone_timeout));
    } catch (const AuthenticationError& e) {
      // A server that died while it challenged us is gone, not a sign of a wrong key.
      if (!e.peer_closed()) throw;
      throw ManagerGone("mp manager at " + address.to_string() + ": " + e.what());
    } catch (const std::exception& e) {
      throw ManagerGone("mp manager at " + address.to_string() + ": cannot connect: " + e.what());
    }
    fd_ = ::fcntl(conn.fileno(), F_DUPFD_CLOEXEC, 0);
    conn.close();
    if (fd_ < 0) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
    int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    if (endpoint_.lane && address.family() != Address::Family::kTcp) open_lane();
  }
  ~Link() {
    if (fd_ >= 0) ::close(fd_);
  }

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] int fd() const { return fd_; }
  // In a forked child: the parent's socket is not ours to use.
  void abandon() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    lane_.reset();
  }

  // `pass_fd`, if not -1, goes with the request's first byte (SCM_RIGHTS).
  Result call(wire::Op op, std::uint64_t object, std::string_view name,
              const std::vector<std::string_view>& fields, bool discard, int pass_fd = -1) {
    Slot slot;
    std::uint64_t id;
    {
      std::lock_guard lock(mutex_);
      if (gone_) throw ManagerGone(gone_reason_);
      id = next_id_++;
      if (discard) {
        discarded_.emplace(id, true);
      } else {
        pending_.emplace(id, &slot);
      }
    }
    thread_local std::string out;
    out.clear();
    wire::encode_request(out, op, id, object, caller_id(), name, fields);
    MP_HOOK("manager.call.before_send");
    send_frame(out, pass_fd);
    MP_HOOK("manager.call.after_send");
    if (discard) return {};
    std::unique_lock lock(mutex_);
    while (!slot.done) {
      if (gone_) {
        pending_.erase(id);
        throw ManagerGone(gone_reason_);
      }
      if (!reading_) {
        reading_ = true;
        lock.unlock();
        read_until(slot);
        lock.lock();
        reading_ = false;
        cv_.notify_all();  // someone else reads now
        continue;
      }
      cv_.wait(lock);
    }
    lock.unlock();
    wire::Reply reply;
    std::string_view payload(slot.frame);
    std::string why = wire::decode_reply(payload, reply);
    if (!why.empty()) throw ProcessError("mp manager: a malformed reply: " + why);
    if (reply.status == wire::Status::kError) throw_remote(reply.fields[0], reply.fields[1]);
    return Result(std::move(slot.frame), std::move(reply.fields));
  }

  void fail(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (!gone_) {
      gone_ = true;
      gone_reason_ = reason;
    }
    cv_.notify_all();
  }

  [[nodiscard]] bool gone() {
    std::lock_guard lock(mutex_);
    return gone_;
  }

 private:
  struct Slot {
    bool done = false;
    std::string frame;
  };

  std::string gone_message(const char* what) const {
    return "mp manager at " + endpoint_.address().to_string() + ": " + what;
  }

  // Offers the server a lane; on a yes, every later frame goes through it. Anything else
  // but a gone manager leaves the link on its socket.
  void open_lane() {
    std::unique_ptr<Lane> lane;
    try {
      lane = Lane::create(kLaneCapacity);
    } catch (const std::exception&) {
      return;  // no memfd here: the socket will do
    }
    const std::uint64_t capacity = lane->capacity();
    try {
      call(wire::Op::kLane, 0, {}, {wire::scalar_bytes(capacity)}, false, lane->fd());
    } catch (const ManagerGone&) {
      throw;
    } catch (const std::exception&) {
      return;  // refused: the socket will do
    }
    if (in_.size() != in_begin_) {
      fail(gone_message("the manager sent bytes after its yes to a lane"));
      throw ManagerGone(gone_reason_);
    }
    lane->close_fd();
    requests_ = lane->requests_writer();
    replies_ = lane->replies_reader();
    lane_ = std::move(lane);
  }

  void send_frame(const std::string& frame, int pass_fd) {
    std::lock_guard lock(send_mutex_);
    if (lane_) {
      send_through_lane(frame);
      return;
    }
    std::size_t done = 0;
    if (pass_fd >= 0) done = send_with_fd(frame, pass_fd);
    while (done < frame.size()) {
      ssize_t n = ::send(fd_, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        if (poll_fds(&p, 1, std::max(endpoint_.gone_timeout, 1.0)) == 0 && heartbeat_) {
          fail(gone_message("the manager stopped reading (send timed out)"));
          throw ManagerGone(gone_message("the manager stopped reading (send timed out)"));
        }
        continue;
      }
      fail(gone_message("the manager closed the connection (it has shut down or died)"));
      throw ManagerGone(
          gone_message("the manager closed the connection (it has shut down or died)"));
    }
  }

  // The first bytes of `frame` with `fd` attached; returns how many went.
  std::size_t send_with_fd(const std::string& frame, int fd) {
    for (;;) {
      ssize_t n = send_with_descriptor(fd_, frame.data(), frame.size(), fd);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd_, POLLOUT, 0};
        (void)poll_fds(&p, 1, std::max(endpoint_.gone_timeout, 1.0));
        continue;
      }
      fail(gone_message("the manager closed the connection (it has shut down or died)"));
      throw ManagerGone(gone_reason_);
    }
  }

  // Writes `frame` into the requests ring, waiting for room while the server reads (spinning,
  // then in short sleeps that look for the socket's end: the server rings only the reader).
  void send_through_lane(const std::string& frame) {
    std::size_t done = 0;
    auto idle_since = Clock::now();
    int sleep_us = 20;
    while (done < frame.size()) {
      const std::int64_t n = requests_.write_some(frame.data() + done, frame.size() - done);
      if (n < 0) {
        fail(
            gone_message("the lane's counters are impossible (its shared memory was overwritten)"));
        throw ManagerGone(gone_reason_);
      }
      if (requests_.take_reader_parked()) ring_doorbell(fd_);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        idle_since = Clock::now();
        sleep_us = 20;
        continue;
      }
      if (Clock::now() - idle_since < std::chrono::microseconds(endpoint_.spin_us)) {
        cpu_relax();
        continue;
      }
      pollfd p{fd_, POLLRDHUP, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
        fail(gone_message("the manager closed the connection (it has shut down or died)"));
        throw ManagerGone(gone_reason_);
      }
      if (gone()) throw ManagerGone(gone_reason_);
      timespec nap{0, sleep_us * 1000L};
      ::nanosleep(&nap, nullptr);
      sleep_us = std::min(sleep_us * 2, 1000);
    }
  }

  // Reads replies, handing out other callers', until `mine` is done or the link fails.
  void read_until(Slot& mine) {
    auto silent_since = Clock::now();
    auto last_ping = silent_since;
    const auto gone_after = std::chrono::duration<double>(endpoint_.gone_timeout);
    const auto ping_every = std::chrono::duration<double>(endpoint_.heartbeat);
    for (;;) {
      // Every complete frame in the buffer.
      while (in_.size() - in_begin_ >= sizeof(std::uint64_t)) {
        std::uint64_t length;
        std::memcpy(&length, in_.data() + in_begin_, sizeof length);
        if (in_.size() - in_begin_ - sizeof length < length) break;
        std::string frame(in_.data() + in_begin_ + sizeof length, static_cast<std::size_t>(length));
        in_begin_ += sizeof length + static_cast<std::size_t>(length);
        deliver(std::move(frame));
      }
      if (in_begin_ == in_.size()) {
        in_.clear();
        in_begin_ = 0;
      }
      {
        std::lock_guard lock(mutex_);
        if (mine.done || gone_) return;
      }
      ssize_t n = lane_ ? spin_on_lane() : spin_on_socket();
      if (n == -2) {
        pollfd p{fd_, POLLIN, 0};
        double wait = heartbeat_ ? endpoint_.heartbeat : -1;
        // A lane's reader parks before it sleeps, so that the server rings; if the reply
        // came in between, there is no sleep.
        if (lane_) {
          replies_.park();
          n = read_some();
        }
        int ready = n == -2 ? poll_fds(&p, 1, wait) : 1;
        if (lane_) {
          replies_.unpark();
          if (n == -2 && ready > 0 && !drain_doorbells()) {
            // The socket ended; what the server wrote before its end is in the ring still,
            // and is read first, as a socket's buffered bytes are before its EOF.
            n = read_some();
            if (n == -2) n = 0;
          }
        }
        if (ready == 0) {
          auto now = Clock::now();
          if (now - silent_since > gone_after) {
            fail(gone_message("no answer from the manager (its host or process is gone)"));
            return;
          }
          if (now - last_ping >= ping_every) {
            last_ping = now;
            try {
              call(wire::Op::kPing, 0, {}, {}, /*discard=*/true);
            } catch (const ManagerGone&) {
              return;
            }
          }
          continue;
        }
        if (n == -2) n = read_some();
        if (n == -2) continue;
      }
      if (n == 0) {
        fail(gone_message("the manager closed the connection (it has shut down or died)"));
        return;
      }
      if (n < 0) {
        fail(gone_message("reading from the manager failed"));
        return;
      }
      silent_since = Clock::now();
    }
  }

  // Reads until a reply comes or `spin_us` pass: the lane's ring, yielding every few
  // microseconds. The yield is what lets a server that shares this core run at all (the
  // scheduler tends to put a woken server beside its waker); with a core to itself it
  // returns at once.
  ssize_t spin_on_lane() {
    auto now = Clock::now();
    const auto spin_until = now + std::chrono::microseconds(endpoint_.spin_us);
    auto next_yield = now + kYieldEvery;
    for (int backoff = 1;;) {
      const ssize_t n = read_some();
      if (n != -2) return n;
      now = Clock::now();
      if (now >= spin_until) return n;
      if (now >= next_yield) {
        ::sched_yield();
        next_yield = Clock::now() + kYieldEvery;
        continue;
      }
      for (int i = 0; i < backoff; ++i) cpu_relax();
      if (backoff < kMaxBackoff) backoff *= 2;
    }
  }

  // Reads until a reply comes or `spin_us` pass: the socket, yielding after each empty
  // read. On a machine busier than its cores, the server may be waiting for this core, and
  // a spinner that never yields keeps it for a whole time slice (a round trip of 200 us
  // instead of 8 here). A yield that gave the core away ends the spin, and spinning stays
  // off for a while: a sleeper is woken at once when its reply comes, a spinner waits for
  // its next turn behind the tasks it yielded to.
  ssize_t spin_on_socket() {
    const auto now = Clock::now();
    const auto spin_until =
        now >= spin_off_until_ ? now + std::chrono::microseconds(endpoint_.spin_us) : now;
    for (;;) {
      const ssize_t n = read_some();
      if (n != -2 || Clock::now() >= spin_until) return n;
      const auto yielded = Clock::now();
      ::sched_yield();
      if (Clock::now() - yielded > kBusyCore) {
        spin_off_until_ = Clock::now() + kSpinOff;
        return n;
      }
    }
  }

  // With a lane, the socket holds only doorbells: reads them all. False at its end (the
  // caller still reads what the ring holds before it fails the link).
  bool drain_doorbells() {
    int error = 0;
    return manager::drain_doorbells(fd_, error);
  }

  // One read into the buffer, from the lane or the socket: bytes read, 0 at EOF, -2 if
  // nothing is there, -1 on error.
  ssize_t read_some() {
    std::size_t want = 1 << 16;
    if (in_.size() - in_begin_ >= sizeof(std::uint64_t)) {
      std::uint64_t length;
      std::memcpy(&length, in_.data() + in_begin_, sizeof length);
      std::size_t missing = sizeof length + length - (in_.size() - in_begin_);
      want = std::max(want, std::min<std::size_t>(missing, std::size_t{1} << 24));
    }
    char* room = in_.prepare(want);
    if (lane_) {
      const std::int64_t got = replies_.read_some(room, want);
      if (got < 0) return -1;
      if (got == 0) return -2;
      in_.commit(static_cast<std::size_t>(got));
      if (replies_.take_writer_parked()) ring_doorbell(fd_);
      return got;
    }
    ssize_t n;
    do {
      n = ::recv(fd_, room, want, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) in_.commit(static_cast<std::size_t>(n));
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : (errno == ECONNRESET ? 0 : -1);
    return n;
  }

  void deliver(std::string frame) {
    wire::ReplyHeader h;
    if (frame.size() < sizeof h) {
      fail(gone_message("the manager sent a malformed reply"));
      return;
    }
    std::memcpy(&h, frame.data(), sizeof h);
    std::lock_guard lock(mutex_);
    if (discarded_.erase(h.request_id) != 0) return;
    auto it = pending_.find(h.request_id);
    if (it == pending_.end()) return;
    it->second->frame = std::move(frame);
    it->second->done = true;
    pending_.erase(it);
    cv_.notify_all();
  }

  const Endpoint endpoint_;
  const pid_t pid_;
  int fd_ = -1;
  bool heartbeat_ = false;
  std::mutex send_mutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::unordered_map<std::uint64_t, Slot*> pending_;
  std::unordered_map<std::uint64_t, bool> discarded_;
  std::uint64_t next_id_ = 1;
  bool reading_ = false;
  bool gone_ = false;
  std::string gone_reason_;
  RecvBuffer in_;  // the reader's (one thread at a time: reading_)
  std::size_t in_begin_ = 0;
  Clock::time_point spin_off_until_{};  // the reader's: no spinning before then (busy cores)
  std::unique_ptr<Lane> lane_;          // set once, in the constructor; null: the socket
  LaneWriter requests_;                 // the sender's (send_mutex_)
  LaneReader replies_;                  // the reader's
};

// -----------------------------------------------------------------------------
// The links of this process
// -----------------------------------------------------------------------------

namespace {

struct Links {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<Link>> by_address;
};

Links& links() {
  static auto* l = new Links;  // never destroyed: proxies may die during exit
  return *l;
}

void before_fork() {
  links().mutex.lock();
  g_fork_generation.fetch_add(1);
}
void after_fork_parent() { links().mutex.unlock(); }
void after_fork_child() {
  g_pid.store(::getpid(), std::memory_order_relaxed);
  Links& l = links();
  // The parent's links are not ours: their sockets are closed here, the objects left alone
  // (another thread of the parent may have held their locks at the fork).
  static auto* abandoned = new std::vector<std::shared_ptr<Link>>;
  for (auto& [key, link] : l.by_address) {
    link->abandon();
    abandoned->push_back(std::move(link));
  }
  l.by_address.clear();
  l.mutex.unlock();
}

// One link per address and key: a client with another key is another client.
std::string key_of(const Endpoint& e) {
  std::string key = std::to_string(e.family) + ":" + e.name + ":" + std::to_string(e.port);
  if (!e.authenticate) return key + ":none";
  return key + ":" + (e.authkey ? *e.authkey : mp::authkey());
}

}  // namespace

std::shared_ptr<Link> link_for(const Endpoint& endpoint) {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(before_fork, after_fork_parent, after_fork_child); });
  Links& l = links();
  std::string key = key_of(endpoint);
  {
    std::lock_guard lock(l.mutex);
    auto it = l.by_address.find(key);
    if (it != l.by_address.end() && !it->second->gone()) return it->second;
  }
  auto link = std::make_shared<Link>(endpoint);  // connects: outside the lock
  std::lock_guard lock(l.mutex);
  auto& slot = l.by_address[key];
  if (!slot || slot->gone()) slot = link;
  return slot;
}

void forget_link(const Endpoint& endpoint) noexcept {
  std::shared_ptr<Link> link;  // destroyed, if it is the last holder, outside the lock
  Links& l = links();
  std::lock_guard lock(l.mutex);
  auto it = l.by_address.find(key_of(endpoint));
  if (it == l.by_address.end()) return;
  link = std::move(it->second);
  l.by_address.erase(it);
}

Result round_trip(Link& link, wire::Op op, std::uint64_t object, std::string_view name,
                  const std::vector<std::string_view>& fields) {
  return link.call(op, object, name, fields, false);
}

void post(Link& link, wire::Op op, std::uint64_t object) noexcept {
  try {
    link.call(op, object, {}, {}, true);
  } catch (...) {  // a gone manager has no references to give back
  }
}

// -----------------------------------------------------------------------------
// ProxyRef, ProxyBase
// -----------------------------------------------------------------------------

ProxyRef::ProxyRef(Endpoint endpoint, std::uint64_t id, std::string kind, bool held)
    : endpoint(std::move(endpoint)), id(id), kind(std::move(kind)), born_(fork_generation()) {
  if (held) {
    holder_ = current_pid();
    link_ = link_for(this->endpoint);
  }
}

ProxyRef::~ProxyRef() {
  std::lock_guard lock(mutex_);
  if (holder_ != current_pid() || !link_) return;
  // Kept if another process may use it: a copy went out as bytes, or a fork happened since
  // (the child's copy). The connection's end gives it back.
  if (shared_.load(std::memory_order_relaxed) || born_ != fork_generation()) return;
  post(*link_, wire::Op::kDecref, id);
}

std::shared_ptr<Link> ProxyRef::link() {
  std::lock_guard lock(mutex_);
  pid_t me = current_pid();
  if (holder_ == me && link_) return link_;
  link_ = link_for(endpoint);
  post(*link_, wire::Op::kIncref, id);
  holder_ = me;
  born_ = fork_generation();
  return link_;
}

std::uint64_t ProxyBase::id() const {
  if (!ref_) throw std::logic_error("mp: an empty proxy refers to no managed object");
  return ref_->id;
}

const std::string& ProxyBase::kind() const {
  if (!ref_) throw std::logic_error("mp: an empty proxy refers to no managed object");
  return ref_->kind;
}

const Endpoint& ProxyBase::endpoint() const {
  if (!ref_) throw std::logic_error("mp: an empty proxy refers to no managed object");
  return ref_->endpoint;
}

Result ProxyBase::call(std::string_view method, const std::vector<std::string_view>& fields) const {
  if (!ref_) throw std::logic_error("mp: an empty proxy refers to no managed object");
  std::shared_ptr<Link> link = ref_->link();
  return link->call(wire::Op::kCall, ref_->id, method, fields, false);
}

}  // namespace mp::detail::manager
