// mp/pool.h — a pool of worker processes (Python's multiprocessing.Pool) and
// concurrent.futures' ProcessPoolExecutor on top of it.
//
//   mp::Pool                  worker processes running tasks: apply, map, imap, starmap, ...
//   mp::PoolOptions           processes, initializer, maxtasksperchild, context
//   mp::initializer(f, a...)  an initializer and its initargs, for PoolOptions
//   mp::AsyncResult<T>        the result of apply_async / map_async / starmap_async
//   mp::IMapIterator<R>       the results of imap / imap_unordered, as they arrive
//   mp::ProcessPoolExecutor   submit() -> std::future, map(), shutdown()
//
// A task is a plain function — a free function or a captureless lambda — under every start
// method: the workers are started before the task exists, so they find the function by its
// place in the binary (module and offset, as a spawn target is found), and a lambda's
// captures, which live in the caller's memory, could reach none of them. Anything else does
// not compile. Arguments and results travel as bytes (mp/serialize.h), under fork and thread
// too, as Python pickles them: each must be mp::Serializable, default-constructible once
// decayed, and not inheritance-only (a Lock, Value, Connection, Queue... lives in shared
// memory that only inheritance passes on; use a Manager proxy instead). Those rules are
// checked at compile time.
//
//   int square(int x) { return x * x; }
//   mp::Pool pool(4);
//   std::vector<int> squares = pool.map(square, std::vector<int>{1, 2, 3});   // {1, 4, 9}
//   mp::AsyncResult<int> r = pool.apply_async(square, 7);
//   int v = r.get(1.0);                                                        // 49
//
// Errors reaching the caller (from get(), an iterator, a future):
//   mp::RemoteError   the task threw: type_name() is the worker's exception type, message()
//                     its what(); also when its result could not be serialized
//   mp::BrokenPool    the worker holding the task died (a signal, exit()): the message names
//                     its pid and the signal or exit code; or the pool was terminated first,
//                     or its initializer threw. The pool replaces a dead worker and stays
//                     usable — unlike Python, where such a pool hangs.
//   mp::TimeoutError  get(timeout) or next(timeout) ran out of time
// At the call: std::logic_error once the pool is closed or terminated (Python's "Pool not
// running"); std::invalid_argument for a chunksize of 0; whatever serializing an argument
// throws (nothing is submitted then, and the pool carries on).
//
// Threads: every member may be called from any thread; callbacks run on the pool's own
// result thread, one at a time, so they must not block on results of the same pool.
//
// Visibility: whatever a task wrote before returning that its result carries is visible to
// the caller once get() (or next(), or a callback) delivers that result.
#pragma once

#include <sys/types.h>

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/segment.h"
#include "mp/detail/spawn.h"
#include "mp/errors.h"
#include "mp/process.h"
#include "mp/serialize.h"

