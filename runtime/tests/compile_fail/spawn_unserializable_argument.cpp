// Must not compile: a spawn target whose argument cannot be serialized (not trivially copyable,
// and no cereal function says how to write it down for a fresh image).
#include <string>

#include "mp/process.h"

struct Record {
  std::string name;
};

void target(Record) {}

int main() {
  auto p = mp::get_context(mp::kSpawn).Process(target, Record{"x"});
  p.start();
}
