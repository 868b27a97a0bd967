// The manager server survives bad input (RapidCheck properties): bytes that are not the
// protocol, sent before or after the authkey challenge, frames whose length is oversized or
// cut off, payloads that are not requests, and well-formed requests with unknown methods,
// wrong ids and wrong argument types. A bad message drops its own connection with a reason
// on the server's stderr; a request that is well formed but wrong gets an error reply; the
// server stays up, gives back everything the bad connection held, and a good client's dict
// keeps its values throughout.
#include <gtest/gtest.h>
#include <poll.h>
#include <rapidcheck.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "byte_lane.h"
#include "mp/detail/manager_wire.h"
#include "mp/errors.h"
#include "mp/listener.h"
#include "mp/managers.h"
#include "mp/process.h"

namespace mp {
namespace {

namespace wire = detail::wire;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxMessage = std::size_t{1} << 20;  // the server's limit here
constexpr std::size_t kHandshakeLimit = 256;               // before authentication
const std::string kKey = "garbage-test-key";

// Outside a property too: an exception fails the gtest or the RapidCheck case it is in.
void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("expected: " + what);
}

// ---- the server under test, with its stderr in a file ----

class Harness {
 public:
  Harness() {
    char path[] = "/tmp/mp-manager-garbage-XXXXXX";
    int fd = ::mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    log_path_ = path;
    ManagerOptions options;
    options.context = get_context("fork");
    options.max_message = kMaxMessage;
    manager_ = std::make_unique<SyncManager>(std::nullopt, kKey, options);
    // The forked server inherits descriptor 2: its log goes to the file, ours stays ours.
    int saved = ::dup(2);
    ::dup2(fd, 2);
    try {
      manager_->start();
    } catch (...) {
      ::dup2(saved, 2);
      throw;
    }
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fd);
    dict_ = manager_->dict<int, std::string>();
    for (int i = 0; i < 8; ++i) expected_[i] = "value " + std::to_string(i);
    for (auto& [k, v] : expected_) dict_.set(k, v);
    baseline_objects_ = manager_->number_of_objects();
  }
  ~Harness() {
    manager_.reset();
    ::unlink(log_path_.c_str());
  }

  const Address& address() const { return manager_->address(); }
  std::uint64_t dict_id() const { return dict_.id(); }
  DictProxy<int, std::string>& dict() { return dict_; }

  // The server's log lines that contain `what`.
  std::vector<std::string> log_lines(std::string_view what) const {
    std::ifstream in(log_path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
      if (line.find(what) != std::string::npos) out.push_back(line);
    return out;
  }
  // The lines that report a dropped connection.
  std::vector<std::string> drops() const { return log_lines("dropped connection"); }

  // The server is alive, serves the good client, and holds no more objects than before the
  // bad connection (which is closed by now): what that connection made or referred to was
  // given back.
  void check_served(int round) {
    require(manager_->process()->is_alive(), "the server process is alive");
    // Under the asan preset: UBSan goes on after a report, which only the log shows.
    for (const char* report : {"runtime error:", "Sanitizer"}) {
      auto lines = log_lines(report);
      require(lines.empty(), "no sanitizer report from the server, not: " +
                                 (lines.empty() ? std::string() : lines.front()));
    }
    int key = round % 8;
    std::string fresh = "round " + std::to_string(round);
    require(dict_.get(key) == expected_[key], "the good client's dict keeps its value");
    dict_.set(key, fresh);
    expected_[key] = fresh;
    require(dict_[key] == fresh, "the good client's write is read back");
    require(dict_.size() == expected_.size(), "the good client's dict has its keys only");
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (manager_->number_of_objects() != baseline_objects_ && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    require(manager_->number_of_objects() == baseline_objects_,
            "the server holds " + std::to_string(baseline_objects_) + " objects, not " +
                std::to_string(manager_->number_of_objects()) +
                ", once the bad connection is gone");
  }

 private:
  std::string log_path_;
  std::unique_ptr<SyncManager> manager_;
  DictProxy<int, std::string> dict_;
  std::map<int, std::string> expected_;
  std::size_t baseline_objects_ = 0;
};

// ---- a raw connection ----

// Writes everything it can; the server may close in the middle (EPIPE, ECONNRESET).
void write_all(int fd, const std::string& bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    at += static_cast<std::size_t>(n);
  }
}

// Reads and discards until the server closes (EOF or a reset) or `seconds` pass.
bool closed_within(int fd, double seconds) {
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(seconds));
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
  }
}