namespace mp {

namespace detail {

// -----------------------------------------------------------------------------
// Compile-time rules for tasks
// -----------------------------------------------------------------------------

// True if T is, or holds (in a tuple, pair, optional, vector, array), an inheritance-only
// object.
template <class T>
struct HoldsInheritanceOnly : std::bool_constant<InheritanceOnly<T>> {};
template <class... T>
struct HoldsInheritanceOnly<std::tuple<T...>>
    : std::bool_constant<(HoldsInheritanceOnly<std::remove_cvref_t<T>>::value || ...)> {};
template <class A, class B>
struct HoldsInheritanceOnly<std::pair<A, B>>
    : std::bool_constant<HoldsInheritanceOnly<std::remove_cvref_t<A>>::value ||
                         HoldsInheritanceOnly<std::remove_cvref_t<B>>::value> {};
template <class T>
struct HoldsInheritanceOnly<std::optional<T>> : HoldsInheritanceOnly<T> {};
template <class T, class A>
struct HoldsInheritanceOnly<std::vector<T, A>> : HoldsInheritanceOnly<T> {};
template <class T, std::size_t N>
struct HoldsInheritanceOnly<std::array<T, N>> : HoldsInheritanceOnly<T> {};

template <class... T>
inline constexpr bool kAnyInheritanceOnly = (HoldsInheritanceOnly<std::remove_cvref_t<T>>::value ||
                                             ...);

// The return and parameter types of a task's function pointer type P (mp/detail/spawn.h).
template <class P>
struct TaskSignature : FunctionTraits<P> {
  static constexpr std::size_t kArity = std::tuple_size_v<typename FunctionTraits<P>::Arguments>;
};

// Stands for the result of what is no task (check_task rejects it), so that the rejection
// is the only error.
struct NotATask {};

// The result type of task F.
template <class F, bool = PlainFunction<F>>
struct ResultOfTask {
  using type = NotATask;
};
template <class F>
struct ResultOfTask<F, true> {
  using type = typename TaskSignature<FunctionPointerOf<F>>::Return;
};

template <class T>
inline constexpr bool kTravels = Serializable<T>&& std::is_default_constructible_v<T>;

template <class Tuple>
struct AllTravel;
template <class... T>
struct AllTravel<std::tuple<T...>> : std::bool_constant<(kTravels<T> && ...)> {};

// The checks every submission makes, as static_asserts with messages that name the fix.
// `Args` are the argument types the caller gives (a tuple of them per item).
template <class F, class... Args>
constexpr bool check_task() {
  static_assert(PlainFunction<F>,
                "mp::Pool: a task must be a plain function — a free function or a captureless "
                "lambda: pool workers find it by its place in the binary (under spawn they are "
                "fresh images of the program), and a lambda's captures live only in the "
                "caller's memory. Pass the captured values as task arguments instead");
  if constexpr (PlainFunction<F>) {
    using Sig = TaskSignature<FunctionPointerOf<F>>;
    static_assert(
        !kAnyInheritanceOnly<Args...> && !HoldsInheritanceOnly<typename Sig::Arguments>::value,
        "mp::Pool: an inheritance-only object (Lock, RLock, Semaphore, Event, "
        "Condition, Barrier, Value, Array, Connection, Queue...) cannot be a pool task "
        "argument: it lives in shared memory that reaches a process only when the "
        "process is started, and pool workers are already running. Use a Manager "
        "proxy (mp/managers.h, e.g. Manager().Queue()) instead, or pass the object "
        "to the workers through PoolOptions' initializer under fork");
    if constexpr (!kAnyInheritanceOnly<Args...> &&
                  !HoldsInheritanceOnly<typename Sig::Arguments>::value) {
      static_assert(AllTravel<typename Sig::Arguments>::value,
                    "mp::Pool: every parameter of a task must be serializable (mp/serialize.h) "
                    "and default-constructible: arguments travel to the worker as bytes");
      using R = typename Sig::Return;
      static_assert(std::is_void_v<R> || (kTravels<R> && !HoldsInheritanceOnly<R>::value),
                    "mp::Pool: a task's result must be serializable (mp/serialize.h), "
                    "default-constructible and not inheritance-only: it travels back as bytes");
      static_assert(sizeof...(Args) == Sig::kArity,
                    "mp::Pool: the number of arguments does not match the task's parameters");
      if constexpr (sizeof...(Args) == Sig::kArity) {
        static_assert(std::is_constructible_v<typename Sig::Arguments, Args...>,
                      "mp::Pool: the arguments cannot be converted to the task's parameters");
      }
    }
  }
  return true;
}

// The same rules without asserting: what the submission code compiles only when they hold,
// so that a broken rule gives its one message rather than a cascade.
template <class F, class... Args>
constexpr bool task_ok() {
  if constexpr (!PlainFunction<F>) {
    return false;
  } else {
    using Sig = TaskSignature<FunctionPointerOf<F>>;
    using R = typename Sig::Return;
    if constexpr (kAnyInheritanceOnly<Args...> ||
                  HoldsInheritanceOnly<typename Sig::Arguments>::value ||
                  sizeof...(Args) != Sig::kArity) {
      return false;
    } else {
      return AllTravel<typename Sig::Arguments>::value &&
             (std::is_void_v<R> || (kTravels<R> && !HoldsInheritanceOnly<R>::value)) &&
             std::is_constructible_v<typename Sig::Arguments, Args...>;
    }
  }
}

// -----------------------------------------------------------------------------
// The bytes of items and results
// -----------------------------------------------------------------------------
//
// A chunk carries `count` items, each [u64 length][bytes]; its results are `count` entries
// [u8 status][u64 length][bytes]: status 0 is the serialized result, 1 an exception (its
// type name and message, serialized as a pair of strings).

enum ItemStatus : std::uint8_t { kItemOk = 0, kItemFailed = 1 };

// Appends [u64 length][serialized value].
template <class T>
void append_item(std::string& out, const T& value) {
  const std::size_t at = out.size();
  out.append(sizeof(std::uint64_t), '\0');
  serialize_into(value, out);
  const std::uint64_t length = out.size() - at - sizeof(std::uint64_t);
  std::memcpy(out.data() + at, &length, sizeof length);
}

// Takes one [u64 length][bytes] item off the front of `items`. Throws mp::ProcessError if it
// is cut short.
std::string_view next_item(std::string_view& items);

// Appends a failed entry for the exception being handled (call it in a catch block).
void append_current_exception(std::string& out);

// Runs `count` items of a chunk in the worker and appends their results to `out`.
using ItemRunner = void (*)(void* fn, std::string_view items, std::uint32_t count,
                            std::string& out);

template <class Fn>
struct Invoker;
template <class R, class... Params>
struct Invoker<R (*)(Params...)> {
  using Arguments = std::tuple<std::decay_t<Params>...>;
  // Each parameter gets the worker's own copy: moved for by-value and rvalue parameters,
  // bound as an lvalue for reference ones.
  static R call_unpacked(R (*f)(Params...), Arguments& values) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return f(static_cast<Params&&>(std::get<I>(values))...);
    }
    (std::index_sequence_for<Params...>{});
  }
  static R call_one(R (*f)(Params...), Arguments& values) { return call_unpacked(f, values); }
};
template <class R, class... Params>
struct Invoker<R (*)(Params...) noexcept> {
  using Base = Invoker<R (*)(Params...)>;
  using Arguments = typename Base::Arguments;
  static R call_unpacked(R (*f)(Params...) noexcept, Arguments& values) {
    return Base::call_unpacked(f, values);
  }
  static R call_one(R (*f)(Params...) noexcept, Arguments& values) {
    return Base::call_unpacked(f, values);
  }
};

