// Minimal declarations mirroring Python's multiprocessing.Pool (mp/pool.h), so that the checker's
// tests do not depend on the runtime. Destroying a Pool terminates its workers, as leaving
// Python's `with Pool() as p:` block does: close() and join() first to let pending tasks finish.
#pragma once
#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace mp {

template <class T>
class AsyncResult {
 public:
  T get(double timeout = -1);
  void wait(double timeout = -1);
  bool ready() const;
  bool successful() const;
};

template <class T>
class IMapIterator {
 public:
  struct iterator {
    T operator*() const;
    iterator& operator++();
    bool operator!=(const iterator& other) const;
  };
  iterator begin();
  iterator end();
  std::optional<T> next(double timeout = -1);
};

class Pool {
 public:
  explicit Pool(int processes = 0);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  template <class F, class... Args>
  std::invoke_result_t<F, Args...> apply(F f, Args... args);
  template <class F, class... Args>
  AsyncResult<std::invoke_result_t<F, Args...>> apply_async(F f, Args... args);
  template <class F, class Range>
  std::vector<std::invoke_result_t<F, typename Range::value_type>> map(
      F f, const Range& items, std::size_t chunksize = 1);
  template <class F, class Range>
  AsyncResult<std::vector<std::invoke_result_t<F, typename Range::value_type>>> map_async(
      F f, const Range& items, std::size_t chunksize = 1);
  template <class F, class Range>
  std::vector<decltype(std::apply(std::declval<F>(), std::declval<typename Range::value_type>()))>
  starmap(F f, const Range& items, std::size_t chunksize = 1);
  template <class F, class Range>
  AsyncResult<std::vector<
      decltype(std::apply(std::declval<F>(), std::declval<typename Range::value_type>()))>>
  starmap_async(F f, const Range& items, std::size_t chunksize = 1);
  template <class F, class Range>
  IMapIterator<std::invoke_result_t<F, typename Range::value_type>> imap(
      F f, const Range& items, std::size_t chunksize = 1);
  template <class F, class Range>
  IMapIterator<std::invoke_result_t<F, typename Range::value_type>> imap_unordered(
      F f, const Range& items, std::size_t chunksize = 1);

  void close();
  void join();
  void terminate();
};

// concurrent.futures' executor over processes: its destructor waits for pending work.
template <class T>
class Future {
 public:
  T get();
  void wait();
};

class ProcessPoolExecutor {
 public:
  explicit ProcessPoolExecutor(int max_workers = 0);
  ~ProcessPoolExecutor();
  template <class F, class... Args>
  Future<std::invoke_result_t<F, Args...>> submit(F f, Args... args);
  void shutdown(bool wait = true);
};

}  // namespace mp