std::string u64_bytes(std::uint64_t v) { return std::string(reinterpret_cast<char*>(&v), 8); }

// ---- what the server must make of a stream of bytes ----

enum class Verdict {
  kOversized,  // a length prefix over the limit: dropped at once
  kRejected,   // a whole frame that is not a valid message: dropped at once
  kCutOff,     // ends inside a frame: the server waits for the rest, drops it at EOF
  kEndsClean,  // every frame was valid and served: the server waits for more
};

// Walks the frames as the server does. Before authentication every whole frame is the
// answer to the server's challenge, which random bytes never are (an HMAC-SHA256).
Verdict predict(const std::string& bytes, bool authenticated) {
  std::size_t limit = authenticated ? kMaxMessage : kHandshakeLimit;
  std::size_t at = 0;
  while (bytes.size() - at >= 8) {
    std::uint64_t length;
    std::memcpy(&length, bytes.data() + at, 8);
    if (length > limit) return Verdict::kOversized;
    if (bytes.size() - at - 8 < length) return Verdict::kCutOff;
    if (!authenticated) return Verdict::kRejected;
    wire::Request r;
    if (!wire::decode_request(std::string_view(bytes).substr(at + 8, length), r).empty())
      return Verdict::kRejected;
    at += 8 + length;
  }
  return at == bytes.size() ? Verdict::kEndsClean : Verdict::kCutOff;
}

// The words the server's log line must contain for each verdict.
const char* reason_for(Verdict v, bool authenticated) {
  switch (v) {
    case Verdict::kOversized:
      return "at most";
    case Verdict::kRejected:
      return authenticated ? "malformed request" : "authentication failed";
    case Verdict::kCutOff:
      return "closed in the middle of a message";
    case Verdict::kEndsClean:
      return nullptr;
  }
  return nullptr;
}

// Sends `bytes` on `fd` and checks what the server does with them and the connection.
void expect_dropped_as_predicted(Harness& h, int fd, const std::string& bytes, bool authenticated) {
  Verdict v = predict(bytes, authenticated);
  // A valid request that stops the server is not garbage (any client with the key may).
  if (authenticated && v == Verdict::kEndsClean) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      std::uint64_t length;
      std::memcpy(&length, bytes.data() + at, 8);
      wire::Request r;
      (void)wire::decode_request(std::string_view(bytes).substr(at + 8, length), r);
      RC_PRE(r.op != wire::Op::kShutdown);
      at += 8 + length;
    }
  }
  RC_CLASSIFY(v == Verdict::kOversized, "oversized");
  RC_CLASSIFY(v == Verdict::kRejected, "rejected");
  RC_CLASSIFY(v == Verdict::kCutOff, "cut off");
  RC_CLASSIFY(v == Verdict::kEndsClean, "ends clean");
  std::size_t drops_before = h.drops().size();
  write_all(fd, bytes);
  if (v == Verdict::kOversized || v == Verdict::kRejected) {
    // Dropped at once, without waiting for the peer to close.
    RC_ASSERT(closed_within(fd, 3.0));
  } else {
    // The server cannot know the rest is not coming: it waits. Once we close our side it
    // drops the connection.
    ::shutdown(fd, SHUT_WR);
    RC_ASSERT(closed_within(fd, 3.0));
  }
  auto drops = h.drops();
  if (const char* reason = reason_for(v, authenticated)) {
    RC_ASSERT(drops.size() == drops_before + 1);
    RC_ASSERT(drops.back().find(reason) != std::string::npos);
  } else {
    RC_ASSERT(drops.size() == drops_before);
  }
}

// ---- generators ----

// RapidCheck scales inRange and element by the case's size (small cases first); a choice of
// category is uniform at every size here, or the later categories would be left to the last
// few cases.
template <class G>
auto uniform(G gen) {
  return rc::gen::resize(rc::kNominalSize, std::move(gen));
}
rc::Gen<int> choice(int n) { return uniform(rc::gen::inRange(0, n)); }

rc::Gen<std::string> bytes_up_to(std::size_t max) {
  return rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, max + 1), [](std::size_t n) {
    return rc::gen::container<std::string>(n, rc::gen::arbitrary<char>());
  });
}

