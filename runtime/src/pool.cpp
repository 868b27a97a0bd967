// mp::Pool (mp/pool.h): workers fed through per-worker shared-memory rings by one result
// thread in the pool's owner.
//
// Why one pair of rings per worker rather than one shared task queue: the owner then knows
// exactly which chunks each worker holds (those it wrote to the worker's ring and has no
// result for), so a worker killed by a signal fails precisely its own chunks, and no lock is
// shared with a process that may die holding it. Results come back in the order the worker
// took its tasks, so they need no lookup. The cost is that a task queued behind a long one
// waits for it: the thread gives each worker only about a millisecond of work in advance,
// measured from the task times the workers report.
#include "mp/pool.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>
#include <unordered_map>

#include "mp/detail/futex.h"
#include "pool_ring.h"
#include "spawn_internal.h"

namespace mp {
namespace detail {

// -----------------------------------------------------------------------------
// Items and results
// -----------------------------------------------------------------------------

std::string_view next_item(std::string_view& items) {
  std::uint64_t length = 0;
  if (items.size() < sizeof length) throw ProcessError("mp::Pool: a task's bytes are cut short");
  std::memcpy(&length, items.data(), sizeof length);
  if (items.size() - sizeof length < length)
    throw ProcessError("mp::Pool: a task's bytes are cut short");
  std::string_view item = items.substr(sizeof length, length);
  items.remove_prefix(sizeof length + length);
  return item;
}

void append_current_exception(std::string& out) {
  std::pair<std::string, std::string> what;
  try {
    throw;
  } catch (const std::exception& e) {
    what = {demangled_type_name(typeid(e)), e.what()};
  } catch (...) {
    what = {current_exception_type_name(), ""};
  }
  out.push_back(static_cast<char>(kItemFailed));
  append_item(out, what);
}

void run_callback_guarded(const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp::Pool: a callback threw %s: %s\n",
                 demangled_type_name(typeid(e)).c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "mp::Pool: a callback threw %s\n", current_exception_type_name().c_str());
  }
}

// -----------------------------------------------------------------------------
// JobBase
// -----------------------------------------------------------------------------

namespace {
using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_timeout() {
  throw TimeoutError("mp::Pool: the result was not ready within the timeout");
}

template <class Pred>
bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, double timeout,
                Pred pred) {
  if (detail::unlimited(timeout)) {
    cv.wait(lock, pred);
    return true;
  }
  return cv.wait_for(lock, std::chrono::duration<double>(timeout), pred);
}
}  // namespace

JobBase::JobBase(Mode mode, std::size_t items) : mode_(mode), total_(items) {
  if (mode_ != Mode::kWhole) {
    item_state_.assign(items, 0);
    item_error_.resize(items);
  }
}

JobBase::~JobBase() = default;

void JobBase::deliver(std::size_t first, std::uint32_t count, std::string_view results) {
  std::vector<std::pair<std::size_t, std::exception_ptr>> errors;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t index = first + i;
    try {
      if (results.empty()) throw ProcessError("mp::Pool: a result is missing");
      const auto status = static_cast<std::uint8_t>(results.front());
      results.remove_prefix(1);
      std::string_view bytes = next_item(results);
      if (status == kItemOk) {
        store(index, bytes);
      } else {
        auto what = deserialize<std::pair<std::string, std::string>>(bytes);
        errors.emplace_back(index, std::make_exception_ptr(RemoteError(what.first, what.second)));
      }
    } catch (...) {  // a result that does not deserialize fails its own item
      errors.emplace_back(index, std::current_exception());
    }
  }
  std::unique_lock lock(mutex_);
  std::size_t e = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t index = first + i;
    std::exception_ptr error;
    if (e < errors.size() && errors[e].first == index) error = std::move(errors[e++].second);
    settle(index, std::move(error));
  }
  settled_ += count;
  finish_locked(lock);
}

void JobBase::fail(std::size_t first, std::size_t count, std::exception_ptr error) {
  std::unique_lock lock(mutex_);
  for (std::size_t i = 0; i < count; ++i) settle(first + i, error);
  settled_ += count;
  finish_locked(lock);
}

void JobBase::settle(std::size_t index, std::exception_ptr error) {
  if (mode_ == Mode::kWhole) {
    if (error && !error_) error_ = std::move(error);
    return;
  }
  item_state_[index] = error ? 2 : 1;
  item_error_[index] = std::move(error);
  if (mode_ == Mode::kUnordered) arrived_.push_back(index);
}

// Called with the lock held after items settled: runs the callbacks (without the lock) before
// the job shows as complete, as Python does, so that a caller whose get() returned sees
// what its callback did.
void JobBase::finish_locked(std::unique_lock<std::mutex>& lock) {
  const bool done = settled_ >= total_ || (mode_ == Mode::kWhole && error_);
  if (done && !callbacks_run_) {
    callbacks_run_ = true;
    std::exception_ptr error = error_;
    lock.unlock();
    on_complete(error);
    lock.lock();
    complete_ = true;
  }
  changed_.notify_all();
}

