// The start methods as GoogleTest types, for typed tests that run under each of them:
//
//   template <class Mode> class MyTest : public mp::testing_modes::ModeTest<Mode> {};
//   TYPED_TEST_SUITE(MyTest, mp::testing_modes::AllModes, mp::testing_modes::ModeNames);
//   TYPED_TEST(MyTest, Works) { auto p = this->ctx().Process(f); ... }
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

#include "mp/process.h"

namespace mp::testing_modes {

struct Fork {
  static constexpr auto kTag = kFork;
};
struct Spawn {
  static constexpr auto kTag = kSpawn;
};
struct Thread {
  static constexpr auto kTag = kThread;
};
struct Forkserver {
  static constexpr auto kTag = kForkserver;
};

// Test names: Suite/Fork, Suite/Spawn, Suite/Thread, Suite/Forkserver.
struct ModeNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, Fork>) return "Fork";
    if constexpr (std::is_same_v<T, Spawn>) return "Spawn";
    if constexpr (std::is_same_v<T, Forkserver>) return "Forkserver";
    return "Thread";
  }
};

using AllModes = testing::Types<Fork, Spawn, Thread, Forkserver>;
// A thread cannot be killed alone: tests that kill a child run under these.
using ProcessModes = testing::Types<Fork, Spawn, Forkserver>;
// Spawn and forkserver children are fresh images of the program: plain-function targets,
// serialized arguments.
template <class Mode>
inline constexpr bool kFreshImage = std::is_same_v<Mode, Spawn> || std::is_same_v<Mode, Forkserver>;

template <class Mode>
class ModeTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
};

}  // namespace mp::testing_modes