// Lengths that matter: small, at the limits, over them, and the largest.
rc::Gen<std::uint64_t> oversized_length(std::size_t limit) {
  return rc::gen::oneOf(rc::gen::just<std::uint64_t>(limit + 1),
                        rc::gen::inRange<std::uint64_t>(limit + 1, std::uint64_t{1} << 40),
                        rc::gen::just(std::numeric_limits<std::uint64_t>::max()),
                        rc::gen::just(std::uint64_t{1} << 63));
}

// A valid request (never a shutdown), then broken in one place or not at all: a byte
// overwritten, the payload cut short, a count or a length that lies.
rc::Gen<std::string> mutated_request_payload() {
  return rc::gen::exec([] {
    const std::vector<wire::Op> ops = {wire::Op::kCall,   wire::Op::kCreate, wire::Op::kIncref,
                                       wire::Op::kDecref, wire::Op::kPing,   wire::Op::kInfo};
    wire::Op op = *uniform(rc::gen::elementOf(ops));
    std::string name = *uniform(rc::gen::element<std::string>("dict", "get", "__setitem__", "Queue",
                                                              "put", "no_such_method"));
    if (op != wire::Op::kCall && op != wire::Op::kCreate) name.clear();
    auto fields =
        *rc::gen::container<std::vector<std::string>>(*rc::gen::inRange(0, 4), bytes_up_to(24));
    std::vector<std::string_view> views(fields.begin(), fields.end());
    std::string frame;
    wire::encode_request(frame, op, *rc::gen::arbitrary<std::uint64_t>(), std::uint64_t{1} << 50, 0,
                         name, views);
    std::string payload = frame.substr(8);
    switch (*choice(6)) {
      case 0:  // one byte overwritten
        payload[*rc::gen::inRange<std::size_t>(0, payload.size())] = *rc::gen::arbitrary<char>();
        break;
      case 1:  // cut short
        payload.resize(*rc::gen::inRange<std::size_t>(0, payload.size()));
        break;
      case 2: {  // field_count lies
        std::uint32_t count = *rc::gen::arbitrary<std::uint32_t>();
        std::memcpy(payload.data() + offsetof(wire::RequestHeader, field_count), &count, 4);
        break;
      }
      case 3: {  // name_length lies
        std::uint16_t length = *rc::gen::arbitrary<std::uint16_t>();
        std::memcpy(payload.data() + offsetof(wire::RequestHeader, name_length), &length, 2);
        break;
      }
      case 4:  // bytes after the last field
        payload += *bytes_up_to(16);
        break;
      default:  // left valid
        break;
    }
    return payload;
  });
}

// A stream of bytes for a connection in the given stage: random bytes, or frames whose
// length prefix is oversized, exact, longer than what follows, or followed by more.
rc::Gen<std::string> garbage_stream(bool authenticated) {
  std::size_t limit = authenticated ? kMaxMessage : kHandshakeLimit;
  rc::Gen<std::string> payload = authenticated
                                     ? rc::gen::oneOf(bytes_up_to(300), mutated_request_payload())
                                     : bytes_up_to(300);
  return rc::gen::exec([=] {
    switch (*choice(5)) {
      case 0:
        return *bytes_up_to(600);
      case 1:
        return u64_bytes(*oversized_length(limit)) + *payload;
      case 2: {
        std::string p = *payload;
        return u64_bytes(p.size()) + p;
      }
      case 3: {
        std::string p = *payload;
        return u64_bytes(p.size() + *rc::gen::inRange<std::size_t>(1, 4096)) + p;
      }
      default: {
        std::string out;
        for (int i = *rc::gen::inRange(1, 4); i > 0; --i) {
          std::string p = *payload;
          out += u64_bytes(p.size()) + p;
        }
        return out + *bytes_up_to(12);
      }
    }
  });
}

// ---- well-formed requests that are wrong ----

