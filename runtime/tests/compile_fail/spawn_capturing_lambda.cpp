// Must not compile: a lambda with captures as the target of a spawn context known at compile
// time. The spawned child is a fresh image and cannot see the parent's captures.
#include "mp/process.h"

int main() {
  int captured = 3;
  auto p = mp::get_context(mp::kSpawn).Process([captured] { (void)captured; });
  p.start();
}
