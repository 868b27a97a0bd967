// mp/serialize.h — turning objects into bytes and back, for pipes, queues and spawn.
//
//   mp::serialize(obj) -> std::string         the bytes of `obj`
//   mp::deserialize<T>(bytes) -> T            the object back
//   mp::Serializable<T>                       the concept both require
//
// The format is cereal's binary archive (host byte order: both ends run on one machine),
// with fast paths that skip cereal for the common top-level cases:
//   - a trivially copyable T without a cereal `serialize`/`save` of its own is its bytes
//     (memcpy), e.g. `int`, `double`, `struct Point { int x, y; }`;
//   - a `std::string` is its characters; a `std::vector<T>` of such trivially copyable T is
//     its elements' bytes;
//   - a `std::tuple` (a target's or a task's arguments) is its elements one after another in
//     one archive, each by the rules above, so `std::tuple<Point, std::string>` works although
//     cereal alone knows nothing of Point.
// Everything cereal supports works: the standard types below (their cereal headers are
// included here) and user types with a cereal `serialize(Archive&)` member or free function.
//
// A type that neither path can handle (a raw pointer, a lambda, a type without a cereal
// function) fails at compile time with a static_assert that says what to add.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstring>
#include <span>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace mp {

namespace detail {

// True if cereal has a serialize/save/load of its own for T (member or free function).
template <class T>
inline constexpr bool kHasCerealFunction =
    cereal::traits::has_member_serialize<T, cereal::BinaryOutputArchive>::value ||
    cereal::traits::has_non_member_serialize<T, cereal::BinaryOutputArchive>::value ||
    cereal::traits::has_member_save<T, cereal::BinaryOutputArchive>::value ||
    cereal::traits::has_non_member_save<T, cereal::BinaryOutputArchive>::value ||
    cereal::traits::has_member_versioned_serialize<T, cereal::BinaryOutputArchive>::value ||
    cereal::traits::has_non_member_versioned_serialize<T, cereal::BinaryOutputArchive>::value;

// Views are trivially copyable but their bytes are a pointer into this process.
template <class T>
inline constexpr bool kIsView = false;
template <class C, class Traits>
inline constexpr bool kIsView<std::basic_string_view<C, Traits>> = true;
template <class E, std::size_t N>
inline constexpr bool kIsView<std::span<E, N>> = true;

// Types whose bytes are their value: memcpy is exact and cereal adds nothing. (cereal's
// binary archive has save functions for arithmetic types, which are memcpy too.) A struct
// holding a pointer is trivially copyable too, and would travel as the pointer's bytes:
// give such a type a cereal serialize function.
template <class T>
inline constexpr bool kIsPlainBytes = std::is_arithmetic_v<T> || std::is_enum_v<T> ||
                                      (std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                                       !std::is_member_pointer_v<T> && !kIsView<T> &&
                                       !kHasCerealFunction<T>);

template <class T>
struct IsVectorOfPlainBytes : std::false_type {};
template <class T>
struct IsVectorOfPlainBytes<std::vector<T>> : std::bool_constant<kIsPlainBytes<T>> {};

template <class T>
struct IsTuple : std::false_type {};
template <class... Ts>
struct IsTuple<std::tuple<Ts...>> : std::true_type {};

template <class T>
inline constexpr bool kCerealCanSave =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value;
template <class T>
inline constexpr bool kCerealCanLoad =
    cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

// A streambuf appending to a std::string (no copy out of an ostringstream at the end).
class StringSink : public std::streambuf {
 public:
  explicit StringSink(std::string& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<char>(c));
    return c;
  }

 private:
  std::string& out_;
};

// A streambuf reading a string_view in place.
class ViewSource : public std::streambuf {
 public:
  explicit ViewSource(std::string_view in) {
    char* p = const_cast<char*>(in.data());  // never written: this buffer has no put area
    setg(p, p, p + in.size());
  }
};

template <class T>
constexpr void check_serializable() {
  static_assert(!kIsView<T>,
                "mp::serialize: a std::string_view or std::span points into this process's "
                "memory; send a std::string or a std::vector (Connection::send_bytes takes a "
                "view)");
  static_assert(!std::is_pointer_v<T>,
                "mp::serialize: a raw pointer means nothing in another process; send the "
                "pointed-to value, or a std::unique_ptr/std::shared_ptr to it");
  static_assert(kIsPlainBytes<T> || (kCerealCanSave<T> && kCerealCanLoad<T>),
                "mp::serialize: cereal cannot serialize this type; give it a member "
                "`template <class Archive> void serialize(Archive& ar) { ar(field1, field2); }` "
                "(or a free serialize/save+load), or include the cereal header of the "
                "standard type it uses");
}

template <class... Ts>
constexpr void check_serializable_elements(std::tuple<Ts...>*) {
  (check_serializable<Ts>(), ...);
}

