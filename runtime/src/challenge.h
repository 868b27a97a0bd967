// Private to the runtime: the pieces of the authkey challenge (listener.cpp), for a server
// that runs the challenge without blocking (the manager's event loop, manager_server.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mp::detail {

inline constexpr std::string_view kChallenge = "#CHALLENGE#";
inline constexpr std::string_view kWelcome = "#WELCOME#";
inline constexpr std::string_view kFailure = "#FAILURE#";
inline constexpr std::string_view kDigestTag = "{sha256}";
inline constexpr std::size_t kChallengeBytes = 40;        // as Python's _MD5_DIGEST_LEN * 2.5
inline constexpr std::size_t kMaxHandshakeMessage = 256;  // as Python's recv_bytes(256)

// `n` bytes from the OS's random source. Errors: mp::ProcessError if it fails.
std::string random_bytes(std::size_t n);
// HMAC-SHA256 of `message` under `key`. Errors: mp::ProcessError if OpenSSL fails.
std::string hmac_sha256(std::string_view key, std::string_view message);
// Compares two digests in constant time.
bool digests_equal(std::string_view a, std::string_view b);

}  // namespace mp::detail
