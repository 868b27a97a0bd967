// mp/process.h — processes and start methods. (Being written: see issue 2.)
#pragma once

namespace mp {
// The main guard: call first in main. In a spawned child it runs the child's target and
// never returns.
void init(int argc, char** argv);
}  // namespace mp