// Every method name some built-in kind exposes, and the kinds.
const std::set<std::string>& real_methods() {
  static const std::set<std::string> names = {
      "__getitem__", "get",         "__setitem__", "__delitem__", "__contains__", "__len__",
      "keys",        "values",      "items",       "pop",         "popitem",      "setdefault",
      "update",      "clear",       "update_with", "all",         "append",       "extend",
      "insert",      "remove",      "index",       "count",       "reverse",      "set",
      "__getattr__", "__setattr__", "__delattr__", "hasattr",     "names",        "put",
      "qsize",       "empty",       "full",        "task_done",   "join",         "acquire",
      "release",     "locked",      "get_value",   "wait",        "notify",       "notify_all",
      "is_set",      "abort",       "reset",       "n_waiting",   "parties",      "broken"};
  return names;
}
const std::vector<std::string>& kinds() {
  static const std::vector<std::string> names = {
      "dict",          "list",   "Array", "Value",     "Namespace",        "Queue",
      "JoinableQueue", "Lock",   "RLock", "Semaphore", "BoundedSemaphore", "Condition",
      "Event",         "Barrier"};
  return names;
}
// Kinds a create without arguments, or with the right ones, makes.
const std::vector<std::string>& creatable_kinds() {
  static const std::vector<std::string> names = {
      "dict",   "list",      "Namespace",        "Queue", "JoinableQueue", "Lock",
      "RLock",  "Semaphore", "BoundedSemaphore", "Event", "Value",         "Array",
      "Barrier"};
  return names;
}
// Methods that may wait for another call (or a timeout) before they reply.
bool may_wait(std::string_view method) {
  return method == "get" || method == "put" || method == "join" || method == "acquire" ||
         method == "wait";
}

// A name of valid characters, not necessarily a real one.
rc::Gen<std::string> name_gen(const std::vector<std::string>& real) {
  static const std::string kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:";
  return rc::gen::oneOf(
      rc::gen::elementOf(real),
      rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, wire::kMaxName + 1), [](std::size_t n) {
        return rc::gen::container<std::string>(n, rc::gen::elementOf(kAlphabet));
      }));
}

// Arguments of the wrong types and the edge values of the right ones.
rc::Gen<std::string> field_gen() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto f64 = [](double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    return u64_bytes(bits);
  };
  return rc::gen::oneOf(
      bytes_up_to(16),
      rc::gen::map(rc::gen::element<std::uint64_t>(
                       0, 1, 2, 3, 7, std::uint64_t(-1), std::uint64_t(-2), std::uint64_t{1} << 63,
                       (std::uint64_t{1} << 63) - 1, std::uint64_t{1} << 40),
                   u64_bytes),
      rc::gen::element(f64(nan), f64(inf), f64(-inf), f64(1e300), f64(-1e300), f64(0.0), f64(-0.0),
                       f64(0.01), f64(1e-300), f64(9.3e18)),
      rc::gen::element(std::string(1, '\0'), std::string(1, '\1'), std::string(1, '\x7f')),
      rc::gen::map(rc::gen::container<std::vector<std::string>>(bytes_up_to(8)),
                   [](const std::vector<std::string>& elements) {
                     std::string packed;
                     for (const auto& e : elements) wire::pack_into(packed, e);
                     return packed;
                   }),
      rc::gen::map(bytes_up_to(8), [](std::string tail) {  // a packed list that lies
        return u64_bytes(std::uint64_t{1} << 40) + tail;
      }));
}

struct WrongRequest {
  wire::Op op = wire::Op::kCall;
  int target = 0;  // 0: a wrong id; 1: the good client's dict; k >= 2: one of our own
  std::string name;
  std::vector<std::string> fields;
  // Call the method of the target's kind that waits (Queue.get, Lock.acquire, ...), with
  // the timeout in fields[0], instead of `name`.
  bool waiting_method = false;
};

std::string printable(std::string_view bytes) {
  std::ostringstream out;
  for (unsigned char ch : bytes) {
    if (std::isprint(ch) && ch != '\\') {
      out << ch;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      out << hex;
    }
  }
  return out.str();
}

void showValue(const WrongRequest& r, std::ostream& os) {
  os << "{op " << int(r.op) << ", target " << r.target << ", \""
     << (r.waiting_method ? "(the waiting method)" : r.name) << "\", fields [";
  for (const auto& f : r.fields) os << " \"" << printable(f) << "\"";
  os << " ]}";
}

