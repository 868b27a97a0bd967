// Corpus for ipc-nonatomic-update: a read-modify-write of shared state made of a separate read
// and write with no lock held across both. bad* functions must warn, ok* must not.
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -I include %s

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>
#include <pthread.h>
#include <semaphore.h>

#include "boost/interprocess/sync/interprocess_mutex.hpp"
#include "boost/interprocess/sync/scoped_lock.hpp"
#include "mp/mp.h"

namespace bip = boost::interprocess;

void log(int);

mp::Lock lock;
std::mutex mutex;
pthread_mutex_t pmutex = PTHREAD_MUTEX_INITIALIZER;

// --- mp ------------------------------------------------------------------------------------

void bad1_compound(mp::Value<int>& v) {
  v.value() += 1;  // expected-warning{{non-atomic update of 'v': '+=' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

void bad2_get_then_set(mp::Value<int>& v) {
  v.set(v.get() + 1);  // expected-warning{{non-atomic update of 'v': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'v' is read here by 'get'}}
}

void bad3_array_increment(mp::Array<int>& arr, std::size_t i) {
  arr[i]++;  // expected-warning{{non-atomic update of 'arr': '++' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

void bad4_value_proxy(mp::ValueProxy<int>& p) {
  p.set(p.get() + 1);  // expected-warning{{non-atomic update of 'p': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'p' is read here by 'get'}}
}

void bad5_through_local(mp::Value<int>& v) {
  int n = v.get();  // expected-note{{'v' is read here by 'get'}}
  n *= 2;
  v.set(n);  // expected-warning{{non-atomic update of 'v': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}}
}

void bad6_preincrement(mp::Value<int>& v) {
  ++v.value();  // expected-warning{{non-atomic update of 'v': '++' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

void bad7_assign_from_self(mp::Value<int>& v) {
  v.value() = v.value() * 2;  // expected-warning{{non-atomic update of 'v': '=' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'v' is read here by 'value'}}
}

void bad8_dict_proxy(mp::DictProxy<int, int>& d, int k) {
  d.set(k, d.get(k) + 1);  // expected-warning{{non-atomic update of 'd': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'d' is read here by 'get'}}
}

void bad9_list_proxy(mp::ListProxy<int>& l, std::size_t i) {
  l.set(i, l.get(i) + 1);  // expected-warning{{non-atomic update of 'l': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'l' is read here by 'get'}}
}

static int current(mp::Value<int>& v) { return v.get(); }

void bad10_helper_reads(mp::Value<int>& v) {
  v.set(current(v) + 1);  // expected-warning{{non-atomic update of 'v': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'v' is read here by 'current'}}
}

static void store(mp::Value<int>& v, int x) { v.set(x); }

void bad11_helper_writes(mp::Value<int>& v) {
  store(v, v.get() + 1);  // expected-warning{{non-atomic update of 'v': 'store' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'v' is read here by 'get'}}
}

void bad12_lock_only_around_read(mp::Value<int>& v) {
  int n;
  {
    mp::LockGuard<mp::RLock> guard(v.get_lock());
    n = v.get();  // expected-note{{'v' is read here by 'get'}}
  }
  v.set(n + 1);  // expected-warning{{non-atomic update of 'v': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}}
}

void bad13_raw_value(mp::RawValue<int>& raw) {
  raw.value() += 5;  // expected-warning{{non-atomic update of 'raw': '+=' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

void bad14_raw_array(mp::RawArray<long>& raw) {
  raw[3]--;  // expected-warning{{non-atomic update of 'raw': '--' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

struct Counter {
  mp::Value<int> hits;
  void bump() {
    hits.set(hits.get() + 1);  // expected-warning{{non-atomic update of 'hits': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'hits' is read here by 'get'}}
  }
};

void bad15_array_set_get(mp::Array<int>& arr, std::size_t i) {
  arr.set(i, arr.get(i) + 1);  // expected-warning{{non-atomic update of 'arr': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'arr' is read here by 'get'}}
}

// --- std -----------------------------------------------------------------------------------

void bad16_atomic_load_store(std::atomic<int>& a) {
  a.store(a.load() + 1);  // expected-warning{{non-atomic update of 'a': 'store' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'a' is read here by 'load'}}
}

void bad17_atomic_operators(std::atomic<int>& a) {
  a = a + 1;  // expected-warning{{non-atomic update of 'a': 'operator=' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'a' is read here by 'operator T'}}
}

void bad18_atomic_through_local(std::atomic<long>& total, long add) {
  long old = total.load();  // expected-note{{'total' is read here by 'load'}}
  total.store(old + add);  // expected-warning{{non-atomic update of 'total': 'store' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}}
}

void bad19_unique_lock_released(mp::Value<int>& v) {
  std::unique_lock<std::mutex> lk(mutex);
  int n = v.get();  // expected-note{{'v' is read here by 'get'}}
  lk.unlock();
  v.set(n + 1);  // expected-warning{{non-atomic update of 'v': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}}
}

// --- POSIX and Boost -------------------------------------------------------------------------

void bad20_pthread_released(mp::Value<int>& v) {
  pthread_mutex_lock(&pmutex);
  int n = v.get();  // expected-note{{'v' is read here by 'get'}}
  pthread_mutex_unlock(&pmutex);
  v.set(n + 1);  // expected-warning{{non-atomic update of 'v': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}}
}

void bad21_boost_released(bip::interprocess_mutex& mu, mp::RawValue<int>& raw) {
  int n;
  {
    bip::scoped_lock<bip::interprocess_mutex> lk(mu);
    n = raw.get();  // expected-note{{'raw' is read here by 'get'}}
  }
  raw.set(n + 1);  // expected-warning{{non-atomic update of 'raw': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}}
}

// --- plain fields beside a lock -------------------------------------------------------------

struct SharedCounter {
  pthread_mutex_t mu;
  long hits;
};

void bad22_shm_increment(SharedCounter* shm) {
  shm->hits++;  // expected-warning{{non-atomic update of 'shm->hits': '++' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

class Stats {
 public:
  void record() {
    ++count_;  // expected-warning{{non-atomic update of 'count_': '++' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
  }
  void record_locked() {
    std::lock_guard<std::mutex> guard(mu_);
    ++count_;
  }
  Stats() { count_ = 0; }

 private:
  std::mutex mu_;
  long count_;
};

void bad23_shm_copy(SharedCounter* shm) {
  long n = shm->hits;  // expected-note{{'shm->hits' is read here}}
  shm->hits = n + 1;   // expected-warning{{non-atomic update of 'shm->hits': '=' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}}
}

// --- plain globals that some code guards with a lock ----------------------------------------

long total = 0;     // Guarded in ok24_global_locked: shared.
long scratch = 0;   // Never used under a lock: nothing says it is shared.

void bad24_global_increment() {
  total += 2;  // expected-warning{{non-atomic update of 'total': '+=' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

// Each accessor locks, but get-then-set does not.
class Gauge {
 public:
  long get() {
    std::lock_guard<std::mutex> guard(mu_);
    return level_;
  }
  void set(long v) {
    std::lock_guard<std::mutex> guard(mu_);
    level_ = v;
  }
  void add(long d) {
    std::lock_guard<std::mutex> guard(mu_);
    level_ += d;
  }

 private:
  std::mutex mu_;
  long level_ = 0;
};

void bad25_locked_accessors(Gauge& g) {
  g.set(g.get() + 1);  // expected-warning{{non-atomic update of 'g.level_': 'set' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'g.level_' is read here by 'get'}}
}

// A field with no lock beside it, guarded by a semaphore elsewhere in the file.
struct Tally {
  long done;
};

void bad26_unguarded_where_guarded_elsewhere(Tally* t) {
  t->done++;  // expected-warning{{non-atomic update of 't->done': '++' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

void bad27_through_local_reference(SharedCounter* shm) {
  long& hits = shm->hits;
  hits += 1;  // expected-warning{{non-atomic update of 'shm->hits': '+=' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

// --- classes no table describes, shared because the file uses them under a lock ------------

std::map<std::string, long> hits_by_page;
std::vector<long> slot_counts(16);

void bad28_map_increment(const std::string& page) {
  ++hits_by_page[page];  // expected-warning{{non-atomic update of 'hits_by_page': '++' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

void bad29_map_at_then_assign(const std::string& page) {
  hits_by_page[page] = hits_by_page.at(page) + 1;  // expected-warning{{non-atomic update of 'hits_by_page': '=' writes a value computed from an earlier read with no lock held across both [ipc-nonatomic-update]}} expected-note{{'hits_by_page' is read here by 'at'}}
}

void bad30_vector_element(std::size_t i) {
  slot_counts[i] += 1;  // expected-warning{{non-atomic update of 'slot_counts': '+=' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

// --- near misses and correct code ----------------------------------------------------------

void ok1_value_lock(mp::Value<int>& v) {
  mp::LockGuard<mp::RLock> guard(v.get_lock());
  v.value() += 1;
}

void ok2_value_lock_get_set(mp::Value<int>& v) {
  mp::LockGuard<mp::RLock> guard(v.get_lock());
  v.set(v.get() + 1);
}

void ok3_fetch_add(std::atomic<int>& a) { a.fetch_add(1); }

void ok4_atomic_increment(std::atomic<int>& a) {
  a++;
  a += 5;
}

void ok5_compare_exchange(std::atomic<int>& a) {
  int expected = a.load();
  while (!a.compare_exchange_weak(expected, expected + 1)) {
  }
}

void ok6_different_objects(mp::Value<int>& from, mp::Value<int>& to) { to.set(from.get() + 1); }

void ok7_constant_write(mp::Value<int>& v) { v.set(42); }

void ok8_server_side_update(mp::DictProxy<int, int>& d, int k) {
  d.update_with(k, [](int x) { return x + 1; });
}

void ok9_std_mutex(std::atomic<int>& a) {
  std::lock_guard<std::mutex> guard(mutex);
  a.store(a.load() + 1);
}

void ok10_pthread(mp::Value<int>& v) {
  pthread_mutex_lock(&pmutex);
  v.set(v.get() + 1);
  pthread_mutex_unlock(&pmutex);
}

void ok11_boost(bip::interprocess_mutex& mu, mp::RawValue<int>& raw) {
  bip::scoped_lock<bip::interprocess_mutex> lk(mu);
  raw.value() += 1;
}

void ok12_read_only(mp::Value<int>& v) {
  int n = v.get();
  log(n + 1);
}

void ok13_local_arithmetic(mp::Value<int>& v) {
  int x = v.get();
  x++;
  log(x);
}

void ok14_raw_array_locked(mp::RawArray<int>& raw) {
  mp::LockGuard<mp::Lock> guard(lock);
  raw[0]++;
}

void ok15_append(mp::ListProxy<int>& l, mp::Value<int>& v) { l.append(v.get()); }

void ok16_unique_lock_held(mp::Value<int>& v) {
  std::unique_lock<std::mutex> lk(mutex);
  int n = v.get();
  v.set(n + 1);
  lk.unlock();
}

void ok17_semaphore_as_lock(mp::Semaphore& s, mp::Value<int>& v) {
  s.acquire();
  v.set(v.get() + 1);
  s.release();
}

void ok18_manual_lock(mp::Value<int>& v) {
  lock.acquire();
  v.value() += 1;
  lock.release();
}

void ok19_overwritten_local(mp::Value<int>& v, int fresh) {
  int n = v.get();
  log(n);
  n = fresh;
  v.set(n);
}

void ok20_scoped_lock(std::mutex& m1, std::mutex& m2, mp::Value<int>& v) {
  std::scoped_lock lk(m1, m2);
  v.value() -= 1;
}

void ok21_local_value_object(mp::Value<int>& v) {
  int local = 0;
  local += 1;
  v.set(local);
}

void ok22_shm_locked(SharedCounter* shm) {
  pthread_mutex_lock(&shm->mu);
  shm->hits++;
  pthread_mutex_unlock(&shm->mu);
}

struct Plain {
  long hits;  // No lock beside it: nothing says it is shared.
};

void ok23_plain_struct(Plain* p) { p->hits++; }

void ok24_global_locked() {
  std::lock_guard<std::mutex> guard(mutex);
  total += 1;
}

void ok25_unguarded_global() { scratch++; }

void ok26_locked_add(Gauge& g) { g.add(1); }

void ok27_tally_guarded(sem_t* s, Tally* t) {
  sem_wait(s);
  t->done++;
  sem_post(s);
}

void ok28_local_reference_locked(SharedCounter* shm) {
  pthread_mutex_lock(&shm->mu);
  long& hits = shm->hits;
  hits += 1;
  pthread_mutex_unlock(&shm->mu);
}

void ok29_map_increment_locked(const std::string& page) {
  std::lock_guard<std::mutex> guard(mutex);
  ++hits_by_page[page];
  slot_counts[page.size() % 16] += 1;
}

void ok30_local_map(const std::string& page) {
  std::map<std::string, long> mine;
  ++mine[page];
}

void ok31_map_overwrite(const std::string& page, long n) { hits_by_page[page] = n; }

// --- known false negatives -----------------------------------------------------------------

// FIXME: should warn: a raw pointer into shared memory is not known to be shared.
void fn1_raw_shared_memory(mp::SharedMemory& shm) {
  long* hits = static_cast<long*>(shm.buf());
  ++*hits;
}

// FIXME: should warn: the lock is taken by every caller in another file, or by none.
void fn2_helper_for_locked_callers(long* counter) { *counter += 1; }
