// mp/detail/manager_wire.h — the messages between manager clients and the manager server.
//
// Every message is one mp::Connection frame (a 64-bit length, then the payload). A payload
// is a fixed header (plain bytes, mp/serialize.h's fast path) then a name and a list of
// fields, each a 64-bit length and its bytes:
//
//   request  RequestHeader  name (name_length bytes)  field_count × (u64 length, bytes)
//   reply    ReplyHeader                              field_count × (u64 length, bytes)
//
// Values inside fields are what mp::serialize makes of them; the server stores the bytes of
// user values as they are and never deserializes them, except inside a function or type the
// user registered. decode_request / decode_reply check every length against what is left
// and every enum against the known values, allocate nothing on the peer's say-so, and give
// a reason for anything else (what the server logs before dropping the connection).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mp::detail::wire {

inline constexpr std::uint32_t kRequestMagic = 0x7271706d;  // "mpqr"
inline constexpr std::uint32_t kReplyMagic = 0x7072706d;    // "mprp"
inline constexpr std::size_t kMaxName = 64;
inline constexpr std::size_t kMaxFields = 64;

enum class Op : std::uint8_t {
  kCall = 1,      // call method `name` of object `object` with the fields as arguments
  kCreate = 2,    // make an object of the type `name`; the reply's field 0 is its id (u64)
  kIncref = 3,    // this connection holds one more reference to `object`
  kDecref = 4,    // this connection holds one reference less to `object`
  kPing = 5,      // reply at once (the heartbeat of a client waiting on a long call)
  kShutdown = 6,  // stop the server
  kInfo = 7,      // field 0: the number of live objects (u64)
  kLane = 8,      // talk through the shared-memory lane whose descriptor came with this
                  // request (byte_lane.h); field 0: its ring capacity (u64)
};
inline constexpr std::uint8_t kMaxOp = 8;

enum class Status : std::uint8_t {
  kOk = 0,     // fields: the results
  kError = 1,  // fields: the error's type name and its message
};

struct RequestHeader {
  std::uint32_t magic = kRequestMagic;
  std::uint8_t op = 0;
  std::uint8_t pad0 = 0;
  std::uint16_t name_length = 0;
  std::uint32_t field_count = 0;
  std::uint32_t pad1 = 0;
  std::uint64_t request_id = 0;
  std::uint64_t object = 0;
  std::uint64_t caller = 0;  // the calling thread, for locks that have owners
};

struct ReplyHeader {
  std::uint32_t magic = kReplyMagic;
  std::uint8_t status = 0;
  std::uint8_t pad0 = 0;
  std::uint16_t pad1 = 0;
  std::uint32_t field_count = 0;
  std::uint32_t pad2 = 0;
  std::uint64_t request_id = 0;
};

// A decoded request: views into the payload it was decoded from.
struct Request {
  Op op = Op::kPing;
  std::uint64_t request_id = 0;
  std::uint64_t object = 0;
  std::uint64_t caller = 0;
  std::string_view name;
  std::vector<std::string_view> fields;
};

struct Reply {
  Status status = Status::kOk;
  std::uint64_t request_id = 0;
  std::vector<std::string_view> fields;
};

// Appends a frame (length prefix included) to `out`.
class FrameWriter {
 public:
  explicit FrameWriter(std::string& out) : out_(out), start_(out.size()) {
    out_.append(sizeof(std::uint64_t), '\0');
  }
  void header(const void* h, std::size_t size) { out_.append(static_cast<const char*>(h), size); }
  void bytes(std::string_view b) { out_.append(b); }
  void field(std::string_view f) {
    std::uint64_t n = f.size();
    out_.append(reinterpret_cast<const char*>(&n), sizeof n);
    out_.append(f);
  }
  // Writes the length prefix.
  void finish() {
    std::uint64_t n = out_.size() - start_ - sizeof(std::uint64_t);
    std::memcpy(out_.data() + start_, &n, sizeof n);
  }

 private:
  std::string& out_;
  std::size_t start_;
};

// The next frame in `buffered` (what a connection has received and not consumed yet), read
// as the server reads it: a length prefix over `limit` is refused as soon as its 8 bytes are
// in, before anything is allocated for the rest.
struct FrameScan {
  enum class State {
    kNeedMore,  // no whole frame yet: `size` bytes are needed (8 while the prefix is cut off)
    kFrame,     // a whole frame: `payload`, which with its prefix takes `size` bytes
    kTooLarge,  // the prefix declares `length` bytes, over the limit
  };
  State state = State::kNeedMore;
  std::uint64_t length = 0;  // the declared length, once the prefix is in
  std::size_t size = sizeof(std::uint64_t);
  std::string_view payload;
};
FrameScan scan_frame(std::string_view buffered, std::size_t limit);

// Appends one request frame to `out`.
void encode_request(std::string& out, Op op, std::uint64_t request_id, std::uint64_t object,
                    std::uint64_t caller, std::string_view name,
                    const std::vector<std::string_view>& fields);
// Appends one reply frame to `out`.
void encode_reply(std::string& out, Status status, std::uint64_t request_id,
                  const std::vector<std::string_view>& fields);

// Decodes a request payload (the frame without its length). Returns "" and fills `out`, or
// the reason the payload is not a valid request.
std::string decode_request(std::string_view payload, Request& out);
// The same for a reply.
std::string decode_reply(std::string_view payload, Reply& out);

// Scalars travel as their 8 bytes.
inline std::string_view scalar_bytes(const std::uint64_t& v) {
  return {reinterpret_cast<const char*>(&v), sizeof v};
}

}  // namespace mp::detail::wire

namespace mp::detail::wire {

// A list of byte strings in one field: each as a u64 length and its bytes (dict items, a
// list's elements: more than kMaxFields of them).
inline void pack_into(std::string& out, std::string_view element) {
  std::uint64_t n = element.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(element);
}

// The elements of a packed field; false if it is not one.
inline bool unpack(std::string_view packed, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t at = 0;
  while (at < packed.size()) {
    std::uint64_t n = 0;
    if (packed.size() - at < sizeof n) return false;
    std::memcpy(&n, packed.data() + at, sizeof n);
    at += sizeof n;
    if (n > packed.size() - at) return false;
    out.push_back(packed.substr(at, static_cast<std::size_t>(n)));
    at += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace mp::detail::wire