template <class R, class Fn, bool kUnpack>
void run_items(void* fn, std::string_view items, std::uint32_t count, std::string& out) {
  using Arguments = typename Invoker<Fn>::Arguments;
  auto function = reinterpret_cast<Fn>(fn);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string_view item = next_item(items);
    const std::size_t at = out.size();
    try {
      auto call = [&] {
        if constexpr (kUnpack) {
          Arguments values = deserialize<Arguments>(item);
          return Invoker<Fn>::call_unpacked(function, values);
        } else {
          Arguments values{deserialize<std::tuple_element_t<0, Arguments>>(item)};
          return Invoker<Fn>::call_one(function, values);
        }
      };
      if constexpr (std::is_void_v<R>) {
        call();
        out.push_back(static_cast<char>(kItemOk));
        out.append(sizeof(std::uint64_t), '\0');
      } else {
        R result = call();
        out.push_back(static_cast<char>(kItemOk));
        append_item(out, result);
      }
    } catch (...) {
      out.resize(at);
      append_current_exception(out);
    }
  }
}

// The function and runner of a task: what the worker calls.
struct TaskCode {
  void* fn = nullptr;
  ItemRunner runner = nullptr;
};

// kUnpack: each item is the tuple of the task's arguments (apply, starmap); otherwise it is
// the task's one argument itself (map, imap), which keeps an `int` item 8 bytes of memcpy.
template <class F, bool kUnpack>
TaskCode task_code(F f) {
  auto fn = as_function_pointer(f);
  using Fn = decltype(fn);
  using Sig = TaskSignature<Fn>;
  return TaskCode{reinterpret_cast<void*>(fn), &run_items<typename Sig::Return, Fn, kUnpack>};
}

// -----------------------------------------------------------------------------
// Jobs: the caller's side of one submission
// -----------------------------------------------------------------------------

// One call (apply_async, map_async, imap...): `items` results filled in by the pool's
// result thread. Thread-safe.
class JobBase {
 public:
  enum class Mode { kWhole, kOrdered, kUnordered };
  JobBase(Mode mode, std::size_t items);
  virtual ~JobBase();
  JobBase(const JobBase&) = delete;
  JobBase& operator=(const JobBase&) = delete;

  // Result thread: the results of items [first, first + count), as a worker wrote them.
  void deliver(std::size_t first, std::uint32_t count, std::string_view results);
  // Result thread (or the caller, at once): items [first, first + count) failed with `error`.
  void fail(std::size_t first, std::size_t count, std::exception_ptr error);

  // Blocks until complete or `timeout` seconds pass (negative: no limit). True if complete.
  bool wait(double timeout);
  [[nodiscard]] bool ready() const;
  // Precondition: ready (std::logic_error otherwise).
  [[nodiscard]] bool successful() const;
  // Throws mp::TimeoutError if not complete in time, the job's error if it failed.
  void wait_success(double timeout);

  // Iterators: blocks for the next item (ordered: the next index; unordered: the next to
  // arrive) and returns its index, or nullopt past the last one. Throws the item's error
  // (the item then counts as consumed), mp::TimeoutError.
  std::optional<std::size_t> next_index(double timeout);

  [[nodiscard]] std::size_t size() const noexcept { return total_; }

 protected:
  // Stores item `index`'s result bytes (no lock held; throws if they do not deserialize).
  virtual void store(std::size_t index, std::string_view bytes) = 0;
  // Runs the callbacks once the job is complete (no lock held, result thread).
  virtual void on_complete(std::exception_ptr error) = 0;

 private:
  void settle(std::size_t index, std::exception_ptr error);
  void finish_locked(std::unique_lock<std::mutex>& lock);

  const Mode mode_;
  const std::size_t total_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t settled_ = 0;
  bool complete_ = false;
  bool callbacks_run_ = false;
  std::exception_ptr error_;              // kWhole: the first error to arrive
  std::vector<std::uint8_t> item_state_;  // iterators: 0 pending, 1 ok, 2 failed
  std::vector<std::exception_ptr> item_error_;
  std::deque<std::size_t> arrived_;  // kUnordered: indices in arrival order
  std::size_t next_ = 0;             // iterators: items consumed so far
};

