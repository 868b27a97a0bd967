// A cache, a background flusher and a session table on the standard library's threads,
// written the way such classes are written outside this project; the deadlocks are marked.
// CHECKS: ipc-lock-reacquire,ipc-blocking-under-lock
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

std::string fetch_from_disk(const std::string& key);

class Cache {
 public:
  std::string get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);  // expected-note{{'mu_' acquired again here, in 'get'}}
    auto it = entries_.find(key);
    return it == entries_.end() ? std::string() : it->second;
  }

  bool contains(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.count(key) > 0;
  }

  // Calls the public get() with the lock held.
  std::string get_or_default(const std::string& key, const std::string& fallback) {
    std::lock_guard<std::mutex> lock(mu_);  // expected-note{{'mu_' first acquired here}}
    if (entries_.empty())
      return fallback;
    return get(key);  // expected-warning{{call to 'get' acquires 'mu_' while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  }

  // The usual fix: a private helper that expects the lock held.
  std::string get_or(const std::string& key, const std::string& fallback) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string v = get_locked(key);
    return v.empty() ? fallback : v;
  }

  // Loads outside the lock, inserts under it.
  std::string load(const std::string& key) {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end())
      return it->second;
    lock.unlock();
    std::string v = fetch_from_disk(key);
    lock.lock();
    entries_.emplace(key, v);
    return v;
  }

  // Waits for the loader's future with the lock held: the loader inserts under the same lock.
  std::string load_async(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);  // expected-note{{'mu_' acquired here}}
    std::future<std::string> f = std::async(std::launch::async, [this, key] {
      std::string v = fetch_from_disk(key);
      std::lock_guard<std::mutex> inner(mu_);
      entries_[key] = v;
      return v;
    });
    return f.get();  // expected-warning{{blocking call to 'get' while holding 'mu_' [ipc-blocking-under-lock]}}
  }

 private:
  std::string get_locked(const std::string& key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? std::string() : it->second;
  }

  std::mutex mu_;
  std::map<std::string, std::string> entries_;
};

class Flusher {
 public:
  void start() {
    worker_ = std::thread([this] { run(); });
  }

  // Joins with the lock held: run() needs it to see stop_.
  void stop_bad() {
    std::lock_guard<std::mutex> lock(mu_);  // expected-note{{'mu_' acquired here}}
    stop_ = true;
    cv_.notify_one();
    worker_.join();  // expected-warning{{blocking call to 'join' while holding 'mu_' [ipc-blocking-under-lock]}}
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    worker_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, 100ms);  // its own lock, with a timeout
      flush_locked();
    }
  }
  void flush_locked() { pending_.clear(); }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::string> pending_;
  std::thread worker_;
};

class Sessions {
 public:
  int count() const {
    std::shared_lock<std::shared_mutex> read(mu_);  // expected-note{{'mu_' acquired again here, in 'count'}}
    return static_cast<int>(ids_.size());
  }

  bool has(int id) const {
    std::shared_lock<std::shared_mutex> read(mu_);
    return count() > 0 && ids_.count(id) > 0;  // a second shared lock: allowed
  }

  void add(int id) {
    std::unique_lock<std::shared_mutex> write(mu_);  // expected-note{{'mu_' first acquired here}}
    if (count() < 1000)  // expected-warning{{call to 'count' acquires 'mu_' while it is held: 'std::shared_mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
      ids_[id] = 0;
  }

  // Polls with a sleep while holding the write lock.
  void wait_until_empty() {
    std::unique_lock<std::shared_mutex> write(mu_);  // expected-note{{'mu_' acquired here}}
    while (!ids_.empty())
      std::this_thread::sleep_for(10ms);  // expected-warning{{blocking call to 'sleep_for' while holding 'mu_' [ipc-blocking-under-lock]}}
  }

  void merge(Sessions& other) {
    std::scoped_lock both(mu_, other.mu_);  // two objects: not a re-acquisition
    for (auto& [id, v] : other.ids_)
      ids_[id] = v;
  }

 private:
  mutable std::shared_mutex mu_;
  std::map<int, int> ids_;
};

// A recursive mutex where a visitor calls back into the tree.
class Tree {
 public:
  void visit(int depth) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (depth > 0)
      visit_child(depth - 1);
  }
  void visit_child(int depth) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    nodes_ += depth;
  }

 private:
  std::recursive_mutex mu_;
  int nodes_ = 0;
};