rc::Gen<WrongRequest> wrong_request_gen() {
  static const std::vector<std::string> methods(real_methods().begin(), real_methods().end());
  return rc::gen::exec([] {
    WrongRequest r;
    r.op = *rc::gen::weightedElement<wire::Op>({{12, wire::Op::kCall},
                                                {5, wire::Op::kCreate},
                                                {2, wire::Op::kIncref},
                                                {2, wire::Op::kDecref},
                                                {1, wire::Op::kInfo},
                                                {1, wire::Op::kPing}});
    r.target = *choice(6);
    if (r.op == wire::Op::kCall) r.name = *name_gen(methods);
    if (r.op == wire::Op::kCreate) r.name = *name_gen(kinds());
    r.fields = *rc::gen::container<std::vector<std::string>>(*rc::gen::inRange(0, 5), field_gen());
    // A quarter of the calls are waiting calls with a timeout of an edge value: NaN,
    // infinity, 1e300, ones too long for the server's clock.
    if (r.op == wire::Op::kCall && *choice(4) == 0) {
      auto timeout = *uniform(rc::gen::element(0.01, -1.0, 1e300, 9.3e18,
                                               std::numeric_limits<double>::infinity(),
                                               std::numeric_limits<double>::quiet_NaN(), -0.0));
      std::uint64_t bits;
      std::memcpy(&bits, &timeout, 8);
      r.waiting_method = true;
      r.fields = {u64_bytes(bits)};
    }
    return r;
  });
}

// `r` made a call of the waiting method of `kind` (none: `r` as it is).
WrongRequest with_waiting_method(WrongRequest r, const std::string& kind) {
  if (!r.waiting_method) return r;
  std::string timeout = r.fields.at(0), yes(1, '\1');
  if (kind == "Queue" || kind == "JoinableQueue") {
    r.name = "get";  // get(block, timeout)
    r.fields = {yes, timeout};
  } else if (kind == "Lock" || kind == "RLock" || kind == "Semaphore" ||
             kind == "BoundedSemaphore") {
    r.name = "acquire";  // acquire(block, timeout)
    r.fields = {yes, timeout};
  } else if (kind == "Event" || kind == "Barrier") {
    r.name = "wait";  // wait(timeout)
  } else {
    r.name = "wait";  // no such method: an AttributeError
  }
  return r;
}

WrongRequest valid_create(const std::string& kind) {
  WrongRequest r{wire::Op::kCreate, 0, kind, {}};
  if (kind == "Value") r.fields = {"initial"};
  if (kind == "Array") {
    std::string packed;
    for (int i = 0; i < 3; ++i) wire::pack_into(packed, "element");
    r.fields = {packed};
  }
  if (kind == "Barrier") {
    double no_timeout = -1;
    std::uint64_t bits;
    std::memcpy(&bits, &no_timeout, 8);
    r.fields = {u64_bytes(2), u64_bytes(bits)};
  }
  return r;
}

// Reads one reply frame, or nullopt if none comes in `seconds`.
std::optional<std::string> read_frame(Connection& c, double seconds) {
  if (!c.poll(seconds)) return std::nullopt;
  return c.recv_bytes();
}

// ---- the properties ----

TEST(ManagerGarbage, BytesBeforeAuthenticationDropOnlyThatConnection) {
  Harness h;
  int round = 0;
  EXPECT_TRUE(rc::check("any bytes before the challenge is answered drop that connection", [&] {
    std::string bytes = *garbage_stream(false);
    Connection raw = Client(h.address(), kNoAuthentication);
    expect_dropped_as_predicted(h, raw.fileno(), bytes, false);
    h.check_served(++round);
  }));
}

TEST(ManagerGarbage, BytesAfterAuthenticationDropOnlyThatConnection) {
  Harness h;
  int round = 0;
  EXPECT_TRUE(rc::check(
      "any bytes and broken frames after the challenge drop that connection, with a reason", [&] {
        std::string bytes = *garbage_stream(true);
        Connection c = Client(h.address(), kKey, 5);
        expect_dropped_as_predicted(h, c.fileno(), bytes, true);
        h.check_served(++round);
      }));
}

