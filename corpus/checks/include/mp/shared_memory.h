// Minimal declarations mirroring docs/api-contract.md (mp/shared_memory.h).
#pragma once
#include <cstddef>
#include <string>

namespace mp {

class SharedMemory {
 public:
  SharedMemory(const std::string& name, bool create, std::size_t size);
  std::string name() const;
  std::size_t size() const;
  void* buf();
  void close();
  void unlink();
};

}  // namespace mp