template <class T>
struct CallbackFor {
  using type = std::function<void(const T&)>;
};
template <>
struct CallbackFor<void> {
  using type = std::function<void()>;
};
template <class T>
using CallbackOf = typename CallbackFor<T>::type;
using ErrorHook = std::function<void(std::exception_ptr)>;

// apply_async(f, std::tuple{...}, callback, ...) rather than apply_async(f, args...).
template <class R, class... Args>
struct LooksLikeCallbacks : std::false_type {};
template <class R, class... T, class C, class... Rest>
struct LooksLikeCallbacks<R, std::tuple<T...>, C, Rest...>
    : std::bool_constant<std::is_constructible_v<CallbackOf<R>, C> && !std::is_arithmetic_v<C>> {};
template <class R, class... Args>
inline constexpr bool kLooksLikeCallbacks =
    LooksLikeCallbacks<R, std::remove_cvref_t<Args>...>::value;

void run_callback_guarded(const std::function<void()>& body);

// A job whose result is one value T: apply (T = R) or map (T = std::vector<R>).
template <class T>
class ResultJob : public JobBase {
 public:
  using JobBase::JobBase;
  virtual T value() = 0;
  CallbackOf<T> callback;
  ErrorHook error_hook;

 protected:
  void on_complete(std::exception_ptr error) override {
    if (error) {
      if (error_hook) run_callback_guarded([&] { error_hook(error); });
    } else if (callback) {
      if constexpr (std::is_void_v<T>) {
        run_callback_guarded([&] { callback(); });
      } else {
        run_callback_guarded([&] { callback(value()); });
      }
    }
  }
};

template <class R>
class SingleJob final : public ResultJob<R> {
 public:
  SingleJob() : ResultJob<R>(JobBase::Mode::kWhole, 1) {}
  R value() override {
    if constexpr (!std::is_void_v<R>) return value_;
  }

 protected:
  void store(std::size_t, std::string_view bytes) override {
    if constexpr (!std::is_void_v<R>) value_ = deserialize<R>(bytes);
  }

 private:
  std::conditional_t<std::is_void_v<R>, char, R> value_{};
};

template <class R>
class ListJob final : public ResultJob<std::vector<R>> {
 public:
  explicit ListJob(std::size_t n)
      : ResultJob<std::vector<R>>(JobBase::Mode::kWhole, n), values_(n) {}
  std::vector<R> value() override { return values_; }

 protected:
  void store(std::size_t index, std::string_view bytes) override {
    values_[index] = deserialize<R>(bytes);
  }

 private:
  std::vector<R> values_;
};

template <class R>
class IterJob final : public JobBase {
 public:
  IterJob(Mode mode, std::size_t n) : JobBase(mode, n), values_(n) {}
  R take(std::size_t index) { return std::move(values_[index]); }

 protected:
  void store(std::size_t index, std::string_view bytes) override {
    values_[index] = deserialize<R>(bytes);
  }
  void on_complete(std::exception_ptr) override {}

 private:
  std::vector<R> values_;
};

// -----------------------------------------------------------------------------
// The pool's engine (pool.cpp)
// -----------------------------------------------------------------------------

class PoolCore;

// The start of every chunk's frame for one task function; append items, then finish().
class ChunkBuilder {
 public:
  std::string begin() const { return prefix_; }
  void finish(std::string& frame, std::uint32_t count) const;

 private:
  friend class PoolCore;
  std::string prefix_;
};

struct Chunk {
  std::shared_ptr<JobBase> job;
  std::size_t first = 0;
  std::uint32_t count = 0;
  std::string frame;
};

}  // namespace detail

// -----------------------------------------------------------------------------
// PoolOptions
// -----------------------------------------------------------------------------

// A function every worker runs once when it starts, with its arguments (Python's
// initializer and initargs). Make one with mp::initializer(f, args...): f must be a plain
// function, the arguments serializable, as for tasks.
class PoolInitializer {
 public:
  PoolInitializer() = default;
  [[nodiscard]] explicit operator bool() const noexcept { return code_.fn != nullptr; }

 private:
  template <class F, class... Args>
  friend PoolInitializer initializer(F f, Args&&... args);
  friend class detail::PoolCore;
  detail::TaskCode code_;
  std::string item_;  // [u64 length][the serialized argument tuple]
};

template <class F, class... Args>
PoolInitializer initializer(F f, Args&&... args) {
  static_assert(detail::check_task<F, std::decay_t<Args>...>());
  using Sig = detail::TaskSignature<detail::FunctionPointerOf<F>>;
  PoolInitializer init;
  init.code_ = detail::task_code<F, true>(f);
  detail::append_item(init.item_, typename Sig::Arguments(std::forward<Args>(args)...));
  return init;
}