bool JobBase::wait(double timeout) {
  std::unique_lock lock(mutex_);
  return wait_until(changed_, lock, timeout, [&] { return complete_; });
}

bool JobBase::ready() const {
  std::lock_guard lock(mutex_);
  return complete_;
}

bool JobBase::successful() const {
  std::lock_guard lock(mutex_);
  if (!complete_) throw std::logic_error("mp::AsyncResult::successful: the result is not ready");
  if (mode_ == Mode::kWhole) return !error_;
  return std::none_of(item_state_.begin(), item_state_.end(), [](auto s) { return s == 2; });
}

void JobBase::wait_success(double timeout) {
  std::unique_lock lock(mutex_);
  if (!wait_until(changed_, lock, timeout, [&] { return complete_; })) throw_timeout();
  if (error_) std::rethrow_exception(error_);
}

std::optional<std::size_t> JobBase::next_index(double timeout) {
  std::unique_lock lock(mutex_);
  if (next_ >= total_) return std::nullopt;
  std::size_t index = 0;
  if (mode_ == Mode::kOrdered) {
    if (!wait_until(changed_, lock, timeout, [&] { return item_state_[next_] != 0; }))
      throw_timeout();
    index = next_;
  } else {
    if (!wait_until(changed_, lock, timeout, [&] { return !arrived_.empty(); })) throw_timeout();
    index = arrived_.front();
    arrived_.pop_front();
  }
  ++next_;
  if (item_state_[index] == 2) std::rethrow_exception(item_error_[index]);
  return index;
}

// -----------------------------------------------------------------------------
// Frames
// -----------------------------------------------------------------------------
//
// Task frame:   [u64 length of the rest][u8 kind][u64 id][u32 count]
//               [u32 fn module length][u64 fn offset][u32 runner module length][u64 runner
//               offset][fn module][runner module][items]
// Result frame: [u64 length of the rest][u64 id][u32 count][u64 run time ns][entries]

namespace {

enum FrameKind : std::uint8_t { kTaskFrame = 1, kStopFrame = 2 };
constexpr std::size_t kLengthAt = 0, kKindAt = 8, kIdAt = 9, kCountAt = 17, kCodeAt = 21;
constexpr std::size_t kTaskHeader = kCodeAt + 4 + 8 + 4 + 8;
constexpr std::size_t kResultIdAt = 8, kResultCountAt = 16, kResultTimeAt = 20, kResultHeader = 28;
// The id of the frame a worker sends when its initializer threw.
constexpr std::uint64_t kInitFailedId = ~std::uint64_t{0};

template <class T>
void put(std::string& s, std::size_t at, T value) {
  std::memcpy(s.data() + at, &value, sizeof value);
}
template <class T>
T get(const char* p, std::size_t at) {
  T value;
  std::memcpy(&value, p + at, sizeof value);
  return value;
}

std::string stop_frame() {
  std::string frame(kTaskHeader, '\0');
  put<std::uint64_t>(frame, kLengthAt, kTaskHeader - 8);
  frame[kKindAt] = static_cast<char>(kStopFrame);
  return frame;
}

// Code addresses are looked up once per function: dl_iterate_phdr walks every module.
CodeAddress cached_location(const void* address) {
  static std::mutex mutex;
  static auto* cache = new std::unordered_map<const void*, CodeAddress>;
  std::lock_guard lock(mutex);
  auto it = cache->find(address);
  if (it == cache->end()) it = cache->emplace(address, locate_code(address)).first;
  return it->second;
}

// -----------------------------------------------------------------------------
// Shared layout
// -----------------------------------------------------------------------------

struct PoolControl {
  Parker doorbell;  // the result thread sleeps here
  std::atomic<std::uint32_t> stop{0};
};

constexpr std::uint64_t kRingBytes = 256 * 1024;

struct WorkerRings {
  RingHeader tasks;
  RingHeader results;
};

std::size_t worker_segment_size() { return sizeof(WorkerRings) + 2 * kRingBytes; }
Ring task_ring(void* base) {
  auto* rings = static_cast<WorkerRings*>(base);
  return Ring(&rings->tasks, reinterpret_cast<char*>(rings + 1), kRingBytes);
}
Ring result_ring(void* base) {
  auto* rings = static_cast<WorkerRings*>(base);
  return Ring(&rings->results, reinterpret_cast<char*>(rings + 1) + kRingBytes, kRingBytes);
}

}  // namespace

void ChunkBuilder::finish(std::string& frame, std::uint32_t count) const {
  put<std::uint64_t>(frame, kLengthAt, frame.size() - 8);
  put<std::uint32_t>(frame, kCountAt, count);
}

