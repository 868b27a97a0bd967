// A connection pool, a token bucket and a statistics registry guarded by std::mutex and
// std::atomic, written the way such classes are written outside this project; the findings
// are marked.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

class Connection {
 public:
  explicit Connection(int id) : id_(id) {}
  int id() const { return id_; }

 private:
  int id_;
};

class ConnectionPool {
 public:
  explicit ConnectionPool(std::size_t capacity) : capacity_(capacity) {}

  std::unique_ptr<Connection> acquire() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return !idle_.empty() || open_ < capacity_; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.front());
      idle_.pop_front();
      return c;
    }
    ++open_;
    lk.unlock();
    return std::make_unique<Connection>(next_id_.fetch_add(1));
  }

  void release(std::unique_ptr<Connection> c) {
    {
      std::lock_guard<std::mutex> guard(mu_);
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

  bool has_idle() const {
    std::lock_guard<std::mutex> guard(mu_);
    return !idle_.empty();
  }

  std::size_t idle_count() const {
    std::lock_guard<std::mutex> guard(mu_);
    return idle_.size();
  }

  // Checks the size without the lock, then trims under it: another thread can trim (or
  // acquire) in between, and pop_back runs on an empty deque.
  void shrink(std::size_t keep) {
    while (idle_.size() > keep) {  // expected-note{{'idle_' is checked here by 'size'}}
      std::lock_guard<std::mutex> guard(mu_);
      idle_.pop_back();  // expected-warning{{'idle_' may change between the check and 'pop_back': no lock is held from one to the other [ipc-check-then-act]}}
    }
  }

  void shrink_locked(std::size_t keep) {
    std::lock_guard<std::mutex> guard(mu_);
    while (idle_.size() > keep)
      idle_.pop_back();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
  const std::size_t capacity_;
  std::atomic<int> next_id_{1};
};

// The idle connection seen by has_idle() can be gone when acquire() runs, but acquire()
// checks again under its own lock: the earlier check decides nothing that can go wrong.
std::unique_ptr<Connection> take_idle(ConnectionPool& pool) {
  if (!pool.has_idle())
    return nullptr;
  return pool.acquire();
}

void log_size(ConnectionPool& pool);

void return_all(ConnectionPool& pool, std::deque<std::unique_ptr<Connection>>& mine) {
  // A local container: nobody else sees it.
  while (!mine.empty()) {
    pool.release(std::move(mine.back()));
    mine.pop_back();
  }
}

class TokenBucket {
 public:
  explicit TokenBucket(int capacity) : capacity_(capacity) {}

  bool try_take() {
    if (tokens_.load() > 0) {  // expected-note{{'tokens_' is checked here by 'load'}}
      tokens_.fetch_sub(1);  // expected-warning{{'tokens_' may change between the check and 'fetch_sub': no lock is held from one to the other [ipc-check-then-act]}}
      return true;
    }
    return false;
  }

  bool try_take_cas() {
    int t = tokens_.load(std::memory_order_relaxed);
    while (t > 0)
      if (tokens_.compare_exchange_weak(t, t - 1, std::memory_order_acquire))
        return true;
    return false;
  }

  void refill(int n) {
    tokens_.store(std::min(capacity_, tokens_.load() + n));  // expected-warning{{non-atomic update of 'tokens_': 'store' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'tokens_' is read here by 'load'}}
  }

  void refill_cas(int n) {
    int t = tokens_.load();
    while (!tokens_.compare_exchange_weak(t, std::min(capacity_, t + n))) {
    }
  }

  int available() const { return tokens_.load(); }

 private:
  std::atomic<int> tokens_{0};
  const int capacity_;
};

class Stats {
 public:
  void increment(const std::string& key) {
    std::lock_guard<std::mutex> guard(mu_);
    ++counts_[key];
  }
  long get(const std::string& key) const {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }
  void set(const std::string& key, long value) {
    std::lock_guard<std::mutex> guard(mu_);
    counts_[key] = value;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, long> counts_;
};

void add_two(Stats& s) {
  s.set("requests", s.get("requests") + 2);  // expected-warning{{non-atomic update of 's.counts_': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'s.counts_' is read here by 'get'}}
}

void add_two_ok(Stats& s) {
  s.increment("requests");
  s.increment("requests");
}

// Lazily built configuration, double-checked.
struct Config {
  int verbosity = 0;
};
std::atomic<Config*> g_config{nullptr};
std::mutex g_config_mu;

Config* config() {
  Config* c = g_config.load(std::memory_order_acquire);
  if (!c) {
    std::lock_guard<std::mutex> guard(g_config_mu);
    c = g_config.load(std::memory_order_relaxed);
    if (!c) {
      c = new Config();
      g_config.store(c, std::memory_order_release);
    }
  }
  return c;
}

// A request counter: fetch_add alone is atomic.
std::atomic<long> g_requests{0};
long next_request_id() { return g_requests.fetch_add(1) + 1; }

// Reads that only report.
void log_size(ConnectionPool& pool);
int report(const TokenBucket& b, ConnectionPool& pool) {
  log_size(pool);
  return b.available() + static_cast<int>(pool.idle_count());
}
