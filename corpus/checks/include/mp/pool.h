// Minimal declarations mirroring mp/pool.h (Python's multiprocessing.Pool and
// concurrent.futures' ProcessPoolExecutor), so that the checker's tests do not depend on the
// runtime. Destroying a Pool terminates its workers, as leaving Python's `with Pool() as p:`
// block does: get() the results, or close() and join(), first. Destroying a
// ProcessPoolExecutor waits for its tasks (shutdown(true)).
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <iterator>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/process.h"

namespace mp {

class PoolInitializer {
 public:
  PoolInitializer();
};
template <class F, class... Args>
PoolInitializer initializer(F f, Args... args);

struct PoolOptions {
  std::optional<std::size_t> processes{};
  PoolInitializer initializer{};
  std::optional<std::size_t> maxtasksperchild{};
  std::optional<Context> context{};
};

template <class T>
class AsyncResult {
 public:
  T get(double timeout = -1) const;
  bool wait(double timeout = -1) const;
  bool ready() const;
  bool successful() const;
};

template <class T>
class IMapIterator {
 public:
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    T& operator*();
    iterator& operator++();
    void operator++(int);
    bool operator==(std::default_sentinel_t) const;
  };
  iterator begin();
  std::default_sentinel_t end();
  std::optional<T> next(double timeout = -1);
  std::size_t size() const noexcept;
};

class Pool {
 public:
  Pool();
  explicit Pool(std::size_t processes);
  explicit Pool(PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  template <class F, class... Args>
  std::invoke_result_t<F, Args...> apply(F f, Args... args);
  template <class F, class... Args>
  AsyncResult<std::invoke_result_t<F, Args...>> apply_async(F f, Args... args);
  template <class F, class... Args>
  AsyncResult<std::invoke_result_t<F, Args...>> apply_async(
      F f, std::tuple<Args...> args,
      std::function<void(const std::invoke_result_t<F, Args...>&)> callback,
      std::function<void(const std::exception&)> error_callback = {});
  template <class F, class Range>
  std::vector<std::invoke_result_t<F, typename Range::value_type>> map(
      F f, const Range& items, std::optional<std::size_t> chunksize = std::nullopt);
  template <class F, class Range>
  AsyncResult<std::vector<std::invoke_result_t<F, typename Range::value_type>>> map_async(
      F f, const Range& items, std::optional<std::size_t> chunksize = std::nullopt,
      std::function<void(const std::vector<std::invoke_result_t<F, typename Range::value_type>>&)>
          callback = {},
      std::function<void(const std::exception&)> error_callback = {});
  template <class F, class Range>
  std::vector<decltype(std::apply(std::declval<F>(), std::declval<typename Range::value_type>()))>
  starmap(F f, const Range& items, std::optional<std::size_t> chunksize = std::nullopt);
  template <class F, class Range>
  AsyncResult<std::vector<decltype(std::apply(std::declval<F>(),
                                              std::declval<typename Range::value_type>()))>>
  starmap_async(F f, const Range& items, std::optional<std::size_t> chunksize = std::nullopt);
  template <class F, class Range>
  IMapIterator<std::invoke_result_t<F, typename Range::value_type>> imap(F f, const Range& items,
                                                                         std::size_t chunksize = 1);
  template <class F, class Range>
  IMapIterator<std::invoke_result_t<F, typename Range::value_type>> imap_unordered(
      F f, const Range& items, std::size_t chunksize = 1);

  void close();
  void join();
  void terminate();
  std::size_t processes() const noexcept;
  std::vector<pid_t> worker_pids() const;
};

class ProcessPoolExecutor {
 public:
  explicit ProcessPoolExecutor(std::optional<std::size_t> max_workers = std::nullopt);
  explicit ProcessPoolExecutor(PoolOptions options);
  ~ProcessPoolExecutor();
  template <class F, class... Args>
  std::future<std::invoke_result_t<F, Args...>> submit(F f, Args... args);
  template <class F, class Range>
  IMapIterator<std::invoke_result_t<F, typename Range::value_type>> map(F f, const Range& items,
                                                                        std::size_t chunksize = 1);
  void shutdown(bool wait = true, bool cancel_futures = false);
};

}  // namespace mp