// -----------------------------------------------------------------------------
// The worker
// -----------------------------------------------------------------------------

struct WorkerSetup {
  SegmentRef control;
  SegmentRef rings;
  bool has_initializer = false;
  CodeAddress init_fn;
  CodeAddress init_runner;
  std::string init_item;
  std::uint64_t maxtasks = 0;  // 0: no limit
  int parent_pid = 0;
  bool watch_parent = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(control, rings, has_initializer, init_fn, init_runner, init_item, maxtasks, parent_pid,
       watch_parent);
  }
};

namespace {

class WorkerLoop {
 public:
  explicit WorkerLoop(WorkerSetup& setup)
      : setup_(setup),
        control_(static_cast<PoolControl*>(setup.control.data())),
        tasks_(task_ring(setup.rings.data())),
        results_(result_ring(setup.rings.data())) {
    // A forkserver worker is the server's child, not the pool owner's: it watches the owner
    // through a pidfd instead of its parent pid.
    if (setup_.watch_parent && ::getppid() != setup_.parent_pid) {
      owner_pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, setup_.parent_pid, 0));
      owner_gone_ = owner_pidfd_ < 0;
    }
  }
  ~WorkerLoop() {
    if (owner_pidfd_ >= 0) ::close(owner_pidfd_);
  }
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

  void run() {
    if (setup_.has_initializer && !run_initializer()) return;
    std::uint64_t done = 0;
    std::string out;
    for (;;) {
      if (!fill(8)) return;
      const auto length = get<std::uint64_t>(in_.data(), 0);
      if (!fill(8 + length)) return;
      const char* frame = in_.data();
      if (static_cast<std::uint8_t>(frame[kKindAt]) == kStopFrame) return;
      const auto id = get<std::uint64_t>(frame, kIdAt);
      const auto count = get<std::uint32_t>(frame, kCountAt);
      std::size_t at = kCodeAt;
      const auto fn_module_length = get<std::uint32_t>(frame, at);
      const auto fn_offset = get<std::uint64_t>(frame, at + 4);
      const auto runner_module_length = get<std::uint32_t>(frame, at + 12);
      const auto runner_offset = get<std::uint64_t>(frame, at + 16);
      at = kTaskHeader;
      std::string_view fn_module(frame + at, fn_module_length);
      std::string_view runner_module(frame + at + fn_module_length, runner_module_length);
      at += fn_module_length + runner_module_length;
      std::string_view items(frame + at, 8 + length - at);

      out.assign(kResultHeader, '\0');
      const std::int64_t start = monotonic_ns();
      try {
        void* fn = resolve(fn_module, fn_offset);
        auto runner = reinterpret_cast<ItemRunner>(resolve(runner_module, runner_offset));
        runner(fn, items, count, out);
      } catch (...) {  // the code could not be found: every item fails with that
        out.resize(kResultHeader);
        for (std::uint32_t i = 0; i < count; ++i) append_current_exception(out);
      }
      const std::int64_t elapsed = monotonic_ns() - start;
      in_.consume(8 + length);
      put<std::uint64_t>(out, 0, out.size() - 8);
      put<std::uint64_t>(out, kResultIdAt, id);
      put<std::uint32_t>(out, kResultCountAt, count);
      put<std::uint64_t>(out, kResultTimeAt, static_cast<std::uint64_t>(elapsed));
      if (!send(out)) return;
      if (setup_.maxtasks != 0 && ++done >= setup_.maxtasks) return;
    }
  }

 private:
  bool run_initializer() {
    std::string out(kResultHeader, '\0');
    try {
      void* fn = resolve_code(setup_.init_fn);
      auto runner = reinterpret_cast<ItemRunner>(resolve_code(setup_.init_runner));
      runner(fn, setup_.init_item, 1, out);
    } catch (...) {
      out.resize(kResultHeader);
      append_current_exception(out);
    }
    if (static_cast<std::uint8_t>(out[kResultHeader]) == kItemOk) return true;
    put<std::uint64_t>(out, 0, out.size() - 8);
    put<std::uint64_t>(out, kResultIdAt, kInitFailedId);
    put<std::uint32_t>(out, kResultCountAt, 1);
    (void)send(out);
    return false;
  }

  // Keeps going while the pool wants it and its owner lives.
  bool alive() const {
    if (control_->stop.load(std::memory_order_acquire) != 0) return false;
    if (!setup_.watch_parent) return true;
    if (owner_gone_) return false;
    if (owner_pidfd_ < 0) return ::getppid() == setup_.parent_pid;
    pollfd p{owner_pidfd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  // Until `in_` holds `n` bytes. False if the pool stopped first.
  bool fill(std::size_t n) {
    while (in_.size() < n) {
      const std::size_t available = tasks_.readable();
      if (available == 0) {
        if (!spin_then_park(
                tasks_.header().readable, [&] { return tasks_.readable() != 0 || stopped(); },
                [&] { return alive(); }, kParkNs) ||
            stopped())
          return false;
        continue;
      }
      const std::size_t want = std::max(available, n - in_.size());
      in_.commit(tasks_.read_some(in_.space(want), available));
      // The result thread may be waiting for room to write the rest of a large frame.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (tasks_.header().producer_waiting.load(std::memory_order_relaxed) != 0)
        control_->doorbell.notify();
    }
    return true;
  }

  bool send(const std::string& frame) {
    std::size_t done = 0;
    while (done < frame.size()) {
      const std::size_t k = results_.write_some(frame.data() + done, frame.size() - done);
      done += k;
      if (k > 0) {
        control_->doorbell.notify();
        continue;
      }
      if (!spin_then_park(
              results_.header().writable, [&] { return results_.has_room() || stopped(); },
              [&] { return alive(); }, kParkNs) ||
          stopped())
        return false;
    }
    return true;
  }

  bool stopped() const { return control_->stop.load(std::memory_order_acquire) != 0; }

  void* resolve(std::string_view module, std::uint64_t offset) {
    if (module.empty() && offset == last_offset_ && last_ != nullptr) return last_;
    std::string key(module);
    key.append(reinterpret_cast<const char*>(&offset), sizeof offset);
    auto it = resolved_.find(key);
    if (it == resolved_.end())
      it = resolved_.emplace(key, resolve_code(CodeAddress{std::string(module), offset})).first;
    if (module.empty()) {
      last_offset_ = offset;
      last_ = it->second;
    }
    return it->second;
  }

  static constexpr std::int64_t kParkNs = 100'000'000;

  WorkerSetup& setup_;
  int owner_pidfd_ = -1;
  bool owner_gone_ = false;
  PoolControl* control_;
  Ring tasks_;
  Ring results_;
  ByteBuffer in_;
  std::unordered_map<std::string, void*> resolved_;
  std::uint64_t last_offset_ = 0;
  void* last_ = nullptr;
};

}  // namespace

