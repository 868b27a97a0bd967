// The main of every property test: mp::init first, as every program that may spawn must.
#include <gtest/gtest.h>

#include "mp/process.h"

int main(int argc, char** argv) {
  mp::init(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
