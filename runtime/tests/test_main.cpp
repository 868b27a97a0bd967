#include <gtest/gtest.h>

#include "mp/process.h"

int main(int argc, char** argv) {
  mp::init(argc, argv);  // in a spawned child: runs the child's target and never returns
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
