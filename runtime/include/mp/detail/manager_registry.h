// mp/detail/manager_registry.h — what a manager's server can make and run besides its
// built-in types: the types of BaseManager::register_type and the functions of
// BaseManager::register_function, as type-erased trampolines. The server finds them by name;
// a spawned server finds the trampolines by their place in the binary (as spawn targets).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/spawn.h"
#include "mp/serialize.h"

namespace mp::detail::manager {

// Makes an object: from the bytes of an initial value, or default-constructed (nullptr).
using MakeFn = void* (*)(const std::string_view* initial);
using DestroyFn = void (*)(void* object);
// Calls a method with serialized arguments; returns its serialized result ("" for void).
using MethodFn = std::string (*)(void* object, std::string_view args);
// Applies an update function to a stored value (nullptr: there is none yet, the function
// gets a default-constructed one) with serialized extra arguments; returns the new value.
using UpdateFn = std::string (*)(const std::string_view* current, std::string_view args);

struct MethodSpec {
  std::string name;
  MethodFn fn = nullptr;
};

struct TypeSpec {
  std::string name;
  MakeFn make = nullptr;
  DestroyFn destroy = nullptr;
  std::vector<MethodSpec> methods;
};

struct FunctionSpec {
  std::string name;
  UpdateFn fn = nullptr;
};

struct Registry {
  std::vector<TypeSpec> types;
  std::vector<FunctionSpec> functions;
};

template <class T>
void* make_object(const std::string_view* initial) {
  if constexpr (Serializable<T>) {
    if (initial != nullptr) return new T(mp::deserialize<T>(*initial));
  }
  return new T();
}

template <class T>
void destroy_object(void* object) {
  delete static_cast<T*>(object);
}

template <class M>
struct MemberTraits;
template <class R, class C, class... P>
struct MemberTraits<R (C::*)(P...)> {
  using Class = C;
  using Return = R;
  using Arguments = std::tuple<std::decay_t<P>...>;
};
template <class R, class C, class... P>
struct MemberTraits<R (C::*)(P...) const> : MemberTraits<R (C::*)(P...)> {};
template <class R, class C, class... P>
struct MemberTraits<R (C::*)(P...) noexcept> : MemberTraits<R (C::*)(P...)> {};
template <class R, class C, class... P>
struct MemberTraits<R (C::*)(P...) const noexcept> : MemberTraits<R (C::*)(P...)> {};

template <auto M>
std::string call_method(void* object, std::string_view args) {
  using Traits = MemberTraits<decltype(M)>;
  using C = typename Traits::Class;
  auto values = mp::deserialize<typename Traits::Arguments>(args);
  auto* self = static_cast<C*>(object);
  if constexpr (std::is_void_v<typename Traits::Return>) {
    std::apply([&](auto&... a) { (self->*M)(std::move(a)...); }, values);
    return {};
  } else {
    return mp::serialize(
        std::apply([&](auto&... a) { return (self->*M)(std::move(a)...); }, values));
  }
}

// V f(V current, Extra... extra): the shape of an update function.
template <class P>
struct UpdateTraits;
template <class R, class V, class... Extra>
struct UpdateTraits<R (*)(V, Extra...)> {
  using Value = std::decay_t<V>;
  using Arguments = std::tuple<std::decay_t<Extra>...>;
  static constexpr bool kValid = std::is_same_v<std::decay_t<R>, Value>;
};
template <class R, class V, class... Extra>
struct UpdateTraits<R (*)(V, Extra...) noexcept> : UpdateTraits<R (*)(V, Extra...)> {};

template <auto F>
std::string apply_update(const std::string_view* current, std::string_view args) {
  using Traits = UpdateTraits<decltype(F)>;
  using V = typename Traits::Value;
  V value = current != nullptr ? mp::deserialize<V>(*current) : V{};
  auto extra = mp::deserialize<typename Traits::Arguments>(args);
  return mp::serialize(std::apply(
      [&](auto&... a) { return static_cast<V>(F(std::move(value), std::move(a)...)); }, extra));
}

}  // namespace mp::detail::manager