// The target of every worker process: runs tasks until told to stop.
void pool_worker_main(WorkerSetup setup) {
  WorkerLoop loop(setup);
  loop.run();
}

// -----------------------------------------------------------------------------
// PoolCore: the owner's side
// -----------------------------------------------------------------------------

class PoolCore {
 public:
  explicit PoolCore(PoolOptions options);
  ~PoolCore();

  ChunkBuilder chunk_builder(TaskCode code);
  void submit(std::vector<Chunk> chunks);
  void check_running();
  void close();
  void terminate();
  void join();
  void cancel_pending();
  [[nodiscard]] std::size_t processes() const noexcept { return processes_; }
  [[nodiscard]] std::vector<pid_t> worker_pids() const;

 private:
  struct InFlight {
    std::shared_ptr<JobBase> job;
    std::size_t first;
    std::uint32_t count;
    std::uint64_t id;
  };
  struct Worker {
    std::optional<Process> process;
    SegmentRef segment;
    Ring tasks;
    Ring results;
    pid_t pid = 0;
    // Which worker this is: a replacement gets a new one. Not the pid, which every worker
    // of a thread-mode pool shares.
    std::uint64_t serial = 0;
    std::deque<InFlight> in_flight;
    std::string outgoing;  // the frame being written
    std::size_t outgoing_at = 0;
    ByteBuffer incoming;
    std::uint64_t sent = 0;
    bool retiring = false;  // given maxtasksperchild chunks: exits after them
    bool exited = false;
    double chunk_ns = 0;  // moving average of the time one chunk takes it
  };
  enum class State { kRunning, kClosed, kTerminating };

  void start_worker(Worker& w);
  void run();
  bool collect(Worker& w);
  void handle_result(Worker& w, const char* frame, std::size_t length);
  bool take_submissions();
  bool dispatch();
  bool flush(Worker& w);
  std::size_t limit(const Worker& w) const;
  void check_workers();
  void worker_gone(Worker& w, int code);
  bool work_remains() const;
  void break_pool(const std::string& why);
  void fail_all(const std::exception_ptr& error);
  void stop_workers_gracefully();
  void kill_workers();
  bool anything_to_do();
  void publish_pids();

  const std::size_t processes_;
  const std::uint64_t maxtasks_;
  const Context context_;
  PoolInitializer initializer_;
  SegmentRef control_segment_;
  PoolControl* control_ = nullptr;

  // Shared with the callers, under mutex_.
  mutable std::mutex mutex_;
  State state_ = State::kRunning;
  std::deque<Chunk> pending_;
  std::string broken_;  // why every task fails, once the initializer threw
  std::vector<pid_t> pids_;
  std::atomic<std::size_t> pending_count_{0};
  std::atomic<bool> wake_{false};  // a state change for the thread to see
  bool cancel_queue_ = false;      // shutdown(cancel_futures): drop the thread's queue too