TEST(ManagerGarbage, WrongRequestsGetErrorRepliesAndTheConnectionLivesOn) {
  Harness h;
  int round = 0;
  EXPECT_TRUE(rc::check(
      "unknown methods, wrong ids and wrong arguments get error replies; nothing leaks", [&] {
        // Objects of this connection's own, made right, for the wrong calls to reach.
        auto own_kinds = *rc::gen::container<std::vector<std::string>>(
            *rc::gen::inRange(1, 5), uniform(rc::gen::elementOf(creatable_kinds())));
        auto requests = *rc::gen::container<std::vector<WrongRequest>>(*rc::gen::inRange(1, 16),
                                                                       wrong_request_gen());
        std::size_t drops_before = h.drops().size();
        Connection c = Client(h.address(), kKey, 5);
        std::vector<std::uint64_t> made;
        std::vector<std::string> made_kinds;
        std::map<std::uint64_t, WrongRequest> waiting;  // sent, no reply yet
        std::uint64_t next_id = 1;
        bool any_error = false, any_ok = false, any_waits = false;
        auto handle_reply = [&](const std::string& frame) -> std::uint64_t {
          wire::Reply reply;
          RC_ASSERT(wire::decode_reply(frame, reply) == "");
          auto it = waiting.find(reply.request_id);
          RC_LOG() << "reply to " << reply.request_id << " status " << int(reply.status)
                   << (reply.fields.size() == 2 ? " " + printable(reply.fields[1]) : "") << "\n";
          RC_ASSERT(it != waiting.end());  // one reply per request, to a request we sent
          const WrongRequest r = it->second;
          waiting.erase(it);
          if (r.op == wire::Op::kPing) return reply.request_id;
          if (reply.status == wire::Status::kError) {
            RC_ASSERT(!reply.fields[0].empty());
            any_error = true;
            return reply.request_id;
          }
          any_ok = true;
          if (r.op == wire::Op::kCreate) {
            RC_ASSERT(reply.fields.size() == 1u);
            RC_ASSERT(reply.fields[0].size() == 8u);
            std::uint64_t id;
            std::memcpy(&id, reply.fields[0].data(), 8);
            made.push_back(id);
            made_kinds.push_back(r.name);
          }
          return reply.request_id;
        };
        // Sends `r` to `object` and a ping after it; reads replies up to the ping's. The
        // request's reply comes before the ping's unless the call waits.
        auto exchange = [&](const WrongRequest& r, std::uint64_t object) {
          const WrongRequest ping{wire::Op::kPing, 0, "", {}};
          std::vector<std::string_view> fields(r.fields.begin(), r.fields.end());
          std::string out;
          std::uint64_t id = next_id++;
          waiting[id] = r;
          wire::encode_request(out, r.op, id, object, 1, r.name, fields);
          std::uint64_t ping_id = next_id++;
          waiting[ping_id] = ping;
          wire::encode_request(out, wire::Op::kPing, ping_id, 0, 1, "", {});
          write_all(c.fileno(), out);
          for (;;) {
            auto frame = read_frame(c, 3.0);
            RC_ASSERT(frame.has_value());
            if (handle_reply(*frame) == ping_id) break;
          }
          return waiting.count(id) == 0;
        };
        std::vector<WrongRequest> creates;
        creates.reserve(own_kinds.size());
        for (const std::string& kind : own_kinds) creates.push_back(valid_create(kind));
        for (const WrongRequest& r : creates) {
          std::size_t before = made.size();
          RC_ASSERT(exchange(r, 0));
          RC_ASSERT(made.size() == before + 1);  // a right create is answered with an id
        }
        for (WrongRequest r : requests) {
          std::uint64_t object = std::uint64_t{1} << 40 | static_cast<std::uint64_t>(r.target);
          std::string kind;
          if (r.target == 1) object = h.dict_id();
          if (r.target >= 2) {
            std::size_t k = static_cast<std::size_t>(r.target - 2) % made.size();
            object = made[k];
            kind = made_kinds[k];
          }
          r = with_waiting_method(std::move(r), kind);
          // The good client's dict only ever gets references taken and given back: any
          // client with the key may change it, and this one must not.
          if (r.target == 1 && r.op == wire::Op::kCall) continue;
          if (!exchange(r, object)) {
            RC_ASSERT(r.op == wire::Op::kCall);
            RC_ASSERT(may_wait(r.name));
            any_waits = true;
          }
        }
        RC_CLASSIFY(any_error, "an error reply");
        RC_CLASSIFY(any_ok, "a success");
        RC_CLASSIFY(any_waits, "a call that waits");
        c.close();
        // Nothing here was malformed: the server dropped no connection for it.
        RC_ASSERT(h.drops().size() == drops_before);
        h.check_served(++round);
      }));
}

