#include "mp/process.h"

namespace mp {
void init(int, char**) {}
}  // namespace mp
