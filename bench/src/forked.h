// bench/src/forked.h — helpers that run one side of a benchmark in a forked child.
//
//   bench::ForkedChild   a child running a function until it returns; reaped by the destructor
//   bench::Partner       a child that runs a batch of work each time the parent starts one, so
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
  // Forks a child that runs `work(n)` for every start(n) of the parent.
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

  // Lets the child start a batch of `n` while the parent does its own.
  void start(uint64_t n) {
    control_->batch.store(n, std::memory_order_relaxed);
    control_->go.fetch_add(1, std::memory_order_acq_rel);
    detail::futex_wake_all(&control_->go);
  }

  // Waits until the child has finished the batch started last.
  void wait() {
    uint32_t go = control_->go.load(std::memory_order_acquire);
    uint32_t done = control_->done.load(std::memory_order_acquire);
    while (done != go) done = detail::await_change(&control_->done, done);
  }

 private:
  struct Control {
    std::atomic<uint32_t> go{0};
    std::atomic<uint32_t> done{0};
    std::atomic<uint64_t> batch{0};
    std::atomic<bool> stop{false};
  };

  void serve(const std::function<void(uint64_t)>& work) {
    uint32_t seen = 0;
    for (;;) {
      seen = detail::await_change(&control_->go, seen);
      if (control_->stop.load(std::memory_order_acquire)) return;
      work(control_->batch.load(std::memory_order_relaxed));
      control_->done.store(seen, std::memory_order_release);
      detail::futex_wake_all(&control_->done);
    }
  }

  SharedPage<Control> control_;  // made before the child is forked
  ForkedChild child_;
};

}  // namespace bench
