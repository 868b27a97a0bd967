// Corpus for ipc-check-then-act: a read of shared state decides an action on the same object,
// and no lock is held from the read to the action. bad* functions must warn, ok* must not.
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -I include %s

#include <atomic>
#include <map>
#include <queue>
#include <vector>
#include <mutex>
#include <pthread.h>
#include <semaphore.h>

#include "boost/interprocess/ipc/message_queue.hpp"
#include "boost/interprocess/sync/interprocess_mutex.hpp"
#include "boost/interprocess/sync/scoped_lock.hpp"
#include "mp/mp.h"

namespace bip = boost::interprocess;

void log(const char*);

mp::Lock lock;
std::mutex mutex;
pthread_mutex_t pmutex = PTHREAD_MUTEX_INITIALIZER;

// --- mp ------------------------------------------------------------------------------------

void bad1(mp::Queue<int>& q) {
  if (!q.empty())  // expected-note{{'q' is checked here by 'empty'}}
    q.get();       // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

int bad2(mp::Queue<int>& q) {
  int item = -1;
  if (q.qsize() > 0)  // expected-note{{'q' is checked here by 'qsize'}}
    item = q.get();   // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
  return item;
}

int bad3_early_return(mp::Queue<int>& q) {
  if (q.empty())  // expected-note{{'q' is checked here by 'empty'}}
    return -1;
  return q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

// The N-to-N consumer of DESIGN.md: two consumers both see cnt < max; one blocks forever.
void bad4_counted_consumer(mp::Value<int>& cnt, mp::Queue<int>& q, int max) {
  while (cnt.value() < max) {  // expected-note{{'cnt' is checked here by 'value'}}
    int item = q.get();
    (void)item;
    mp::LockGuard<mp::RLock> guard(cnt.get_lock());
    cnt.value() += 1;  // expected-warning{{'cnt' may change between the check and '+=': no lock is held from one to the other [ipc-check-then-act]}}
  }
}

void bad5_proxy(mp::DictProxy<int, int>& d, int k, int v) {
  if (!d.contains(k))  // expected-note{{'d' is checked here by 'contains'}}
    d.set(k, v);       // expected-warning{{'d' may change between the check and 'set': no lock is held from one to the other [ipc-check-then-act]}}
}

void bad6_event(mp::Event& ev) {
  if (!ev.is_set())  // expected-note{{'ev' is checked here by 'is_set'}}
    ev.set();        // expected-warning{{'ev' may change between the check and 'set': no lock is held from one to the other [ipc-check-then-act]}}
}

void bad7_through_local(mp::Value<int>& v) {
  bool done = v.get() >= 10;  // expected-note{{'v' is checked here by 'get'}}
  if (!done)
    v.set(10);  // expected-warning{{'v' may change between the check and 'set': no lock is held from one to the other [ipc-check-then-act]}}
}

// A lock taken after the check does not protect it.
void bad8_lock_inside_branch(mp::Queue<int>& q) {
  if (!q.empty()) {  // expected-note{{'q' is checked here by 'empty'}}
    mp::LockGuard<mp::Lock> guard(lock);  // expected-note{{'lock' acquired here}}
    q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}} expected-warning{{blocking call to 'get' while holding 'lock' [ipc-blocking-under-lock]}}
  }
}

// A lock released between the check and the act does not protect it.
void bad9_lock_released_between(mp::Queue<int>& q) {
  lock.acquire();
  bool empty = q.empty();  // expected-note{{'q' is checked here by 'empty'}}
  lock.release();
  if (!empty)
    q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

static bool has_items(mp::Queue<int>& q) { return !q.empty(); }

void bad10_helper_reads(mp::Queue<int>& q) {
  if (has_items(q))  // expected-note{{'q' is checked here by 'has_items'}}
    q.get();         // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

static void take_one(mp::Queue<int>& q) { (void)q.get(); }

void bad11_helper_acts(mp::Queue<int>& q) {
  if (!q.empty())  // expected-note{{'q' is checked here by 'empty'}}
    take_one(q);   // expected-warning{{'q' may change between the check and 'take_one': no lock is held from one to the other [ipc-check-then-act]}}
}

void bad12_semaphore(mp::Semaphore& s) {
  if (s.get_value() > 0)  // expected-note{{'s' is checked here by 'get_value'}}
    s.acquire();          // expected-warning{{'s' may change between the check and 'acquire': no lock is held from one to the other [ipc-check-then-act]}}
}

int bad13_conditional_operator(mp::Queue<int>& q) {
  return !q.empty() ? q.get() : -1;  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}} expected-note{{'q' is checked here by 'empty'}}
}