  // The result thread's own.
  std::vector<Worker> workers_;
  std::deque<Chunk> queue_;
  std::deque<Chunk> cancelled_;
  std::uint64_t next_id_ = 1;
  std::uint64_t worker_counter_ = 0;
  bool closing_ = false;
  bool terminating_ = false;
  std::int64_t next_check_ns_ = 0;

  std::thread thread_;
  std::thread::id thread_id_;
  bool joined_ = false;
  std::mutex join_mutex_;
};

PoolCore::PoolCore(PoolOptions options)
    : processes_(options.processes.value_or(static_cast<std::size_t>(std::max(1, cpu_count())))),
      maxtasks_(options.maxtasksperchild.value_or(0)),
      context_(options.context.value_or(Context(get_start_method()))),
      initializer_(std::move(options.initializer)) {
  if (processes_ == 0) throw std::invalid_argument("mp::Pool: processes must be at least 1");
  if (options.maxtasksperchild && *options.maxtasksperchild == 0)
    throw std::invalid_argument("mp::Pool: maxtasksperchild must be at least 1");
  auto [segment, control] = make_shared_object<PoolControl>("mp.Pool");
  control_segment_ = std::move(segment);
  control_ = control;
  workers_.resize(processes_);
  try {
    for (Worker& w : workers_) start_worker(w);
  } catch (...) {
    kill_workers();
    throw;
  }
  publish_pids();
  thread_ = std::thread([this] { run(); });
  thread_id_ = thread_.get_id();
}

PoolCore::~PoolCore() {
  terminate();
  join();
}

void PoolCore::start_worker(Worker& w) {
  auto segment = Segment::create(worker_segment_size(), "mp.Pool.worker");
  new (segment->data()) WorkerRings();
  w = Worker{};
  w.segment = SegmentRef(std::move(segment));
  w.tasks = task_ring(w.segment.data());
  w.results = result_ring(w.segment.data());
  WorkerSetup setup;
  setup.control = control_segment_;
  setup.rings = w.segment;
  if (initializer_) {
    setup.has_initializer = true;
    setup.init_fn = cached_location(initializer_.code_.fn);
    setup.init_runner = cached_location(reinterpret_cast<const void*>(initializer_.code_.runner));
    setup.init_item = initializer_.item_;
  }
  setup.maxtasks = maxtasks_;
  setup.parent_pid = static_cast<int>(::getpid());
  setup.watch_parent = context_.method() != StartMethod::kThread;
  std::string name(start_method_name(context_.method()));
  name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  name += "PoolWorker-" + std::to_string(++worker_counter_);
  w.serial = worker_counter_;
  w.process.emplace(
      context_.Process(ProcessOptions{std::move(name), true}, &pool_worker_main, setup));
  w.process->start();
  w.pid = w.process->pid();
}

void PoolCore::publish_pids() {
  std::vector<pid_t> pids;
  for (const Worker& w : workers_)
    if (!w.exited) pids.push_back(w.pid);
  std::lock_guard lock(mutex_);
  pids_ = std::move(pids);
}

std::vector<pid_t> PoolCore::worker_pids() const {
  std::lock_guard lock(mutex_);
  return pids_;
}

ChunkBuilder PoolCore::chunk_builder(TaskCode code) {
  CodeAddress fn = cached_location(code.fn);
  CodeAddress runner = cached_location(reinterpret_cast<const void*>(code.runner));
  ChunkBuilder builder;
  std::string& p = builder.prefix_;
  p.assign(kTaskHeader, '\0');
  p[kKindAt] = static_cast<char>(kTaskFrame);
  put<std::uint32_t>(p, kCodeAt, static_cast<std::uint32_t>(fn.module.size()));
  put<std::uint64_t>(p, kCodeAt + 4, fn.offset);
  put<std::uint32_t>(p, kCodeAt + 12, static_cast<std::uint32_t>(runner.module.size()));
  put<std::uint64_t>(p, kCodeAt + 16, runner.offset);
  p += fn.module;
  p += runner.module;
  return builder;
}

void PoolCore::check_running() {
  std::lock_guard lock(mutex_);
  if (state_ != State::kRunning)
    throw std::logic_error("mp::Pool: the pool is not running (closed or terminated)");
}

void PoolCore::submit(std::vector<Chunk> chunks) {
  std::string broken;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kRunning)
      throw std::logic_error("mp::Pool: the pool is not running (closed or terminated)");
    broken = broken_;
    if (broken.empty()) {
      for (Chunk& c : chunks) pending_.push_back(std::move(c));
      pending_count_.fetch_add(chunks.size(), std::memory_order_release);
    }
  }
  if (!broken.empty()) {
    auto error = std::make_exception_ptr(BrokenPool(broken));
    for (Chunk& c : chunks) c.job->fail(c.first, c.count, error);
    return;
  }
  control_->doorbell.notify();
}

