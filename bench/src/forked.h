// bench/src/forked.h — helpers that run one side of a benchmark in a forked child.
//
//   bench::ForkedChild   a child running a function until it returns; reaped by the destructor
//   bench::Partner       a child that runs a batch of work each time the parent runs one, so
//                        that two processes contend for the same object at the same time
//   bench::SharedPage<T> a T in an anonymous MAP_SHARED mapping, seen by the children forked
//                        after it was made
//
// The helpers use raw fork() on purpose: what they measure is the object under test, not the
// start of a process, and the same harness serves the raw OS baseline and the mp primitive.
#pragma once

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <utility>

namespace bench {

// Exits the whole benchmark with a message naming the failing call: a benchmark whose set-up
// failed has nothing to report.
[[noreturn]] inline void die(const char* call) {
  std::perror(call);
  std::_Exit(2);
}

template <class T>
class SharedPage {
 public:
  template <class... Args>
  explicit SharedPage(Args&&... args) {
    void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    value_ = new (p) T(std::forward<Args>(args)...);
  }
  SharedPage(const SharedPage&) = delete;
  SharedPage& operator=(const SharedPage&) = delete;
  ~SharedPage() {
    value_->~T();
    munmap(value_, sizeof(T));
  }
  T* operator->() const noexcept { return value_; }
  T& operator*() const noexcept { return *value_; }

 private:
  T* value_;
};

class ForkedChild {
 public:
  // Forks; the child runs `body` and exits with 0, or 1 if it threw.
  explicit ForkedChild(const std::function<void()>& body) {
    pid_ = fork();
    if (pid_ < 0) die("fork");
    if (pid_ == 0) {
      int code = 0;
      try {
        body();
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
  }
  ForkedChild(const ForkedChild&) = delete;
  ForkedChild& operator=(const ForkedChild&) = delete;
  ~ForkedChild() { join(); }

  // Waits for the child; returns its exit status as waitpid gives it.
  int join() {
    if (pid_ <= 0) return status_;
    while (waitpid(pid_, &status_, 0) < 0) {
      if (errno != EINTR) die("waitpid");
    }
    pid_ = 0;
    return status_;
  }

 private:
  pid_t pid_ = 0;
  int status_ = 0;
};

namespace detail {
inline int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
inline void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
inline void futex_wake_all(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}
// Spins a little, then sleeps on the futex, until `word` differs from `seen`.
inline uint32_t await_change(std::atomic<uint32_t>* word, uint32_t seen) {
  for (int i = 0; i < 20000; ++i) {
    uint32_t now = word->load(std::memory_order_acquire);
    if (now != seen) return now;
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  for (;;) {
    uint32_t now = word->load(std::memory_order_acquire);
    if (now != seen) return now;
    futex_wait(word, seen);
  }
}
}  // namespace detail

class Partner {
 public:
  // Forks a child that runs `work(n)` for every run(n, ...) of the parent.
  explicit Partner(std::function<void(uint64_t)> work)
      : child_([this, work = std::move(work)] { serve(work); }) {}
  Partner(const Partner&) = delete;
  Partner& operator=(const Partner&) = delete;
  ~Partner() {
    control_->stop.store(true, std::memory_order_release);
    control_->go.fetch_add(1, std::memory_order_acq_rel);
    detail::futex_wake_all(&control_->go);
    child_.join();
  }

  // Runs a batch of `n`: `work(n)` here and the child's `work(n)` at the same time. Returns
  // the seconds from the first operation of either side to the last operation of either
  // (CLOCK_MONOTONIC is one clock for both processes), as Python's bench/python/value.py
  // measures its two workers. The child's wake-up before its batch is not counted: the parent
  // starts only once the child runs, so that the two batches overlap from the start instead
  // of the parent doing part of its batch alone.
  double run(uint64_t n, const std::function<void(uint64_t)>& work) {
    control_->batch.store(n, std::memory_order_relaxed);
    const uint32_t go = control_->go.fetch_add(1, std::memory_order_acq_rel) + 1;
    detail::futex_wake_all(&control_->go);
    uint32_t started = control_->started.load(std::memory_order_acquire);
    while (started != go) started = detail::await_change(&control_->started, started);
    const int64_t start = detail::monotonic_ns();
    work(n);
    const int64_t end = detail::monotonic_ns();
    uint32_t done = control_->done.load(std::memory_order_acquire);
    while (done != go) done = detail::await_change(&control_->done, done);
    const int64_t first = std::min(start, control_->child_start.load(std::memory_order_relaxed));
    const int64_t last = std::max(end, control_->child_end.load(std::memory_order_relaxed));
    return static_cast<double>(last - first) * 1e-9;
  }

 private:
  struct Control {
    std::atomic<uint32_t> go{0};
    std::atomic<uint32_t> started{0};
    std::atomic<uint32_t> done{0};
    std::atomic<uint64_t> batch{0};
    std::atomic<int64_t> child_start{0};
    std::atomic<int64_t> child_end{0};
    std::atomic<bool> stop{false};
  };

  void serve(const std::function<void(uint64_t)>& work) {
    uint32_t seen = 0;
    for (;;) {
      seen = detail::await_change(&control_->go, seen);
      if (control_->stop.load(std::memory_order_acquire)) return;
      control_->started.store(seen, std::memory_order_release);
      detail::futex_wake_all(&control_->started);
      const uint64_t n = control_->batch.load(std::memory_order_relaxed);
      control_->child_start.store(detail::monotonic_ns(), std::memory_order_relaxed);
      work(n);
      control_->child_end.store(detail::monotonic_ns(), std::memory_order_relaxed);
      control_->done.store(seen, std::memory_order_release);
      detail::futex_wake_all(&control_->done);
    }
  }

  SharedPage<Control> control_;  // made before the child is forked
  ForkedChild child_;
};

}  // namespace bench