// Found by the property above: a call that failed got its error reply and then an empty
// success reply as well (the client ignored the second, for a request it no longer waited on).
TEST(ManagerGarbage, AFailedCallGetsExactlyOneReply) {
  Harness h;
  Connection c = Client(h.address(), kKey, 5);
  std::string out;
  wire::encode_request(out, wire::Op::kCall, 1, h.dict_id(), 1, "no_such_method", {});
  wire::encode_request(out, wire::Op::kCall, 2, h.dict_id(), 1, "__getitem__", {"missing"});
  wire::encode_request(out, wire::Op::kPing, 3, 0, 1, "", {});
  write_all(c.fileno(), out);
  std::vector<std::pair<std::uint64_t, wire::Status>> got;
  while (got.empty() || got.back().first != 3) {
    auto frame = read_frame(c, 3.0);
    ASSERT_TRUE(frame.has_value());
    wire::Reply reply;
    ASSERT_EQ(wire::decode_reply(*frame, reply), "");
    got.emplace_back(reply.request_id, reply.status);
  }
  std::vector<std::pair<std::uint64_t, wire::Status>> expected = {
      {1, wire::Status::kError}, {2, wire::Status::kError}, {3, wire::Status::kOk}};
  EXPECT_EQ(got, expected);
}

// A peer that sends part of its answer to the challenge and then nothing is dropped when
// its time is up (the server's 5 s), with the reason; it does not hold a place for ever.
TEST(ManagerGarbage, AHalfSentAnswerToTheChallengeIsDroppedWhenItsTimeIsUp) {
  Harness h;
  Connection raw = Client(h.address(), kNoAuthentication);
  write_all(raw.fileno(), u64_bytes(200) + "only a part");
  auto start = Clock::now();
  EXPECT_TRUE(closed_within(raw.fileno(), 10.0));
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_GT(took, 4.0);
  EXPECT_LT(took, 8.0);
  auto drops = h.drops();
  ASSERT_FALSE(drops.empty());
  EXPECT_NE(drops.back().find("not completed in time"), std::string::npos) << drops.back();
  h.check_served(1);
}
// ---- lanes (byte_lane.h) ----

// Sends `frame` whole, its first bytes with `fd` attached (SCM_RIGHTS).
void send_with_fd(int socket, const std::string& frame, int fd) {
  ssize_t n = detail::manager::send_with_descriptor(socket, frame.data(), frame.size(), fd);
  require(n > 0, "sendmsg with a descriptor");
  write_all(socket, frame.substr(static_cast<std::size_t>(n)));
}

std::string lane_request(std::uint64_t id, const std::uint64_t& capacity) {
  std::string out;
  wire::encode_request(out, wire::Op::kLane, id, 0, 1, "", {wire::scalar_bytes(capacity)});
  return out;
}

// The reply to the one request in flight on `c`'s socket.
wire::Reply socket_reply(Connection& c, std::string& frame_storage) {
  auto frame = read_frame(c, 3.0);
  require(frame.has_value(), "a reply within 3 s");
  frame_storage = std::move(*frame);
  wire::Reply reply;
  require(wire::decode_reply(frame_storage, reply).empty(), "a well-formed reply");
  return reply;
}

// A lane that is not one (no descriptor, an unsealed memfd, another size than announced) is
// refused with an error reply, and the connection goes on over its socket.
TEST(ManagerGarbage, ABadLaneIsRefusedAndTheConnectionLivesOn) {
  Harness h;
  const std::size_t drops_before = h.drops().size();
  Connection c = Client(h.address(), kKey, 5);
  std::string storage;
  auto expect_refused = [&](const std::string& why) {
    wire::Reply reply = socket_reply(c, storage);
    ASSERT_EQ(reply.status, wire::Status::kError);
    ASSERT_EQ(reply.fields.size(), 2u);
    EXPECT_NE(reply.fields[1].find(why), std::string::npos) << reply.fields[1];
  };
  write_all(c.fileno(), lane_request(1, 4096));
  expect_refused("no descriptor");

  int unsealed = ::memfd_create("unsealed", MFD_CLOEXEC);
  ASSERT_GE(unsealed, 0);
  ASSERT_EQ(::ftruncate(unsealed, 4096 + 2 * 4096), 0);
  send_with_fd(c.fileno(), lane_request(2, 4096), unsealed);
  ::close(unsealed);
  expect_refused("not sealed");

  auto lane = detail::manager::Lane::create(4096);
  send_with_fd(c.fileno(), lane_request(3, 8192), lane->fd());
  expect_refused("not a lane of");

  std::string ping;
  wire::encode_request(ping, wire::Op::kPing, 4, 0, 1, "", {});
  write_all(c.fileno(), ping);
  EXPECT_EQ(socket_reply(c, storage).status, wire::Status::kOk);
  c.close();
  EXPECT_EQ(h.drops().size(), drops_before);
  h.check_served(1);
}