// How a Pool is made (Python's Pool(processes, initializer, initargs, maxtasksperchild,
// context)), with designated initializers:
//   mp::Pool pool({.processes = 4, .initializer = mp::initializer(setup, 42),
//                  .maxtasksperchild = 100, .context = mp::get_context("spawn")});
struct PoolOptions {
  // Number of workers, ≥ 1; nullopt: mp::cpu_count().
  std::optional<std::size_t> processes{};
  // Run by each worker when it starts. If it throws, the pool is broken: every task fails
  // with mp::BrokenPool naming the exception (Python would restart workers forever).
  PoolInitializer initializer{};
  // A worker exits and is replaced after this many tasks (chunks); nullopt: never.
  std::optional<std::size_t> maxtasksperchild{};
  // The start method of the workers; nullopt: the current default (mp::get_start_method).
  std::optional<Context> context{};
};

// -----------------------------------------------------------------------------
// AsyncResult
// -----------------------------------------------------------------------------

// The result of apply_async (T = the task's result) or map_async/starmap_async
// (T = std::vector<R>, in input order). A handle: copies share one result. Thread-safe.
template <class T>
class AsyncResult {
 public:
  // Blocks until the result is there, or `timeout` seconds pass (negative: no limit).
  // Returns it (a copy: get may be called again). Errors: mp::TimeoutError if it is not
  // there in time; mp::RemoteError / mp::BrokenPool if the task failed (a map fails with the
  // first failing chunk to arrive, as in Python).
  T get(double timeout = -1) const {
    job_->wait_success(timeout);
    if constexpr (!std::is_void_v<T>) return job_->value();
  }
  // Blocks until the result is there or `timeout` seconds pass. True if it is there.
  bool wait(double timeout = -1) const { return job_->wait(timeout); }
  // True once the task has completed (successfully or not). Does not block.
  [[nodiscard]] bool ready() const { return job_->ready(); }
  // True if it completed without error. Precondition: ready() (std::logic_error otherwise,
  // as Python's ValueError).
  [[nodiscard]] bool successful() const { return job_->successful(); }

 private:
  friend class Pool;
  explicit AsyncResult(std::shared_ptr<detail::ResultJob<T>> job) : job_(std::move(job)) {}
  std::shared_ptr<detail::ResultJob<T>> job_;
};

// -----------------------------------------------------------------------------
// IMapIterator
// -----------------------------------------------------------------------------

// The results of imap (in input order) or imap_unordered (in the order they arrive).
// Iterate with next() or a range-for. A failed item throws its error where it stands in
// the sequence; iteration may go on past it. One consumer at a time.
template <class R>
class IMapIterator {
 public:
  // Blocks for the next result (at most `timeout` seconds, negative: no limit) and returns
  // it, or nullopt after the last. Errors: mp::TimeoutError; the item's mp::RemoteError or
  // mp::BrokenPool.
  std::optional<R> next(double timeout = -1) {
    std::optional<std::size_t> index = job_->next_index(timeout);
    if (!index) return std::nullopt;
    return job_->take(*index);
  }
  // The number of results, consumed or not.
  [[nodiscard]] std::size_t size() const noexcept { return job_->size(); }

  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    R& operator*() { return *current_; }
    iterator& operator++() {
      current_ = owner_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !current_.has_value(); }

   private:
    friend class IMapIterator;
    explicit iterator(IMapIterator* owner) : owner_(owner), current_(owner->next()) {}
    IMapIterator* owner_ = nullptr;
    std::optional<R> current_;
  };
  // Blocks for the first result.
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  friend class Pool;
  explicit IMapIterator(std::shared_ptr<detail::IterJob<R>> job) : job_(std::move(job)) {}
  std::shared_ptr<detail::IterJob<R>> job_;
};

// -----------------------------------------------------------------------------
// Pool
// -----------------------------------------------------------------------------
//
// Workers are started by the constructor; a result thread in the caller's process hands
// tasks to them through shared memory and collects results. Tasks go to the least busy
// worker; a worker busy with a long task is given few tasks in advance.
//
// Lifecycle, as in Python: running → close() (no new tasks; the submitted ones finish) or
// terminate() (workers stopped at once; unfinished tasks fail with mp::BrokenPool), then
// join(). The destructor terminates and joins, like leaving Python's `with Pool() as p:`
// block: results not yet collected are lost, so get() them first (or close and join).
//
// Not copyable or movable (the result thread holds it).
class Pool {
 public:
  // The result type of task F.
  template <class F>
  using ResultOf = typename detail::ResultOfTask<F>::type;
  // What imap yields for task F (a void task, which imap rejects, yields nothing usable).
  template <class F>
  using ItemOf = std::conditional_t<std::is_void_v<ResultOf<F>>, detail::NotATask, ResultOf<F>>;

