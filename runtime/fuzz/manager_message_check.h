// What must hold for any bytes a manager connection receives (the body of the libFuzzer
// target manager_message_fuzzer, and of the regression test that replays its findings).
//
// The bytes are read as the server reads a connection's stream — frames cut by
// wire::scan_frame under the limit before authentication (256 bytes) and after it (the
// default 256 MiB) — and every whole frame is given to the decoders the server and the
// client use: decode_request, decode_reply, and unpack on each field. Under ASan and UBSan
// none of them may read out of bounds, overflow or crash; and whatever a decoder accepts
// must encode back to the same bytes (the padding left zero) and decode again to the same
// values: a decoder that accepts a message must have understood all of it.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "mp/detail/manager_wire.h"

namespace mp::fuzz {

[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "manager message check failed: %s\n", what);
  std::abort();
}

inline void expect(bool ok, const char* what) {
  if (!ok) violated(what);
}

// `view` lies inside `whole`.
inline bool inside(std::string_view view, std::string_view whole) {
  return view.empty() ||
         (view.data() >= whole.data() && view.data() + view.size() <= whole.data() + whole.size());
}

inline void zero(std::string& bytes, std::size_t at, std::size_t n) {
  if (at + n <= bytes.size()) std::memset(bytes.data() + at, 0, n);
}

inline void check_request(std::string_view payload) {
  namespace wire = detail::wire;
  wire::Request r;
  if (!wire::decode_request(payload, r).empty()) return;  // refused: the server drops it
  expect(inside(r.name, payload), "the request's name lies inside the payload");
  for (std::string_view f : r.fields) expect(inside(f, payload), "a field lies inside the payload");
  expect(r.fields.size() <= wire::kMaxFields, "at most kMaxFields fields");
  expect(r.name.size() <= wire::kMaxName, "a name of at most kMaxName bytes");
  std::string again;
  wire::encode_request(again, r.op, r.request_id, r.object, r.caller, r.name, r.fields);
  std::string expected(payload);
  zero(expected, offsetof(wire::RequestHeader, pad0), sizeof(wire::RequestHeader::pad0));
  zero(expected, offsetof(wire::RequestHeader, pad1), sizeof(wire::RequestHeader::pad1));
  expect(std::string_view(again).substr(sizeof(std::uint64_t)) == expected,
         "an accepted request encodes back to its own bytes");
  wire::Request r2;
  expect(wire::decode_request(std::string_view(again).substr(sizeof(std::uint64_t)), r2).empty(),
         "a re-encoded request decodes");
  expect(r2.op == r.op && r2.request_id == r.request_id && r2.object == r.object &&
             r2.caller == r.caller && r2.name == r.name && r2.fields == r.fields,
         "a re-encoded request decodes to the same values");
  std::vector<std::string_view> elements;
  for (std::string_view f : r.fields)
    if (wire::unpack(f, elements))
      for (std::string_view e : elements) expect(inside(e, f), "an element lies inside its field");
}

inline void check_reply(std::string_view payload) {
  namespace wire = detail::wire;
  wire::Reply r;
  if (!wire::decode_reply(payload, r).empty()) return;  // refused: the client gives up
  for (std::string_view f : r.fields) expect(inside(f, payload), "a field lies inside the payload");
  if (r.status == wire::Status::kError) expect(r.fields.size() == 2, "an error has two fields");
  std::string again;
  wire::encode_reply(again, r.status, r.request_id, r.fields);
  std::string expected(payload);
  zero(expected, offsetof(wire::ReplyHeader, pad0), sizeof(wire::ReplyHeader::pad0));
  zero(expected, offsetof(wire::ReplyHeader, pad1), sizeof(wire::ReplyHeader::pad1));
  zero(expected, offsetof(wire::ReplyHeader, pad2), sizeof(wire::ReplyHeader::pad2));
  expect(std::string_view(again).substr(sizeof(std::uint64_t)) == expected,
         "an accepted reply encodes back to its own bytes");
  std::vector<std::string_view> elements;
  for (std::string_view f : r.fields)
    if (wire::unpack(f, elements))
      for (std::string_view e : elements) expect(inside(e, f), "an element lies inside its field");
}

// The frames of `stream` under `limit`, each checked as a request and as a reply.
inline void check_stream(std::string_view stream, std::size_t limit) {
  namespace wire = detail::wire;
  while (true) {
    wire::FrameScan frame = wire::scan_frame(stream, limit);
    if (frame.state != wire::FrameScan::State::kFrame) {
      if (frame.state == wire::FrameScan::State::kTooLarge)
        expect(frame.length > limit, "only a length over the limit is too large");
      else
        expect(frame.size > stream.size(), "more is needed only when it is not there");
      return;
    }
    expect(
        frame.size == sizeof(std::uint64_t) + frame.payload.size() && frame.size <= stream.size(),
        "a frame is its prefix and payload, inside the stream");
    expect(frame.payload.size() <= limit, "a frame is at most the limit");
    check_request(frame.payload);
    check_reply(frame.payload);
    stream.remove_prefix(frame.size);
  }
}

// Everything above for one input.
inline void check_manager_bytes(std::string_view bytes) {
  check_stream(bytes, 256);                   // before authentication
  check_stream(bytes, std::size_t{1} << 28);  // after: the default ManagerOptions::max_message
  check_request(bytes);                       // the input as one payload too
  check_reply(bytes);
}

}  // namespace mp::fuzz