// A client that overwrites the server's view of its lane (a tail past what the ring holds)
// loses its connection, with the reason; every other client goes on.
TEST(ManagerGarbage, AnOverwrittenLaneDropsOnlyItsConnection) {
  Harness h;
  Connection c = Client(h.address(), kKey, 5);
  auto lane = detail::manager::Lane::create(4096);
  const int raw_fd = ::dup(lane->fd());
  send_with_fd(c.fileno(), lane_request(1, 4096), lane->fd());
  std::string storage;
  ASSERT_EQ(socket_reply(c, storage).status, wire::Status::kOk);

  // A ping through the lane is answered through it.
  auto requests = lane->requests_writer();
  auto replies = lane->replies_reader();
  std::string ping;
  wire::encode_request(ping, wire::Op::kPing, 2, 0, 1, "", {});
  ASSERT_EQ(requests.write_some(ping.data(), ping.size()), static_cast<std::int64_t>(ping.size()));
  write_all(c.fileno(), std::string(1, '\0'));  // a doorbell, in case the server sleeps
  std::string got;
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  char buffer[256];
  while (Clock::now() < deadline) {
    const std::int64_t n = replies.read_some(buffer, sizeof buffer);
    ASSERT_GE(n, 0);
    got.append(buffer, static_cast<std::size_t>(n));
    if (got.size() >= 8) {
      std::uint64_t length;
      std::memcpy(&length, got.data(), 8);
      if (got.size() >= 8 + length) break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  ASSERT_GE(got.size(), 8u);
  wire::Reply reply;
  ASSERT_EQ(wire::decode_reply(std::string_view(got).substr(8), reply), "");
  EXPECT_EQ(reply.request_id, 2u);
  EXPECT_EQ(reply.status, wire::Status::kOk);

  void* raw = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, raw_fd, 0);
  ASSERT_NE(raw, MAP_FAILED);
  auto* ring = reinterpret_cast<detail::manager::LaneRing*>(static_cast<char*>(raw) + 64);
  ring->tail.store(std::uint64_t{1} << 40);
  write_all(c.fileno(), std::string(1, '\0'));
  EXPECT_TRUE(closed_within(c.fileno(), 3.0));
  auto drops = h.drops();
  ASSERT_FALSE(drops.empty());
  EXPECT_NE(drops.back().find("lane counters are impossible"), std::string::npos) << drops.back();
  ::munmap(raw, 4096);
  ::close(raw_fd);
  h.check_served(1);
}

// A client that writes a request into its lane and closes at once has it served, as
// the bytes it wrote on a socket before closing would be: its end does not erase them.
TEST(ManagerGarbage, WhatAClientWroteIntoItsLaneBeforeItClosedIsServed) {
  Harness h;
  Connection c = Client(h.address(), kKey, 5);
  auto lane = detail::manager::Lane::create(4096);
  send_with_fd(c.fileno(), lane_request(1, 4096), lane->fd());
  std::string storage;
  ASSERT_EQ(socket_reply(c, storage).status, wire::Status::kOk);
  // The server spins on a fresh lane for a while; once it sleeps, the request and the end of
  // the socket come to it together.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto requests = lane->requests_writer();
  std::string set;
  wire::encode_request(set, wire::Op::kCall, 2, h.dict_id(), 1, "__setitem__",
                       {detail::manager::value_field(100),
                        detail::manager::value_field(std::string("written before the end"))});
  ASSERT_EQ(requests.write_some(set.data(), set.size()), static_cast<std::int64_t>(set.size()));
  c.close();  // no doorbell: the end of the socket is what wakes the server
  DictProxy<int, std::string>& dict = h.dict();
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (!dict.contains(100) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(dict.contains(100)) << "the request in the lane was dropped with its connection";
  EXPECT_EQ(dict.get(100), "written before the end");
}

}  // namespace
}  // namespace mp