  // A pool of mp::cpu_count() workers.
  Pool() : Pool(PoolOptions{}) {}
  // A pool of `processes` workers. Throws std::invalid_argument for 0.
  explicit Pool(std::size_t processes) : Pool(options_for(processes)) {}
  // Starts the workers. Errors: std::invalid_argument for 0 processes or 0 maxtasksperchild;
  // mp::ProcessError / std::system_error if a worker cannot be started (as mp::Process).
  explicit Pool(PoolOptions options);
  // terminate(), then join().
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // f(args...) in a worker. Blocks until done; returns its result or throws its error.
  template <class F, class... Args>
  auto apply(F f, Args&&... args) {
    return apply_async(f, std::forward<Args>(args)...).get();
  }

  // f(args...) in a worker. Does not block (beyond serializing the arguments).
  template <class F, class... Args>
  requires(!detail::kLooksLikeCallbacks<ResultOf<F>, Args...>)
      AsyncResult<ResultOf<F>> apply_async(F f, Args&&... args) {
    return apply_async_with(f, {}, {}, std::forward<Args>(args)...);
  }
  // The same with the arguments as a tuple (Python's args=) and callbacks: `callback` gets
  // the result, or `error_callback` the error, on the result thread once it is there.
  //   pool.apply_async(f, std::tuple{1, 2}, [](const int& r) {...},
  //                    [](const std::exception& e) {...});
  template <class F, class... Args>
  AsyncResult<ResultOf<F>> apply_async(
      F f, std::tuple<Args...> args, detail::CallbackOf<ResultOf<F>> callback,
      std::function<void(const std::exception&)> error_callback = {}) {
    return std::apply(
        [&](Args&... a) {
          return apply_async_with(f, std::move(callback), wrap(std::move(error_callback)),
                                  std::move(a)...);
        },
        args);
  }

  // [f(x) for x in items], in order. Blocks until every result is there. `chunksize` items
  // travel together (nullopt: about len / (4 × processes), as Python). Throws the first
  // failing chunk's error.
  template <class F, class Range>
  auto map(F f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt) {
    return map_async(f, std::forward<Range>(items), chunksize).get();
  }
  template <class F, class Range>
  auto map_async(F f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt,
                 detail::CallbackOf<std::vector<ResultOf<F>>> callback = {},
                 std::function<void(const std::exception&)> error_callback = {}) {
    return list_async<false>(f, std::forward<Range>(items), chunksize, std::move(callback),
                             wrap(std::move(error_callback)));
  }

  // [f(*t) for t in items]: each item is a std::tuple (or pair) of f's arguments.
  template <class F, class Range>
  auto starmap(F f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt) {
    return starmap_async(f, std::forward<Range>(items), chunksize).get();
  }
  template <class F, class Range>
  auto starmap_async(F f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt,
                     detail::CallbackOf<std::vector<ResultOf<F>>> callback = {},
                     std::function<void(const std::exception&)> error_callback = {}) {
    return list_async<true>(f, std::forward<Range>(items), chunksize, std::move(callback),
                            wrap(std::move(error_callback)));
  }

  // The results of f over `items` as they come: in order (imap) or as they arrive
  // (imap_unordered). The items are serialized at the call; the default chunksize is 1.
  template <class F, class Range>
  IMapIterator<ItemOf<F>> imap(F f, Range&& items, std::size_t chunksize = 1) {
    return iter_async(f, std::forward<Range>(items), chunksize, detail::JobBase::Mode::kOrdered);
  }
  template <class F, class Range>
  IMapIterator<ItemOf<F>> imap_unordered(F f, Range&& items, std::size_t chunksize = 1) {
    return iter_async(f, std::forward<Range>(items), chunksize, detail::JobBase::Mode::kUnordered);
  }

  // No more tasks: those submitted run to the end, then the workers exit. Does not block.
  void close();
  // Stops the workers now (SIGTERM, then SIGKILL if needed; thread mode: after their
  // current task). Unfinished tasks fail with mp::BrokenPool. Returns once the workers have
  // stopped.
  void terminate();
  // Blocks until the workers have exited. Precondition: close() or terminate() was called
  // (std::logic_error otherwise, as Python's ValueError).
  void join();

  // The number of workers the pool keeps.
  [[nodiscard]] std::size_t processes() const noexcept;
  // The pids of the current workers (a snapshot; thread mode: this process's pid).
  [[nodiscard]] std::vector<pid_t> worker_pids() const;

 private:
  friend class ProcessPoolExecutor;

  static PoolOptions options_for(std::optional<std::size_t> processes) {
    PoolOptions options;
    options.processes = processes;
    return options;
  }