void PoolCore::close() {
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kRunning) state_ = State::kClosed;
  }
  wake_.store(true, std::memory_order_release);
  control_->doorbell.notify();
}

void PoolCore::terminate() {
  {
    std::lock_guard lock(mutex_);
    state_ = State::kTerminating;
  }
  wake_.store(true, std::memory_order_release);
  control_->doorbell.notify();
  // From a callback (the result thread itself), the thread stops once the callback returns.
  if (std::this_thread::get_id() != thread_id_) join();
}

void PoolCore::join() {
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kRunning)
      throw std::logic_error("mp::Pool::join: call close() or terminate() first");
  }
  if (std::this_thread::get_id() == thread_id_)
    throw std::logic_error("mp::Pool::join: called from a callback, on the pool's own thread");
  std::lock_guard lock(join_mutex_);
  if (!joined_) {
    if (thread_.joinable()) thread_.join();
    joined_ = true;
  }
}

void PoolCore::cancel_pending() {
  std::deque<Chunk> cancelled;
  {
    std::lock_guard lock(mutex_);
    cancelled.swap(pending_);
    pending_count_.store(0, std::memory_order_relaxed);
    cancel_queue_ = true;  // the thread drops its own queue too
  }
  wake_.store(true, std::memory_order_release);
  control_->doorbell.notify();
  auto error = std::make_exception_ptr(BrokenPool("mp::Pool: cancelled before it started"));
  for (Chunk& c : cancelled) c.job->fail(c.first, c.count, error);
}

// ---- the result thread ----

void PoolCore::run() {
  int idle = 0;
  for (;;) {
    bool progress = false;
    for (Worker& w : workers_)
      if (!w.exited) progress |= collect(w);
    progress |= take_submissions();
    progress |= dispatch();
    const std::int64_t now = monotonic_ns();
    if (now >= next_check_ns_) {
      check_workers();
      next_check_ns_ = now + 10'000'000;
    }
    if (terminating_) {
      kill_workers();
      fail_all(std::make_exception_ptr(
          BrokenPool("mp::Pool: the pool was terminated before this task finished")));
      return;
    }
    if (closing_ && !work_remains()) {
      stop_workers_gracefully();
      return;
    }
    if (progress) {
      idle = 0;
      continue;
    }
    if (++idle < kSpinIterations) {
      cpu_relax();
    } else if (idle < kSpinIterations + kYieldIterations) {
      ::sched_yield();
    } else {
      control_->doorbell.park([&] { return anything_to_do(); }, 20'000'000);
      idle = kSpinIterations;  // after a wake-up, yield a while before sleeping again
      next_check_ns_ = 0;
    }
  }
}

bool PoolCore::anything_to_do() {
  if (pending_count_.load(std::memory_order_acquire) != 0) return true;
  if (wake_.load(std::memory_order_acquire)) return true;
  for (Worker& w : workers_) {
    if (w.exited) continue;
    if (w.results.readable() != 0) return true;
    if (w.outgoing_at < w.outgoing.size() && w.tasks.has_room()) return true;
  }
  return false;
}

bool PoolCore::work_remains() const {
  if (!queue_.empty() || pending_count_.load(std::memory_order_acquire) != 0) return true;
  for (const Worker& w : workers_)
    if (!w.exited && (!w.in_flight.empty() || w.outgoing_at < w.outgoing.size())) return true;
  return false;
}

bool PoolCore::take_submissions() {
  bool changed = false;
  if (wake_.exchange(false, std::memory_order_acq_rel)) {
    std::lock_guard lock(mutex_);
    closing_ = state_ == State::kClosed;
    terminating_ = state_ == State::kTerminating;
    if (cancel_queue_) {
      cancel_queue_ = false;
      cancelled_.swap(queue_);
    }
    changed = true;
  }
  if (!cancelled_.empty()) {
    auto error = std::make_exception_ptr(BrokenPool("mp::Pool: cancelled before it started"));
    std::deque<Chunk> cancelled;
    cancelled.swap(cancelled_);
    for (Chunk& c : cancelled) c.job->fail(c.first, c.count, error);
  }
  if (pending_count_.load(std::memory_order_acquire) == 0) return changed;
  std::deque<Chunk> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(pending_);
    pending_count_.store(0, std::memory_order_relaxed);
  }
  if (queue_.empty()) {
    queue_.swap(taken);
  } else {
    for (Chunk& c : taken) queue_.push_back(std::move(c));
  }
  return true;
}

