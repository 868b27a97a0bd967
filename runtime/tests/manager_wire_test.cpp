// The manager's wire format: wire::scan_frame cuts a stream as the server does, and the
// fuzzer's checks (runtime/fuzz/manager_message_check.h) hold for its seed corpus and for
// every input it ever found — the regression suite of manager_message_fuzzer, run with the
// ordinary tests. The seeds are what the encoder makes, checked in; a change of format shows
// here first (regenerate them with IPCHECK_WRITE_FUZZ_SEEDS=1 manager_wire_test).
#include <dirent.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "manager_message_check.h"
#include "mp/detail/manager_wire.h"

namespace mp {
namespace {

namespace wire = detail::wire;

const std::string kFuzzDir = IPCHECK_FUZZ_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    ::closedir(d);
  }
  return out;
}

std::string packed(const std::vector<std::string>& elements) {
  std::string out;
  for (const auto& e : elements) wire::pack_into(out, e);
  return out;
}

// The seeds: one stream of frames each, of every operation and both kinds of reply.
std::map<std::string, std::string> seeds() {
  std::map<std::string, std::string> s;
  std::string k = "\x03\0\0\0", v = std::string("\x05\0\0\0\0\0\0\0hello", 13);
  wire::encode_request(s["call_setitem"], wire::Op::kCall, 1, 1, 7, "__setitem__", {k, v});
  wire::encode_request(s["call_getitem"], wire::Op::kCall, 2, 1, 7, "__getitem__", {k});
  std::string update = packed({k, v, "k2", "v2"});
  wire::encode_request(s["call_update_packed"], wire::Op::kCall, 3, 1, 7, "update", {update});
  std::string& creates = s["creates"];
  wire::encode_request(creates, wire::Op::kCreate, 4, 0, 7, "dict", {});
  wire::encode_request(creates, wire::Op::kCreate, 5, 0, 7, "Array", {packed({"a", "b"})});
  std::string& refs = s["ping_info_refs_shutdown"];
  wire::encode_request(refs, wire::Op::kPing, 6, 0, 7, "", {});
  wire::encode_request(refs, wire::Op::kInfo, 7, 0, 7, "", {});
  wire::encode_request(refs, wire::Op::kIncref, 8, 2, 7, "", {});
  wire::encode_request(refs, wire::Op::kDecref, 9, 2, 7, "", {});
  wire::encode_request(refs, wire::Op::kShutdown, 10, 0, 7, "", {});
  std::vector<std::string> many(wire::kMaxFields, "x");
  std::vector<std::string_view> many_views(many.begin(), many.end());
  wire::encode_request(s["call_most_fields_longest_name"], wire::Op::kCall, 11, 1, 7,
                       std::string(wire::kMaxName, 'n'), many_views);
  double timeout = 0.5;
  std::string t(reinterpret_cast<const char*>(&timeout), sizeof timeout);
  wire::encode_request(s["call_queue_get"], wire::Op::kCall, 12, 3, 7, "get", {"\x01", t});
  wire::encode_reply(s["reply_ok"], wire::Status::kOk, 1, {v, packed({"a", "bc"})});
  wire::encode_reply(s["reply_error"], wire::Status::kError, 2,
                     {"KeyError", "the key is not in the dict"});
  wire::FrameWriter challenge(s["handshake_challenge"]);
  challenge.bytes("#CHALLENGE#{sha256}" + std::string(40, '\x5a'));
  challenge.finish();
  return s;
}

TEST(ManagerWire, TheSeedCorpusIsWhatTheEncoderMakes) {
  const std::string dir = kFuzzDir + "/corpus/manager_message";
  bool write = std::getenv("IPCHECK_WRITE_FUZZ_SEEDS") != nullptr;
  for (const auto& [name, bytes] : seeds()) {
    const std::string path = dir + "/" + name;
    if (write) std::ofstream(path, std::ios::binary) << bytes;
    EXPECT_EQ(read_file(path), bytes) << path << " is not what the encoder makes now";
  }
  EXPECT_EQ(files_in(dir).size(), seeds().size()) << "a seed in " << dir << " is made by no code";
}

TEST(ManagerWire, EverySeedRequestDecodes) {
  for (const auto& [name, bytes] : seeds()) {
    if (name.rfind("reply_", 0) == 0 || name.rfind("handshake_", 0) == 0) continue;
    std::string_view rest = bytes;
    int frames = 0;
    for (;;) {
      wire::FrameScan f = wire::scan_frame(rest, std::size_t{1} << 28);
      if (f.state != wire::FrameScan::State::kFrame) break;
      wire::Request r;
      EXPECT_EQ(wire::decode_request(f.payload, r), "") << name;
      rest.remove_prefix(f.size);
      ++frames;
    }
    EXPECT_TRUE(rest.empty()) << name;
    EXPECT_GT(frames, 0) << name;
  }
}

// The fuzzer's checks on its seeds and on every input it found (regressions/: a crash, a
// sanitizer report or a failed check, each kept after its fix).
TEST(ManagerWire, TheFuzzersFindingsAndSeedsPassItsChecks) {
  int n = 0;
  for (const char* sub : {"/corpus/manager_message", "/regressions/manager_message"}) {
    for (const auto& path : files_in(kFuzzDir + sub)) {
      SCOPED_TRACE(path);
      fuzz::check_manager_bytes(read_file(path));  // aborts with the reason if one fails
      ++n;
    }
  }
  EXPECT_GE(n, static_cast<int>(seeds().size()));
}

TEST(ManagerWire, ScanFrameRefusesAnOversizedPrefixBeforeItsPayloadArrives) {
  std::string prefix(8, '\0');
  std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(prefix.data(), &huge, 8);
  wire::FrameScan f = wire::scan_frame(prefix, 256);
  EXPECT_EQ(f.state, wire::FrameScan::State::kTooLarge);
  EXPECT_EQ(f.length, huge);
  std::uint64_t max = ~std::uint64_t{0};
  std::memcpy(prefix.data(), &max, 8);
  EXPECT_EQ(wire::scan_frame(prefix, std::size_t{1} << 28).state,
            wire::FrameScan::State::kTooLarge);
}

TEST(ManagerWire, ScanFrameWaitsForTheRestOfAFrame) {
  EXPECT_EQ(wire::scan_frame("", 256).state, wire::FrameScan::State::kNeedMore);
  EXPECT_EQ(wire::scan_frame("", 256).size, 8u);
  std::string frame;
  wire::FrameWriter w(frame);
  w.bytes("payload");
  w.finish();
  wire::FrameScan cut = wire::scan_frame(std::string_view(frame).substr(0, 10), 256);
  EXPECT_EQ(cut.state, wire::FrameScan::State::kNeedMore);
  EXPECT_EQ(cut.size, frame.size());
  const std::string stream = frame + "next";  // the payload is a view into it
  wire::FrameScan whole = wire::scan_frame(stream, 256);
  EXPECT_EQ(whole.state, wire::FrameScan::State::kFrame);
  EXPECT_EQ(whole.payload, "payload");
  EXPECT_EQ(whole.size, frame.size());
  // At the limit exactly: a frame; one byte over: refused.
  EXPECT_EQ(wire::scan_frame(frame, 7).state, wire::FrameScan::State::kFrame);
  EXPECT_EQ(wire::scan_frame(frame, 6).state, wire::FrameScan::State::kTooLarge);
}

}  // namespace
}  // namespace mp