  static detail::ErrorHook wrap(std::function<void(const std::exception&)> error_callback) {
    if (!error_callback) return {};
    return [cb = std::move(error_callback)](std::exception_ptr error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        cb(e);
      }
    };
  }

  template <class F, class... Args>
  AsyncResult<ResultOf<F>> apply_async_with(F f, detail::CallbackOf<ResultOf<F>> callback,
                                            detail::ErrorHook error_hook, Args&&... args) {
    static_assert(detail::check_task<F, std::decay_t<Args>...>());
    if constexpr (!detail::task_ok<F, std::decay_t<Args>...>()) {
      return AsyncResult<ResultOf<F>>(nullptr);
    } else {
      using Sig = detail::TaskSignature<detail::FunctionPointerOf<F>>;
      auto job = std::make_shared<detail::SingleJob<ResultOf<F>>>();
      job->callback = std::move(callback);
      job->error_hook = std::move(error_hook);
      detail::ChunkBuilder builder = chunk_builder(detail::task_code<F, true>(f));
      std::vector<detail::Chunk> chunks(1);
      chunks[0].job = job;
      chunks[0].count = 1;
      chunks[0].frame = builder.begin();
      detail::append_item(chunks[0].frame, typename Sig::Arguments(std::forward<Args>(args)...));
      builder.finish(chunks[0].frame, 1);
      submit(std::move(chunks));
      return AsyncResult<ResultOf<F>>(std::move(job));
    }
  }

  // Serializes `items` into chunks of `chunksize` for `job`.
  template <bool kUnpack, class F, class Range>
  std::vector<detail::Chunk> make_chunks(F f, Range&& items, std::size_t n, std::size_t chunksize,
                                         const std::shared_ptr<detail::JobBase>& job) {
    using Sig = detail::TaskSignature<detail::FunctionPointerOf<F>>;
    using Arguments = typename Sig::Arguments;
    detail::ChunkBuilder builder = chunk_builder(detail::task_code<F, kUnpack>(f));
    std::vector<detail::Chunk> chunks;
    chunks.reserve((n + chunksize - 1) / chunksize);
    std::size_t index = 0;
    for (auto&& item : items) {
      if (index % chunksize == 0) {
        if (!chunks.empty()) builder.finish(chunks.back().frame, chunks.back().count);
        chunks.push_back(detail::Chunk{job, index, 0, builder.begin()});
      }
      if constexpr (kUnpack) {
        detail::append_item(chunks.back().frame,
                            std::make_from_tuple<Arguments>(std::forward<decltype(item)>(item)));
      } else {
        detail::append_item(chunks.back().frame,
                            std::tuple_element_t<0, Arguments>(std::forward<decltype(item)>(item)));
      }
      ++chunks.back().count;
      ++index;
    }
    if (!chunks.empty()) builder.finish(chunks.back().frame, chunks.back().count);
    return chunks;
  }

  template <bool kUnpack, class F, class Range>
  static constexpr bool check_items() {
    using Item = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    if constexpr (kUnpack) {
      return check_unpacked<F>(static_cast<Item*>(nullptr));
    } else {
      return detail::check_task<F, Item>();
    }
  }
  template <class F, class... T>
  static constexpr bool check_unpacked(std::tuple<T...>*) {
    return detail::check_task<F, T...>();
  }
  template <class F, class A, class B>
  static constexpr bool check_unpacked(std::pair<A, B>*) {
    return detail::check_task<F, A, B>();
  }
  template <class F, class Item>
  static constexpr bool check_unpacked(Item*) {
    static_assert(sizeof(Item) == 0,
                  "mp::Pool::starmap: each item must be a std::tuple (or std::pair) of the "
                  "task's arguments");
    return false;
  }
  template <bool kUnpack, class F, class Range>
  static constexpr bool items_ok() {
    using Item = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    if constexpr (kUnpack) {
      return unpacked_ok<F>(static_cast<Item*>(nullptr));
    } else {
      return detail::task_ok<F, Item>() && !std::is_void_v<ResultOf<F>>;
    }
  }
  template <class F, class... T>
  static constexpr bool unpacked_ok(std::tuple<T...>*) {
    return detail::task_ok<F, T...>() && !std::is_void_v<ResultOf<F>>;
  }
  template <class F, class A, class B>
  static constexpr bool unpacked_ok(std::pair<A, B>*) {
    return detail::task_ok<F, A, B>() && !std::is_void_v<ResultOf<F>>;
  }
  template <class F, class Item>
  static constexpr bool unpacked_ok(Item*) {
    return false;
  }

  template <bool kUnpack, class F, class Range>
  AsyncResult<std::vector<ResultOf<F>>> list_async(
      F f, Range&& items, std::optional<std::size_t> chunksize,
      detail::CallbackOf<std::vector<ResultOf<F>>> callback, detail::ErrorHook error_hook) {
    static_assert(std::ranges::input_range<Range>, "mp::Pool::map: the items must be a range");
    static_assert(check_items<kUnpack, F, Range>());
    static_assert(!std::is_void_v<ResultOf<F>>,
                  "mp::Pool::map: the task returns void; use apply_async for each item, or "
                  "return a value");
    if constexpr (!items_ok<kUnpack, F, Range>()) {
      return AsyncResult<std::vector<ResultOf<F>>>(nullptr);
    } else {
      const std::size_t n = count(items);
      const std::size_t size = chosen_chunksize(chunksize, n);
      auto job = std::make_shared<detail::ListJob<ResultOf<F>>>(n);
      job->callback = std::move(callback);
      job->error_hook = std::move(error_hook);
      submit_or_complete(job, make_chunks<kUnpack>(f, std::forward<Range>(items), n, size, job));
      return AsyncResult<std::vector<ResultOf<F>>>(std::move(job));
    }
  }

  template <class F, class Range>
  IMapIterator<ItemOf<F>> iter_async(F f, Range&& items, std::size_t chunksize,
                                     detail::JobBase::Mode mode) {
    static_assert(std::ranges::input_range<Range>, "mp::Pool::imap: the items must be a range");
    static_assert(check_items<false, F, Range>());
    static_assert(!std::is_void_v<ResultOf<F>>,
                  "mp::Pool::imap: the task returns void; return a value");
    if constexpr (!items_ok<false, F, Range>()) {
      return IMapIterator<ItemOf<F>>(nullptr);
    } else {
      const std::size_t n = count(items);
      const std::size_t size = chosen_chunksize(chunksize, n);
      auto job = std::make_shared<detail::IterJob<ItemOf<F>>>(mode, n);
      submit_or_complete(job, make_chunks<false>(f, std::forward<Range>(items), n, size, job));
      return IMapIterator<ItemOf<F>>(std::move(job));
    }
  }

  template <class Range>
  static std::size_t count(Range& items) {
    if constexpr (std::ranges::sized_range<Range>) {
      return static_cast<std::size_t>(std::ranges::size(items));
    } else {
      std::size_t n = 0;
      for (auto it = std::ranges::begin(items); it != std::ranges::end(items); ++it) ++n;
      return n;
    }
  }

  std::size_t chosen_chunksize(std::optional<std::size_t> chunksize, std::size_t items) const;
  detail::ChunkBuilder chunk_builder(detail::TaskCode code);
  void submit(std::vector<detail::Chunk> chunks);
  // An empty submission completes at once (still an error on a closed pool).
  void submit_or_complete(const std::shared_ptr<detail::JobBase>& job,
                          std::vector<detail::Chunk> chunks);

  std::unique_ptr<detail::PoolCore> core_;
};

