#include "mp/serialize.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace mp {
namespace {

struct Point {
  int x;
  double y;
};

struct Person {
  std::string name;
  std::vector<int> scores;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, scores);
  }
  bool operator==(const Person&) const = default;
};

struct NotSerializable {
  std::string text;  // not trivially copyable, and no serialize function
};

static_assert(Serializable<int>);
static_assert(Serializable<Point>);
static_assert(Serializable<Person>);
static_assert(Serializable<std::map<std::string, std::vector<double>>>);
static_assert(!Serializable<NotSerializable>);
static_assert(!Serializable<int*>);
static_assert(!Serializable<std::string_view>);  // trivially copyable, but a pointer inside
static_assert(Serializable<std::tuple<Point, std::string, std::vector<Point>>>);
static_assert(!Serializable<std::tuple<int, NotSerializable>>);

TEST(Serialize, TriviallyCopyableIsItsBytes) {
  Point p{3, 4.5};
  std::string bytes = serialize(p);
  ASSERT_EQ(bytes.size(), sizeof(Point));
  Point q = deserialize<Point>(bytes);
  EXPECT_EQ(q.x, 3);
  EXPECT_EQ(q.y, 4.5);
}

TEST(Serialize, StringIsItsCharacters) {
  std::string s("a\0b", 3);
  EXPECT_EQ(serialize(s), s);
  EXPECT_EQ(deserialize<std::string>(s), s);
}

TEST(Serialize, VectorOfPlainBytesRoundTrips) {
  std::vector<int> v{1, 2, 3, 4};
  EXPECT_EQ(serialize(v).size(), 4 * sizeof(int));
  EXPECT_EQ(deserialize<std::vector<int>>(serialize(v)), v);
  EXPECT_TRUE(deserialize<std::vector<int>>(serialize(std::vector<int>{})).empty());
}

TEST(Serialize, StandardContainersRoundTrip) {
  std::map<std::string, std::vector<std::string>> m{{"a", {"x", "y"}}, {"b", {}}};
  EXPECT_EQ(deserialize<decltype(m)>(serialize(m)), m);
  std::tuple<int, std::string, std::optional<double>> t{1, "two", 3.0};
  EXPECT_EQ(deserialize<decltype(t)>(serialize(t)), t);
  std::optional<std::string> none;
  EXPECT_EQ(deserialize<std::optional<std::string>>(serialize(none)), none);
}

TEST(Serialize, UserTypeWithSerializeRoundTrips) {
  Person p{"ada", {90, 95}};
  EXPECT_EQ(deserialize<Person>(serialize(p)), p);
}

TEST(Serialize, WrongSizeForPlainBytesThrows) {
  EXPECT_THROW(deserialize<Point>("abc"), std::length_error);
}

// Arguments of a spawn target or a pool task travel as a tuple: plain structs that cereal
// knows nothing of must work inside it, as they do alone.
TEST(Serialize, TupleOfPlainStructsAndCerealTypesRoundTrips) {
  std::tuple<Point, std::string, std::vector<Point>, Person> in{
      Point{1, 2.5}, "text", {Point{3, 4.5}, Point{5, 6.5}}, Person{"someone", {1, 2}}};
  auto out = deserialize<decltype(in)>(serialize(in));
  EXPECT_EQ(std::get<0>(out).x, 1);
  EXPECT_EQ(std::get<0>(out).y, 2.5);
  EXPECT_EQ(std::get<1>(out), "text");
  ASSERT_EQ(std::get<2>(out).size(), 2u);
  EXPECT_EQ(std::get<2>(out)[1].x, 5);
  EXPECT_EQ(std::get<3>(out), (Person{"someone", {1, 2}}));
}

TEST(Serialize, TruncatedTupleThrows) {
  std::string bytes = serialize(std::tuple<Point, std::string>{Point{1, 2}, "some text"});
  bytes.resize(bytes.size() - 4);
  EXPECT_THROW((deserialize<std::tuple<Point, std::string>>(bytes)), cereal::Exception);
}

TEST(Serialize, TruncatedCerealInputThrows) {
  std::string bytes = serialize(Person{"someone", {1, 2, 3}});
  bytes.resize(bytes.size() / 2);
  EXPECT_THROW(deserialize<Person>(bytes), cereal::Exception);
}

}  // namespace
}  // namespace mp