std::size_t PoolCore::limit(const Worker& w) const {
  // About a millisecond of work in advance, measured; one chunk until a worker has reported.
  if (w.chunk_ns <= 0) return 1;
  const double n = 1.0 + 1e6 / std::max(w.chunk_ns, 1.0);
  return static_cast<std::size_t>(std::clamp(n, 1.0, 512.0));
}

bool PoolCore::dispatch() {
  bool progress = false;
  for (Worker& w : workers_)
    if (!w.exited) progress |= flush(w);
  while (!queue_.empty()) {
    Worker* best = nullptr;
    for (Worker& w : workers_) {
      if (w.exited || w.retiring || w.outgoing_at < w.outgoing.size()) continue;
      if (w.in_flight.size() >= limit(w)) continue;
      if (best == nullptr || w.in_flight.size() < best->in_flight.size()) best = &w;
    }
    if (best == nullptr) break;
    Chunk chunk = std::move(queue_.front());
    queue_.pop_front();
    const std::uint64_t id = next_id_++;
    put<std::uint64_t>(chunk.frame, kIdAt, id);
    best->in_flight.push_back(InFlight{std::move(chunk.job), chunk.first, chunk.count, id});
    best->outgoing = std::move(chunk.frame);
    best->outgoing_at = 0;
    if (maxtasks_ != 0 && ++best->sent >= maxtasks_) best->retiring = true;
    flush(*best);
    progress = true;
  }
  return progress;
}

bool PoolCore::flush(Worker& w) {
  if (w.outgoing_at >= w.outgoing.size()) return false;
  const std::size_t k =
      w.tasks.write_some(w.outgoing.data() + w.outgoing_at, w.outgoing.size() - w.outgoing_at);
  w.outgoing_at += k;
  if (k > 0) w.tasks.header().readable.notify();
  if (w.outgoing_at >= w.outgoing.size()) {
    w.outgoing.clear();
    w.outgoing_at = 0;
    w.tasks.header().producer_waiting.store(0, std::memory_order_relaxed);
  } else {
    w.tasks.header().producer_waiting.store(1, std::memory_order_seq_cst);
  }
  return k > 0;
}

bool PoolCore::collect(Worker& w) {
  const std::size_t available = w.results.readable();
  if (available == 0) return false;
  w.incoming.commit(w.results.read_some(w.incoming.space(available), available));
  w.results.header().writable.notify();
  while (w.incoming.size() >= 8) {
    const auto length = get<std::uint64_t>(w.incoming.data(), 0);
    if (w.incoming.size() < 8 + length) break;
    handle_result(w, w.incoming.data(), 8 + length);
    w.incoming.consume(8 + length);
  }
  if (w.retiring && w.in_flight.empty()) {
    // It exits after its last result: reap it now rather than at the next check, so that a
    // replacement starts at once.
    if (!w.process->join(5.0)) {
      w.process->kill();
      w.process->join();
    }
    worker_gone(w, w.process->exitcode().value_or(0));
  }
  return true;
}

void PoolCore::handle_result(Worker& w, const char* frame, std::size_t length) {
  const auto id = get<std::uint64_t>(frame, kResultIdAt);
  const auto count = get<std::uint32_t>(frame, kResultCountAt);
  const auto elapsed = get<std::uint64_t>(frame, kResultTimeAt);
  std::string_view entries(frame + kResultHeader, length - kResultHeader);
  if (id == kInitFailedId) {
    std::string why = "mp::Pool: the initializer of worker " + std::to_string(w.pid) + " threw";
    try {
      std::string_view rest = entries.substr(1);
      auto what = deserialize<std::pair<std::string, std::string>>(next_item(rest));
      why += " " + what.first + ": " + what.second;
    } catch (...) {
    }
    break_pool(why);
    return;
  }
  if (w.in_flight.empty() || w.in_flight.front().id != id)
    fatal("mp::Pool: a worker answered a task it was not given");
  InFlight done = std::move(w.in_flight.front());
  w.in_flight.pop_front();
  const auto took = static_cast<double>(elapsed);
  w.chunk_ns = w.chunk_ns <= 0 ? took : 0.8 * w.chunk_ns + 0.2 * took;
  done.job->deliver(done.first, count, entries);
}

void PoolCore::check_workers() {
  for (Worker& w : workers_) {
    if (w.exited) {
      continue;
    }
    std::optional<int> code = w.process->exitcode();
    if (!code) continue;
    const std::uint64_t serial = w.serial;
    collect(w);                                    // what it wrote before it died
    if (w.exited || w.serial != serial) continue;  // collect saw it retire
    worker_gone(w, *code);
  }
}

namespace {
std::string death_of(pid_t pid, int code) {
  std::string s = "mp::Pool: worker " + std::to_string(pid);
  if (code < 0) {
    const char* abbrev = ::sigabbrev_np(-code);
    s += " was killed by signal " + std::to_string(-code) +
         (abbrev != nullptr ? " (SIG" + std::string(abbrev) + ")" : std::string());
  } else {
    s += " exited with code " + std::to_string(code);
  }
  return s + " while holding this task";
}
}  // namespace