void bad14_counted_loop(mp::Queue<int>& q) {
  for (std::size_t i = 0, n = q.qsize(); i < n; ++i)  // expected-note{{'q' is checked here by 'qsize'}}
    q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

struct Worker {
  mp::Queue<int> tasks;
  void drain() {
    while (!tasks.empty())  // expected-note{{'tasks' is checked here by 'empty'}}
      tasks.get();          // expected-warning{{'tasks' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
  }
};

void bad15_array_element(mp::Array<int>& arr) {
  if (arr[0] == 0)  // expected-note{{'arr' is checked here by 'operator[]'}}
    arr[0] = 1;     // expected-warning{{'arr' may change between the check and '=': no lock is held from one to the other [ipc-check-then-act]}}
}


void bad17_switch(mp::Value<int>& state) {
  switch (state.get()) {  // expected-note{{'state' is checked here by 'get'}}
    case 0:
      state.set(1);  // expected-warning{{'state' may change between the check and 'set': no lock is held from one to the other [ipc-check-then-act]}}
      break;
    default:
      break;
  }
}

// Waiting for a condition and then acting on it: another consumer can act in between.
int bad24_spin_until_nonempty(mp::Queue<int>& q) {
  while (q.empty()) {  // expected-note{{'q' is checked here by 'empty'}}
  }
  return q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

void bad25_loop_forever(mp::Queue<int>& q) {
  for (;;) {
    if (q.empty())  // expected-note{{'q' is checked here by 'empty'}}
      continue;
    q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
  }
}

// --- std -----------------------------------------------------------------------------------

void bad18_atomic(std::atomic<int>& a) {
  if (a.load() > 0)  // expected-note{{'a' is checked here by 'load'}}
    a.fetch_sub(1);  // expected-warning{{'a' may change between the check and 'fetch_sub': no lock is held from one to the other [ipc-check-then-act]}}
}

void bad19_atomic_flag(std::atomic<bool>& started) {
  if (!started)       // expected-note{{'started' is checked here by 'operator T'}}
    started = true;   // expected-warning{{'started' may change between the check and 'operator=': no lock is held from one to the other [ipc-check-then-act]}}
}

void bad20_unique_lock_unlocked(mp::Queue<int>& q) {
  std::unique_lock<std::mutex> lk(mutex);
  bool empty = q.empty();  // expected-note{{'q' is checked here by 'empty'}}
  lk.unlock();
  if (!empty)
    q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

// --- POSIX ---------------------------------------------------------------------------------

void bad21_sem_getvalue(sem_t* s) {
  int value = 0;
  sem_getvalue(s, &value);  // expected-note{{'s' is checked here by 'sem_getvalue'}}
  if (value > 0)
    sem_wait(s);  // expected-warning{{'s' may change between the check and 'sem_wait': no lock is held from one to the other [ipc-check-then-act]}}
}

void bad22_pthread_unlocked_before_act(mp::Queue<int>& q) {
  pthread_mutex_lock(&pmutex);
  bool empty = q.empty();  // expected-note{{'q' is checked here by 'empty'}}
  pthread_mutex_unlock(&pmutex);
  if (!empty)
    q.get();  // expected-warning{{'q' may change between the check and 'get': no lock is held from one to the other [ipc-check-then-act]}}
}

// --- Boost.Interprocess --------------------------------------------------------------------

void bad23_message_queue(bip::message_queue& mq, char* buf) {
  std::size_t n;
  unsigned prio;
  if (mq.get_num_msg() > 0)        // expected-note{{'mq' is checked here by 'get_num_msg'}}
    mq.receive(buf, 64, n, prio);  // expected-warning{{'mq' may change between the check and 'receive': no lock is held from one to the other [ipc-check-then-act]}}
}

// --- plain fields beside a lock (shared memory structs, classes with a mutex member) ---------

struct Account {
  std::mutex m;
  int balance;
};

void bad26_withdraw(Account& a, int amount) {
  if (a.balance >= amount) {  // expected-note{{'a.balance' is checked here}}
    std::lock_guard<std::mutex> guard(a.m);
    a.balance -= amount;  // expected-warning{{'a.balance' may change between the check and '-=': no lock is held from one to the other [ipc-check-then-act]}}
  }
}

struct SharedState {
  pthread_mutex_t mu;
  int ready;
  int slots;
};

void bad27_shm_flag(SharedState* shm) {
  if (!shm->ready)   // expected-note{{'shm->ready' is checked here}}
    shm->ready = 1;  // expected-warning{{'shm->ready' may change between the check and '=': no lock is held from one to the other [ipc-check-then-act]}}
}

int tickets = 10;  // Also used under a lock below: shared.

bool bad28_global_tickets() {
  if (tickets > 0) {  // expected-note{{'tickets' is checked here}}
    pthread_mutex_lock(&pmutex);
    tickets--;  // expected-warning{{'tickets' may change between the check and '--': no lock is held from one to the other [ipc-check-then-act]}}
    pthread_mutex_unlock(&pmutex);
    return true;
  }
  return false;
}

// Each method locks, but the sequence of two calls does not.
class Inventory {
 public:
  bool has_stock() {
    std::lock_guard<std::mutex> guard(mu_);
    return stock_ > 0;
  }
  void take() {
    std::lock_guard<std::mutex> guard(mu_);
    --stock_;
  }

 private:
  std::mutex mu_;
  int stock_ = 0;
};

void bad29_locked_methods(Inventory& inv) {
  if (inv.has_stock())  // expected-note{{'inv.stock_' is checked here by 'has_stock'}}
    inv.take();         // expected-warning{{'inv.stock_' may change between the check and 'take': no lock is held from one to the other [ipc-check-then-act]}}
}

static void lock_state(SharedState* shm) { pthread_mutex_lock(&shm->mu); }
static void unlock_state(SharedState* shm) { pthread_mutex_unlock(&shm->mu); }

void bad30_lock_wrappers_released(SharedState* shm) {
  lock_state(shm);
  bool any = shm->slots > 0;  // expected-note{{'shm->slots' is checked here}}
  unlock_state(shm);
  if (any)
    shm->slots = 0;  // expected-warning{{'shm->slots' may change between the check and '=': no lock is held from one to the other [ipc-check-then-act]}}
}

// A class no table describes (std::queue), shared because the file uses it under a lock.
std::queue<int> jobs;

bool bad31_std_queue(int& out) {
  if (jobs.empty())  // expected-note{{'jobs' is checked here by 'empty'}}
    return false;
  std::lock_guard<std::mutex> guard(mutex);
  out = jobs.front();
  jobs.pop();  // expected-warning{{'jobs' may change between the check and 'pop': no lock is held from one to the other [ipc-check-then-act]}}
  return true;
}

// An operator of such a class is a method like any other: `owners[k] = me` writes `owners`.
std::map<int, int> owners;

void bad32_map_claim(int k, int me) {
  if (owners.count(k) == 0)  // expected-note{{'owners' is checked here by 'count'}}
    owners[k] = me;  // expected-warning{{'owners' may change between the check and '=': no lock is held from one to the other [ipc-check-then-act]}}
}

// --- near misses and correct code ----------------------------------------------------------

void ok1_guard_across(mp::Queue<int>& q) {
  mp::LockGuard<mp::Lock> guard(lock);
  if (!q.empty())
    q.get();
}

void ok2_std_guard_across(mp::Queue<int>& q) {
  std::lock_guard<std::mutex> guard(mutex);
  if (!q.empty())
    q.get();
}

void ok3_action_does_not_depend(mp::Event& ev) {
  if (!ev.is_set())
    log("setting");
  ev.set();
}

void ok4_different_objects(mp::Queue<int>& in, mp::Queue<int>& out) {
  if (!in.empty())
    out.put(1);
}

void ok5_compare_exchange_loop(std::atomic<int>& a) {
  int expected = a.load();
  while (expected > 0 && !a.compare_exchange_weak(expected, expected - 1)) {
  }
}

void ok6_fetch_result(std::atomic<int>& a) {
  if (a.fetch_sub(1) <= 0)
    a.fetch_add(1);
}

void ok7_wait_is_not_an_action(mp::Event& ev) {
  if (!ev.is_set())
    ev.wait();
}

void ok8_value_lock_across(mp::Value<int>& v) {
  mp::LockGuard<mp::RLock> guard(v.get_lock());
  if (v.value() < 10)
    v.set(10);
}

void ok9_manual_lock_across(mp::Queue<int>& q) {
  lock.acquire();
  if (!q.empty())
    q.get();
  lock.release();
}

void ok10_unique_lock_unlocked_after(mp::Queue<int>& q) {
  std::unique_lock<std::mutex> lk(mutex);
  if (!q.empty())
    q.get();
  lk.unlock();
  log("done");
}

void ok11_pthread_across(mp::Queue<int>& q) {
  pthread_mutex_lock(&pmutex);
  if (!q.empty())
    q.get();
  pthread_mutex_unlock(&pmutex);
}

void ok12_boost_across(bip::interprocess_mutex& mu, bip::message_queue& mq, char* buf) {
  bip::scoped_lock<bip::interprocess_mutex> lk(mu);
  std::size_t n;
  unsigned prio;
  if (mq.get_num_msg() > 0)
    mq.receive(buf, 64, n, prio);
}

void ok13_try_lock_branch(mp::Queue<int>& q) {
  if (lock.try_lock()) {
    if (!q.empty())
      q.get();
    lock.unlock();
  }
}

void ok14_timed_acquire(mp::Queue<int>& q) {
  if (!lock.acquire(true, 1.0))
    return;
  if (!q.empty())
    q.get();
  lock.release();
}

void ok15_read_after_act(mp::Queue<int>& q) {
  q.put(1);
  if (q.full())
    log("full");
}

void ok16_local_decision(mp::Queue<int>& q, int n) {
  bool want = n > 0;
  if (want)
    q.get();
}

void ok17_scoped_lock_of_two(std::mutex& m1, std::mutex& m2, mp::Queue<int>& q) {
  std::scoped_lock lk(m1, m2);
  if (!q.empty())
    q.get();
}

void ok18_condition_wait(mp::Condition& c, mp::Value<int>& ready) {
  mp::LockGuard<mp::Condition> guard(c);
  while (ready.get() == 0)
    c.wait();
  ready.set(0);
}

void ok19_exchange(std::atomic<bool>& flag) {
  if (!flag.exchange(true))
    log("first");
}

void ok20_sem_trywait(sem_t* s) {
  if (sem_trywait(s) == 0)
    sem_post(s);
}

void ok21_pthread_trylock(mp::Queue<int>& q) {
  if (pthread_mutex_trylock(&pmutex) != 0)
    return;
  if (!q.empty())
    q.get();
  pthread_mutex_unlock(&pmutex);
}

void ok22_report_only(std::atomic<int>& a) {
  if (a.load() > 100)
    log("busy");
  a.fetch_add(1);
}

struct Pipeline {
  mp::Queue<int> in;
  mp::Queue<int> out;
  void forward() {
    if (!in.empty())
      out.put(1);
  }
};

void ok23_get_nowait(mp::Queue<int>& q) { (void)q.get_nowait(); }

void ok24_unrelated_lock_state(mp::Value<int>& v, mp::Queue<int>& q) {
  if (v.get() > 0)
    q.put(v.get());
}

// Double-checked locking: the check that decides is repeated under the lock.
void ok25_double_checked(std::atomic<bool>& ready, mp::Value<int>& v) {
  if (!ready.load()) {
    std::lock_guard<std::mutex> guard(mutex);
    if (!ready.load()) {
      v.set(1);
      ready.store(true);
    }
  }
}

// Test-and-test-and-set: the exchange reports what it found.
void ok26_ttas_spinlock(std::atomic<bool>& busy) {
  for (;;) {
    while (busy.load()) {
    }
    if (!busy.exchange(true))
      break;
  }
}

void ok27_checked_fetch_sub(std::atomic<int>& tokens) {
  if (tokens.load() > 0) {
    if (tokens.fetch_sub(1) <= 0)
      tokens.fetch_add(1);
  }
}

void ok28_trywait_after_check(sem_t* s) {
  int value = 0;
  sem_getvalue(s, &value);
  if (value > 0 && sem_trywait(s) == 0)
    sem_post(s);
}

void ok29_process_handles(mp::Process& p) {
  if (p.is_alive())
    p.terminate();
  p.join();
}

void ok30_withdraw_locked(Account& a, int amount) {
  std::lock_guard<std::mutex> guard(a.m);
  if (a.balance >= amount)
    a.balance -= amount;
}

void ok31_shm_locked(SharedState* shm) {
  pthread_mutex_lock(&shm->mu);
  if (shm->slots > 0)
    shm->slots--;
  pthread_mutex_unlock(&shm->mu);
}

void ok32_local_struct() {
  Account a{};
  if (a.balance == 0)
    a.balance = 10;
}

bool ok33_global_tickets_locked() {
  pthread_mutex_lock(&pmutex);
  bool got = tickets > 0;
  if (got)
    tickets--;
  pthread_mutex_unlock(&pmutex);
  return got;
}

void ok34_lock_wrappers(SharedState* shm) {
  lock_state(shm);
  if (shm->slots > 0)
    shm->slots--;
  unlock_state(shm);
}

// A connection end belongs to one process: poll() then recv() is the idiom.
void ok35_connection_poll(mp::Connection& c) {
  if (c.poll())
    c.recv<int>();
}

void ok36_shm_flag_locked(SharedState* shm) {
  pthread_mutex_lock(&shm->mu);
  if (!shm->ready)
    shm->ready = 1;
  pthread_mutex_unlock(&shm->mu);
}

// The lock of ProcessTable is used for `running` only: `generation` is not guarded by it.
struct ProcessTable {
  std::mutex mu;
  int running;
  int generation;
};

void ok37_field_the_lock_does_not_guard(ProcessTable* t) {
  {
    std::lock_guard<std::mutex> guard(t->mu);
    t->running++;
  }
  if (t->generation == 0)
    t->generation = 1;
}

// The fix of bad4: claim under the lock, take outside it (the take is decided by the claim,
// not by a read of the queue).
void ok38_claim_then_take(mp::Queue<int>& q, mp::Value<int>& claimed, int max) {
  for (;;) {
    bool mine = false;
    {
      mp::LockGuard<mp::Lock> guard(lock);
      if (claimed.value() < max) {
        claimed.value() += 1;
        mine = true;
      }
    }
    if (!mine)
      break;
    q.get();
  }
}

void ok39_transfer_under_one_lock(mp::Value<int>& from, mp::Value<int>& to, int x) {
  mp::LockGuard<mp::Lock> guard(lock);
  if (from.get() >= x) {
    from.set(from.get() - x);
    to.set(to.get() + x);
  }
}

void ok40_condition_wait_for(mp::Condition& c, mp::Value<int>& avail) {
  mp::LockGuard<mp::Condition> guard(c);
  c.wait_for([&] { return avail.get() > 0; });
  if (avail.get() > 0)
    avail.set(0);
}

int ok41_sentinel_consumer(mp::Queue<int>& q) {
  int sum = 0;
  for (;;) {
    int item = q.get();
    if (item < 0)
      break;
    sum += item;
  }
  return sum;
}

bool ok42_std_queue_locked(int& out) {
  std::lock_guard<std::mutex> guard(mutex);
  if (jobs.empty())
    return false;
  out = jobs.front();
  jobs.pop();
  return true;
}

void ok45_map_claim_locked(int k, int me) {
  std::lock_guard<std::mutex> guard(mutex);
  if (owners.count(k) == 0)
    owners[k] = me;
}

void ok43_unshared_vector(std::vector<int>& results) {
  if (!results.empty())  // Never used under a lock here: not known to be shared.
    results.pop_back();
}

// A helper that checks and acts, called with a lock held: the call is fine. The helper itself
// is reported, since the locks of its callers are unknowable (see the doc's limitations).
static void drain_one(SharedState* shm) {
  if (shm->slots > 0)  // expected-note{{'shm->slots' is checked here}}
    shm->slots--;  // expected-warning{{'shm->slots' may change between the check and '--': no lock is held from one to the other [ipc-check-then-act]}} expected-warning{{non-atomic update of 'shm->slots': '--' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
}

void ok44_helper_called_under_lock(SharedState* shm) {
  pthread_mutex_lock(&shm->mu);
  drain_one(shm);
  pthread_mutex_unlock(&shm->mu);
}

// --- known false negatives -----------------------------------------------------------------

// FIXME: should warn: two handles copied out of a container are not known to be the same queue.
void fn1_container_of_handles(std::vector<mp::Queue<int>>& qs) {
  mp::Queue<int> first = qs.front();
  mp::Queue<int> again = qs[0];
  if (!first.empty())
    again.get();
}

// FIXME: should warn: state reached through a raw pointer into shared memory is not tracked.
void fn2_raw_shared_memory(int* slots_in_shm) {
  if (*slots_in_shm > 0)
    *slots_in_shm = 0;
}
