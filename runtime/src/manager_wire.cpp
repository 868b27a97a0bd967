// The manager's messages: encoding and the validating decoders (mp/detail/manager_wire.h).
#include "mp/detail/manager_wire.h"

#include <cctype>

namespace mp::detail::wire {
namespace {

// Reads the fields after `at`, checking each length against what is left.
std::string decode_fields(std::string_view payload, std::size_t at, std::uint32_t count,
                          std::vector<std::string_view>& out) {
  if (count > kMaxFields)
    return "a message with " + std::to_string(count) + " fields (at most " +
           std::to_string(kMaxFields) + ")";
  out.clear();
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint64_t length = 0;
    if (payload.size() - at < sizeof length)
      return "field " + std::to_string(i) + " is cut off before its length";
    std::memcpy(&length, payload.data() + at, sizeof length);
    at += sizeof length;
    if (length > payload.size() - at)
      return "field " + std::to_string(i) + " claims " + std::to_string(length) + " bytes where " +
             std::to_string(payload.size() - at) + " are left";
    out.push_back(payload.substr(at, static_cast<std::size_t>(length)));
    at += static_cast<std::size_t>(length);
  }
  if (at != payload.size())
    return std::to_string(payload.size() - at) + " bytes after the last field";
  return {};
}

bool is_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '.' && c != ':') return false;
  }
  return true;
}

}  // namespace

FrameScan scan_frame(std::string_view buffered, std::size_t limit) {
  FrameScan scan;
  if (buffered.size() < sizeof scan.length) return scan;
  std::memcpy(&scan.length, buffered.data(), sizeof scan.length);
  if (scan.length > limit) {
    scan.state = FrameScan::State::kTooLarge;
    return scan;
  }
  // length <= limit, a size_t: the sum cannot overflow.
  scan.size = sizeof scan.length + static_cast<std::size_t>(scan.length);
  if (buffered.size() < scan.size) return scan;
  scan.state = FrameScan::State::kFrame;
  scan.payload = buffered.substr(sizeof scan.length, static_cast<std::size_t>(scan.length));
  return scan;
}

void encode_request(std::string& out, Op op, std::uint64_t request_id, std::uint64_t object,
                    std::uint64_t caller, std::string_view name,
                    const std::vector<std::string_view>& fields) {
  RequestHeader h;
  h.op = static_cast<std::uint8_t>(op);
  h.name_length = static_cast<std::uint16_t>(name.size());
  h.field_count = static_cast<std::uint32_t>(fields.size());
  h.request_id = request_id;
  h.object = object;
  h.caller = caller;
  FrameWriter w(out);
  w.header(&h, sizeof h);
  w.bytes(name);
  for (std::string_view f : fields) w.field(f);
  w.finish();
}

void encode_reply(std::string& out, Status status, std::uint64_t request_id,
                  const std::vector<std::string_view>& fields) {
  ReplyHeader h;
  h.status = static_cast<std::uint8_t>(status);
  h.field_count = static_cast<std::uint32_t>(fields.size());
  h.request_id = request_id;
  FrameWriter w(out);
  w.header(&h, sizeof h);
  for (std::string_view f : fields) w.field(f);
  w.finish();
}

std::string decode_request(std::string_view payload, Request& out) {
  RequestHeader h;
  if (payload.size() < sizeof h)
    return "a request of " + std::to_string(payload.size()) + " bytes (its header alone is " +
           std::to_string(sizeof h) + ")";
  std::memcpy(&h, payload.data(), sizeof h);
  if (h.magic != kRequestMagic) return "not a manager request (bad magic number)";
  if (h.op == 0 || h.op > kMaxOp) return "unknown operation " + std::to_string(h.op);
  if (h.name_length > kMaxName)
    return "a name of " + std::to_string(h.name_length) + " bytes (at most " +
           std::to_string(kMaxName) + ")";
  if (h.name_length > payload.size() - sizeof h) return "the name is cut off";
  out.op = static_cast<Op>(h.op);
  out.request_id = h.request_id;
  out.object = h.object;
  out.caller = h.caller;
  out.name = payload.substr(sizeof h, h.name_length);
  if (!out.name.empty() && !is_name(out.name))
    return "a name with characters other than letters, digits, '_', '.' and ':'";
  if ((out.op == Op::kCall || out.op == Op::kCreate) && out.name.empty())
    return "a call or create without a name";
  return decode_fields(payload, sizeof h + h.name_length, h.field_count, out.fields);
}

std::string decode_reply(std::string_view payload, Reply& out) {
  ReplyHeader h;
  if (payload.size() < sizeof h) return "a reply shorter than its header";
  std::memcpy(&h, payload.data(), sizeof h);
  if (h.magic != kReplyMagic) return "not a manager reply (bad magic number)";
  if (h.status > static_cast<std::uint8_t>(Status::kError))
    return "unknown reply status " + std::to_string(h.status);
  out.status = static_cast<Status>(h.status);
  out.request_id = h.request_id;
  std::string why = decode_fields(payload, sizeof h, h.field_count, out.fields);
  if (why.empty() && out.status == Status::kError && out.fields.size() != 2)
    return "an error reply without a type and a message";
  return why;
}

}  // namespace mp::detail::wire
