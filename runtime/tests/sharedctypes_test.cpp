// mp::Value, mp::Array, mp::RawValue, mp::RawArray under every start method (CPython's
// test_multiprocessing sharedctypes behaviours, and the locked counter of issue 2).
#include "mp/sharedctypes.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mp/process.h"

namespace mp {
namespace {

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
struct ModeNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, Fork>) return "Fork";
    if constexpr (std::is_same_v<T, Spawn>) return "Spawn";
    if constexpr (std::is_same_v<T, Forkserver>) return "Forkserver";
    return "Thread";
  }
};
template <class Mode>
class SharedctypesTest : public testing::Test {
 public:
  static constexpr auto ctx() { return get_context(Mode::kTag); }
};
using Modes = testing::Types<Fork, Spawn, Thread, Forkserver>;
TYPED_TEST_SUITE(SharedctypesTest, Modes, ModeNames);

struct Point {
  double x;
  double y;
};

void write_values(Value<int> i, Value<double> d, Value<Point> p, Array<long> a) {
  i.set(-7);
  d.value() = 2.5;
  p.set(Point{1.0, 2.0});
  for (std::size_t k = 0; k < a.size(); ++k) a[k] = static_cast<long>(k * k);
}

void increment_locked(Value<int> counter, int n) {
  for (int k = 0; k < n; ++k) {
    LockGuard guard(counter.get_lock());
    counter.value() += 1;
  }
}

void write_raw(RawValue<int> v, RawArray<char> a) {
  v.value() = 99;
  for (std::size_t k = 0; k < a.size(); ++k) a[k] = static_cast<char>('a' + k);
}

TYPED_TEST(SharedctypesTest, ValuesAndArrayWrittenInChildAreSeenByParent) {
  Value<int> i(1);
  Value<double> d(0.0);
  Value<Point> p(Point{0, 0});
  Array<long> a(10);
  auto child = this->ctx().Process(write_values, i, d, p, a);
  child.start();
  ASSERT_TRUE(child.join(30));
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_EQ(i.get(), -7);
  EXPECT_EQ(static_cast<double>(d.value()), 2.5);
  EXPECT_EQ(p.get().x, 1.0);
  EXPECT_EQ(p.get().y, 2.0);
  std::vector<long> expected;
  for (long k = 0; k < 10; ++k) expected.push_back(k * k);
  EXPECT_EQ(a.to_vector(), expected);
}

TYPED_TEST(SharedctypesTest, FourProcessesIncrementingUnderGetLockGiveExactly40000) {
  Value<int> counter(0);
  std::vector<Process> children;
  for (int k = 0; k < 4; ++k)
    children.push_back(this->ctx().Process(increment_locked, counter, 10000));
  for (auto& c : children) c.start();
  for (auto& c : children) {
    ASSERT_TRUE(c.join(60));
    EXPECT_EQ(c.exitcode(), 0);
  }
  EXPECT_EQ(counter.get(), 40000);
}

TYPED_TEST(SharedctypesTest, RawValueAndRawArrayWrittenInChildAreSeenByParent) {
  RawValue<int> v(0);
  RawArray<char> a(5);
  auto child = this->ctx().Process(write_raw, v, a);
  child.start();
  ASSERT_TRUE(child.join(30));
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_EQ(v.get(), 99);
  EXPECT_EQ(std::string(a.data(), a.size()), "abcde");
}

void set_seven(Value<int> v) { v.set(7); }

// An access under get_lock() skips locking (the caller holds the lock); one by anyone else
// still waits for the holder.
TYPED_TEST(SharedctypesTest, AccessOutsideTheHoldersGetLockWaitsForTheHolder) {
  Value<int> v(0);
  v.get_lock().lock();
  auto p = this->ctx().Process(set_seven, v);
  p.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(v.value(), 0);  // the child's set() has not got past the lock
  v.get_lock().unlock();
  ASSERT_TRUE(p.join(30));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(v.get(), 7);
}

TEST(Value, ProxyOperatorsReadThenWrite) {
  Value<int> v(5);
  auto ref = v.value();
  EXPECT_EQ(ref++, 5);
  EXPECT_EQ(v.get(), 6);
  EXPECT_EQ(static_cast<int>(++ref), 7);
  ref -= 2;
  EXPECT_EQ(v.get(), 5);
  ref *= 3;
  EXPECT_EQ(v.get(), 15);
  ref /= 5;
  EXPECT_EQ(v.get(), 3);
  EXPECT_EQ(ref--, 3);
  EXPECT_EQ(static_cast<int>(--ref), 1);
  Value<int> w(42);
  v.value() = w.value();  // copies the value, not the reference
  w.set(0);
  EXPECT_EQ(v.get(), 42);
}

TEST(Value, LockIsRecursiveSoLockedAccessesNestInsideGetLock) {
  Value<int> v(0);
  LockGuard guard(v.get_lock());
  v.value() += 1;
  v.set(v.get() + 1);
  EXPECT_EQ(v.get(), 2);
  EXPECT_TRUE(v.get_lock().is_mine());
}

TEST(Value, UnsynchronizedHasNoLock) {
  Value<int> v(3, no_lock);
  EXPECT_FALSE(v.synchronized());
  EXPECT_THROW((void)v.get_lock(), std::logic_error);
  v.value() += 4;
  EXPECT_EQ(v.get(), 7);
  Array<int> a(2, no_lock);
  EXPECT_THROW((void)a.get_lock(), std::logic_error);
  a[1] = 5;
  EXPECT_EQ(a.get(1), 5);
}

TEST(Array, IsZeroInitialisedAndBoundsChecked) {
  Array<double> a(4);
  EXPECT_EQ(a.size(), 4u);
  for (std::size_t k = 0; k < a.size(); ++k) EXPECT_EQ(a.get(k), 0.0);
  EXPECT_THROW((void)a.get(4), std::out_of_range);
  EXPECT_THROW(a.set(4, 1.0), std::out_of_range);
  EXPECT_THROW((void)a[7], std::out_of_range);
  Array<int> b{1, 2, 3};
  EXPECT_EQ(b.to_vector(), (std::vector<int>{1, 2, 3}));
  b[0] += 10;
  EXPECT_EQ(b.get(0), 11);
  Array<std::array<char, 8>> names(2);
  names.set(1, std::array<char, 8>{'m', 'p'});
  EXPECT_EQ(names.get(1)[1], 'p');
}

TEST(RawArray, CheckedAccessors) {
  RawArray<int> a(3);
  a.set(2, 4);
  EXPECT_EQ(a[2], 4);
  EXPECT_THROW((void)a.get(3), std::out_of_range);
}

}  // namespace
}  // namespace mp
