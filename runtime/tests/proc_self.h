// What /proc says about this process and its children, for tests that check that nothing is
// left behind (descriptors, zombies).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace mp::testing_proc {

// How many descriptors this process has open now.
inline int open_descriptor_count() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// The state letter of `pid` in /proc/<pid>/stat ('R', 'S', 'T' stopped, 'Z' zombie...), or
// '?' if it is gone.
inline char process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return '?';  // gone
  auto close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 ? line[close + 2] : '?';
}

// Whether `pid` is a zombie: exited, not yet reaped by its parent.
inline bool is_zombie(pid_t pid) { return process_state(pid) == 'Z'; }

// Whether `pid` has exited: gone, or a zombie.
inline bool has_exited(pid_t pid) {
  return !std::filesystem::exists("/proc/" + std::to_string(pid)) || is_zombie(pid);
}

}  // namespace mp::testing_proc
