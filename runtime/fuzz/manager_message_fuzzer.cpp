// libFuzzer target: the manager's message decoders, given any bytes as a connection's
// stream (see manager_message_check.h for what must hold). Built by the `fuzz` preset;
// `./run fuzz` runs it for a bounded time from the seeds in corpus/manager_message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "manager_message_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mp::fuzz::check_manager_bytes(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