void PoolCore::worker_gone(Worker& w, int code) {
  w.exited = true;
  std::deque<InFlight> lost;
  lost.swap(w.in_flight);
  if (!lost.empty()) {
    auto error = std::make_exception_ptr(BrokenPool(death_of(w.pid, code)));
    for (InFlight& f : lost) f.job->fail(f.first, f.count, error);
  }
  bool broken = false;
  {
    std::lock_guard lock(mutex_);
    broken = !broken_.empty();
  }
  if (!terminating_ && !broken && (!closing_ || work_remains())) {
    try {
      start_worker(w);
    } catch (const std::exception& e) {
      break_pool(std::string("mp::Pool: a replacement worker could not start: ") + e.what());
    }
  }
  publish_pids();
}

void PoolCore::break_pool(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (broken_.empty()) broken_ = why;
  }
  fail_all(std::make_exception_ptr(BrokenPool(why)));
}

void PoolCore::fail_all(const std::exception_ptr& error) {
  std::deque<Chunk> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(pending_);
    pending_count_.store(0, std::memory_order_relaxed);
  }
  for (Chunk& c : queue_) c.job->fail(c.first, c.count, error);
  queue_.clear();
  for (Chunk& c : taken) c.job->fail(c.first, c.count, error);
  for (Worker& w : workers_) {
    std::deque<InFlight> lost;
    lost.swap(w.in_flight);
    for (InFlight& f : lost) f.job->fail(f.first, f.count, error);
    w.outgoing.clear();
    w.outgoing_at = 0;
  }
}

void PoolCore::stop_workers_gracefully() {
  const std::string stop = stop_frame();
  for (Worker& w : workers_) {
    if (w.exited) continue;
    if (w.tasks.write_some(stop.data(), stop.size()) == stop.size()) {
      w.tasks.header().readable.notify();
    } else {
      control_->stop.store(1, std::memory_order_release);
      w.tasks.header().readable.notify();
    }
  }
  for (Worker& w : workers_) {
    if (w.exited) continue;
    w.process->join();
    w.exited = true;
  }
  publish_pids();
}

void PoolCore::kill_workers() {
  control_->stop.store(1, std::memory_order_release);
  for (Worker& w : workers_) {
    if (w.exited || !w.process) continue;
    w.tasks.header().readable.notify();
    w.results.header().writable.notify();
  }
  const bool threads = context_.method() == StartMethod::kThread;
  for (Worker& w : workers_) {
    if (w.exited || !w.process || threads) continue;
    try {
      w.process->terminate();
    } catch (const std::exception&) {
    }
  }
  for (Worker& w : workers_) {
    if (w.exited || !w.process) continue;
    if (!threads && !w.process->join(1.0)) w.process->kill();
    w.process->join();
    w.exited = true;
  }
  publish_pids();
}

}  // namespace detail

// -----------------------------------------------------------------------------
// Pool
// -----------------------------------------------------------------------------

Pool::Pool(PoolOptions options) : core_(std::make_unique<detail::PoolCore>(std::move(options))) {}

Pool::~Pool() = default;

void Pool::close() { core_->close(); }
void Pool::terminate() { core_->terminate(); }
void Pool::join() { core_->join(); }
std::size_t Pool::processes() const noexcept { return core_->processes(); }
std::vector<pid_t> Pool::worker_pids() const { return core_->worker_pids(); }

std::size_t Pool::chosen_chunksize(std::optional<std::size_t> chunksize, std::size_t items) const {
  if (chunksize) {
    if (*chunksize == 0) throw std::invalid_argument("mp::Pool: chunksize must be at least 1");
    return *chunksize;
  }
  // Python's rule: about four chunks per worker.
  const std::size_t per = core_->processes() * 4;
  std::size_t size = items / per;
  if (items % per != 0) ++size;
  return std::max<std::size_t>(size, 1);
}

detail::ChunkBuilder Pool::chunk_builder(detail::TaskCode code) {
  return core_->chunk_builder(code);
}

void Pool::submit(std::vector<detail::Chunk> chunks) { core_->submit(std::move(chunks)); }

void Pool::submit_or_complete(const std::shared_ptr<detail::JobBase>& job,
                              std::vector<detail::Chunk> chunks) {
  if (chunks.empty()) {
    core_->check_running();
    job->deliver(0, 0, {});
    return;
  }
  core_->submit(std::move(chunks));
}

void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  if (cancel_futures) pool_.core_->cancel_pending();
  pool_.close();
  if (wait && !joined_) {
    pool_.join();
    joined_ = true;
  }
}

}  // namespace mp