// One element of a tuple, into or out of a cereal archive: plain bytes and vectors of them as
// binary data (cereal has no function for a user's trivially copyable struct), the rest by
// cereal.
template <class E>
void save_element(cereal::BinaryOutputArchive& archive, const E& e) {
  if constexpr (IsVectorOfPlainBytes<E>::value) {
    archive(cereal::make_size_tag(static_cast<cereal::size_type>(e.size())));
    archive(cereal::binary_data(e.data(), e.size() * sizeof(typename E::value_type)));
  } else if constexpr (kIsPlainBytes<E>) {
    archive(cereal::binary_data(&e, sizeof(E)));
  } else {
    archive(e);
  }
}

template <class E>
void load_element(cereal::BinaryInputArchive& archive, E& e) {
  if constexpr (IsVectorOfPlainBytes<E>::value) {
    cereal::size_type size = 0;
    archive(cereal::make_size_tag(size));
    e.resize(static_cast<std::size_t>(size));
    archive(cereal::binary_data(e.data(), e.size() * sizeof(typename E::value_type)));
  } else if constexpr (kIsPlainBytes<E>) {
    archive(cereal::binary_data(static_cast<void*>(&e), sizeof(E)));
  } else {
    archive(e);
  }
}

template <class T>
inline constexpr bool kElementsSerializable = false;

}  // namespace detail

// What mp::serialize and mp::deserialize accept: trivially copyable values (not pointers) and
// anything cereal's binary archives can save and load. Must be default-constructible to be
// deserialized (cereal's rule, and deserialize returns T by value).
// A tuple is Serializable when each of its elements is.
template <class T>
concept Serializable =
    !std::is_pointer_v<T> && !detail::kIsView<T> &&
    (detail::kIsPlainBytes<T> || detail::kElementsSerializable<T> ||
     (!detail::IsTuple<T>::value && detail::kCerealCanSave<T> && detail::kCerealCanLoad<T>));

namespace detail {
template <class... Ts>
inline constexpr bool kElementsSerializable<std::tuple<Ts...>> = (Serializable<Ts> && ...);
}  // namespace detail

// Appends the bytes of `obj` to `out`. Does not block. Errors: whatever the type's cereal
// functions throw (std::bad_alloc).
template <class T>
void serialize_into(const T& obj, std::string& out) {
  if constexpr (detail::IsTuple<T>::value) {
    detail::check_serializable_elements(static_cast<T*>(nullptr));
  } else {
    detail::check_serializable<T>();
  }
  if constexpr (std::is_same_v<T, std::string>) {
    out.append(obj);
  } else if constexpr (detail::IsVectorOfPlainBytes<T>::value) {
    out.append(reinterpret_cast<const char*>(obj.data()), obj.size() * sizeof(obj[0]));
  } else if constexpr (detail::kIsPlainBytes<T>) {
    out.append(reinterpret_cast<const char*>(&obj), sizeof(T));
  } else {
    detail::StringSink sink(out);
    std::ostream stream(&sink);
    cereal::BinaryOutputArchive archive(stream);
    if constexpr (detail::IsTuple<T>::value) {
      std::apply([&](const auto&... e) { (detail::save_element(archive, e), ...); }, obj);
    } else {
      archive(obj);
    }
  }
}

// The bytes of `obj`: see the file comment for the format. Does not block.
template <class T>
std::string serialize(const T& obj) {
  std::string out;
  serialize_into(obj, out);
  return out;
}

// The object whose bytes are `bytes`, as made by mp::serialize<T>. Does not block.
// Errors: cereal::Exception (a std::runtime_error) if `bytes` is too short for T; for a
// plain-bytes T, std::length_error if `bytes` is not exactly sizeof(T) long.
template <class T>
T deserialize(std::string_view bytes) {
  if constexpr (detail::IsTuple<T>::value) {
    detail::check_serializable_elements(static_cast<T*>(nullptr));
  } else {
    detail::check_serializable<T>();
  }
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(bytes);
  } else if constexpr (detail::IsVectorOfPlainBytes<T>::value) {
    using E = typename T::value_type;
    if (bytes.size() % sizeof(E) != 0)
      throw std::length_error("mp::deserialize: byte count is not a multiple of the element size");
    T out(bytes.size() / sizeof(E));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  } else if constexpr (detail::kIsPlainBytes<T>) {
    if (bytes.size() != sizeof(T))
      throw std::length_error("mp::deserialize: message size is not the size of the type");
    T out;
    std::memcpy(static_cast<void*>(&out), bytes.data(), sizeof(T));
    return out;
  } else {
    detail::ViewSource source(bytes);
    std::istream stream(&source);
    cereal::BinaryInputArchive archive(stream);
    T out{};
    if constexpr (detail::IsTuple<T>::value) {
      std::apply([&](auto&... e) { (detail::load_element(archive, e), ...); }, out);
    } else {
      archive(out);
    }
    return out;
  }
}

}  // namespace mp
