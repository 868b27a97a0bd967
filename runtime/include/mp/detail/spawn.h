// mp/detail/spawn.h — how a Process's target and arguments are carried to the child.
//
//   Target          a type-erased "call target(args...)" owned by a Process
//   BoundTarget     the Target for one callable and its (decayed) arguments
//   SpawnTarget     what a spawned child needs: the function, its trampoline, the argument bytes
//   run_target      the per-signature trampoline that a spawned child calls
//   kIsSpawnable    whether a callable and arguments can be spawned (checked at compile time)
//
// Fork and thread run the target in place, so any callable works. Spawn runs a fresh image
// of the binary: the child finds the function by its offset from its module's load base
// (the same binary, so the same offset), and the arguments travel as bytes (mp/serialize.h).
// Only a plain function can be found that way — a free function or a captureless lambda —
// because a lambda's captures live in the parent's memory.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/spawn_fds.h"
#include "mp/serialize.h"

namespace mp::detail {

// Called in the spawned child with the function's address and its serialized arguments.
using Trampoline = void (*)(void* fn, std::string_view args);

struct SpawnTarget {
  void* fn;
  Trampoline trampoline;
  std::string args;
};

// FunctionTraits<P>: the return and parameter types of a function pointer type P.
template <class P>
struct FunctionTraits;
template <class R, class... Params>
struct FunctionTraits<R (*)(Params...)> {
  using Return = R;
  using Arguments = std::tuple<std::decay_t<Params>...>;
  static constexpr bool kSerializable = (mp::Serializable<std::decay_t<Params>> && ...);
};
template <class R, class... Params>
struct FunctionTraits<R (*)(Params...) noexcept> : FunctionTraits<R (*)(Params...)> {};

// The plain function a callable stands for: a function pointer, or a captureless,
// non-generic lambda (whose unary + gives one).
template <class F>
concept PlainFunction = requires(std::decay_t<F> f) {
  { +f };
  requires std::is_pointer_v<decltype(+f)>;
  requires std::is_function_v<std::remove_pointer_t<decltype(+f)>>;
};

template <class F>
auto as_function_pointer(F f) {
  return +f;
}

template <class F>
using FunctionPointerOf = decltype(+std::declval<std::decay_t<F>&>());

// The argument tuple of a plain function F can be built from Args and serialized.
template <class F, class... Args>
constexpr bool arguments_fit() {
  using Tuple = typename FunctionTraits<FunctionPointerOf<F>>::Arguments;
  if constexpr (std::tuple_size_v<Tuple> != sizeof...(Args)) {
    return false;
  } else {
    return std::is_constructible_v<Tuple, const Args&...> &&
           FunctionTraits<FunctionPointerOf<F>>::kSerializable;
  }
}

template <class F, class... Args>
constexpr bool spawnable() {
  if constexpr (PlainFunction<F>) {
    return arguments_fit<F, std::decay_t<Args>...>();
  } else {
    return false;
  }
}

// True if Process(F, Args...) can be started with spawn.
template <class F, class... Args>
inline constexpr bool kIsSpawnable = spawnable<F, Args...>();

// The child's side: rebuild the arguments and call the function. The parameters are cast
// back to their declared types (moved from the rebuilt tuple for by-value and rvalue ones).
template <class R, class... Params>
void run_target(void* fn, std::string_view args) {
  using Tuple = std::tuple<std::decay_t<Params>...>;
  Tuple values = mp::deserialize<Tuple>(args);
  auto* function = reinterpret_cast<R (*)(Params...)>(fn);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    function(static_cast<Params&&>(std::get<I>(values))...);
  }(std::index_sequence_for<Params...>{});
}

template <class P>
struct TrampolineOf;
template <class R, class... Params>
struct TrampolineOf<R (*)(Params...)> {
  static constexpr Trampoline kValue = &run_target<R, Params...>;
};
template <class R, class... Params>
struct TrampolineOf<R (*)(Params...) noexcept> : TrampolineOf<R (*)(Params...)> {};

// What a Process can run: F callable with its own copies of the arguments, moved or not.
template <class F, class... Args>
concept Runnable = std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> ||
                   std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>;

// A Process's target, erased.
class Target {
 public:
  virtual ~Target() = default;
  // Calls the target with the arguments (moved: it runs once). Fork and thread.
  virtual void run() = 0;
  // The spawn form of the target, or nullopt if it cannot be spawned. Records the
  // descriptors the arguments need (inherit_fd) on this thread's collector.
  virtual std::optional<SpawnTarget> spawn_target() const = 0;
};

template <class F, class... Args>
class BoundTarget final : public Target {
 public:
  template <class G, class... A>
  explicit BoundTarget(G&& f, A&&... args)
      : f_(std::forward<G>(f)), args_(std::forward<A>(args)...) {}

  void run() override {
    if constexpr (std::is_invocable_v<F, Args...>) {
      std::apply([this](Args&... args) { std::invoke(std::move(f_), std::move(args)...); }, args_);
    } else {  // parameters that are non-const references bind to the child's own copies
      std::apply([this](Args&... args) { std::invoke(f_, args...); }, args_);
    }
  }

  std::optional<SpawnTarget> spawn_target() const override {
    if constexpr (kIsSpawnable<F, Args...>) {
      auto fn = as_function_pointer(f_);
      using Tuple = typename FunctionTraits<decltype(fn)>::Arguments;
      Tuple values = std::apply([](const Args&... args) { return Tuple(args...); }, args_);
      return SpawnTarget{reinterpret_cast<void*>(fn), TrampolineOf<decltype(fn)>::kValue,
                         mp::serialize(values)};
    } else {
      return std::nullopt;
    }
  }

 private:
  F f_;
  std::tuple<Args...> args_;
};

}  // namespace mp::detail