// -----------------------------------------------------------------------------
// ProcessPoolExecutor
// -----------------------------------------------------------------------------
//
// concurrent.futures.ProcessPoolExecutor: submit() gives a std::future, map() the results in
// order. Leaving its scope waits for the submitted tasks (shutdown(true)), as Python's
// `with` does for executors. Unlike Python's, a worker killed by a signal breaks only the
// futures it held (mp::BrokenPool), not the executor.
class ProcessPoolExecutor {
 public:
  // `max_workers` workers (nullopt: mp::cpu_count(); 0: std::invalid_argument).
  explicit ProcessPoolExecutor(std::optional<std::size_t> max_workers = std::nullopt)
      : pool_(Pool::options_for(max_workers)) {}
  explicit ProcessPoolExecutor(PoolOptions options) : pool_(std::move(options)) {}
  ~ProcessPoolExecutor() { shutdown(true); }

  // f(args...) in a worker; the future holds its result or error (mp::RemoteError,
  // mp::BrokenPool). Errors at the call: std::logic_error after shutdown.
  template <class F, class... Args>
  std::future<Pool::ResultOf<F>> submit(F f, Args&&... args) {
    using R = Pool::ResultOf<F>;
    auto promise = std::make_shared<std::promise<R>>();
    std::future<R> future = promise->get_future();
    detail::CallbackOf<R> on_value;
    if constexpr (std::is_void_v<R>) {
      on_value = [promise] { promise->set_value(); };
    } else {
      on_value = [promise](const R& value) { promise->set_value(value); };
    }
    (void)pool_.apply_async_with(
        f, std::move(on_value), [promise](std::exception_ptr e) { promise->set_exception(e); },
        std::forward<Args>(args)...);
    return future;
  }

  // The results of f over `items`, in order, as they come (Python's Executor.map).
  template <class F, class Range>
  IMapIterator<Pool::ItemOf<F>> map(F f, Range&& items, std::size_t chunksize = 1) {
    return pool_.imap(f, std::forward<Range>(items), chunksize);
  }

  // No more submissions. wait: blocks until every submitted task is done and the workers
  // have exited. cancel_futures: tasks not yet started fail with mp::BrokenPool instead of
  // running. Calling it again is harmless.
  void shutdown(bool wait = true, bool cancel_futures = false);

 private:
  Pool pool_;
  bool joined_ = false;
};

}  // namespace mp
