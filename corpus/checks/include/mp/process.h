// Minimal declarations mirroring docs/api-contract.md (mp/process.h).
#pragma once
#include <optional>

namespace mp {

void init(int argc, char** argv);

class Process {
 public:
  template <class F, class... Args>
  explicit Process(F target, Args... args);
  void start();
  void join(double timeout = -1);
  bool is_alive() const;
  void terminate();
  void kill();
  void close();
  int pid() const;
  std::optional<int> exitcode() const;
};

}  // namespace mp
