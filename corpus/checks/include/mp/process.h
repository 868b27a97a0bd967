// Minimal declarations mirroring docs/api-contract.md (mp/process.h).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace mp {

void init(int argc, char** argv);

enum class StartMethod { kFork, kSpawn, kThread };
void set_start_method(std::string_view name);
void set_start_method(StartMethod method);

// A start method chosen at run time (get_context("spawn")).
class Context {
 public:
  explicit Context(StartMethod method) noexcept;
};
Context get_context(std::string_view name = {});

struct ProcessOptions {
  std::string name;
  std::optional<bool> daemon;
};

class Process {
 public:
  template <class F, class... Args>
  explicit Process(F target, Args... args);
  template <class F, class... Args>
  Process(ProcessOptions options, F target, Args... args);
  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;
  ~Process();
  void start();
  bool join(double timeout = -1);
  bool is_alive() const;
  bool daemon() const;
  void set_daemon(bool daemon);
  void terminate();
  void kill();
  void close();
  int pid() const;
  std::optional<int> exitcode() const;
};

}  // namespace mp
