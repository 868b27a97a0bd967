// Corpus for ipc-lock-reacquire: a non-reentrant lock acquired again while it is held on every
// path to the acquisition, directly or inside a helper called with it held (self-deadlock). The
// warning is at the second acquisition (or at the call of the helper that makes it), a note at
// the first. ok* functions must not warn: reentrant locks, try-locks, locks let go of first.
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -I include %s

#include <pthread.h>
#include <semaphore.h>

#include <chrono>
#include <mutex>

#include "boost/interprocess/sync/interprocess_mutex.hpp"
#include "boost/interprocess/sync/scoped_lock.hpp"
#include "mp/mp.h"

namespace bip = boost::interprocess;
using namespace std::chrono_literals;

void work();
bool ready();

// --- bad: the same lock twice in one function -------------------------------------------------

mp::Lock jobs_lock;

void bad1_mp_acquire_twice() {
  jobs_lock.acquire();  // expected-note{{'jobs_lock' first acquired here}}
  jobs_lock.acquire();  // expected-warning{{acquiring 'jobs_lock' again while it is held: 'mp::Lock' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  jobs_lock.release();
  jobs_lock.release();
}

void bad2_mp_guard_then_acquire() {
  mp::LockGuard<mp::Lock> guard(jobs_lock);  // expected-note{{'jobs_lock' first acquired here}}
  work();
  jobs_lock.acquire();  // expected-warning{{acquiring 'jobs_lock' again while it is held: 'mp::Lock' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

std::mutex table_mu;

void bad3_std_lock_twice() {
  table_mu.lock();  // expected-note{{'table_mu' first acquired here}}
  if (ready())
    work();
  table_mu.lock();  // expected-warning{{acquiring 'table_mu' again while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  table_mu.unlock();
}

void bad4_nested_lock_guards() {
  std::lock_guard<std::mutex> outer(table_mu);  // expected-note{{'table_mu' first acquired here}}
  {
    std::lock_guard<std::mutex> inner(table_mu);  // expected-warning{{acquiring 'table_mu' again while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
    work();
  }
}

void bad5_unique_lock_then_scoped_lock() {
  std::unique_lock<std::mutex> lk(table_mu);  // expected-note{{'table_mu' first acquired here}}
  std::scoped_lock again(table_mu);  // expected-warning{{acquiring 'table_mu' again while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

std::timed_mutex slot_mu;

void bad6_timed_mutex_lock_twice() {
  std::lock_guard<std::timed_mutex> g(slot_mu);  // expected-note{{'slot_mu' first acquired here}}
  slot_mu.lock();  // expected-warning{{acquiring 'slot_mu' again while it is held: 'std::timed_mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

pthread_mutex_t queue_mu = PTHREAD_MUTEX_INITIALIZER;

void *bad7_pthread_default_mutex(void *) {
  pthread_mutex_lock(&queue_mu);  // expected-note{{'queue_mu' first acquired here}}
  work();
  pthread_mutex_lock(&queue_mu);  // expected-warning{{acquiring 'queue_mu' again while it is held: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  pthread_mutex_unlock(&queue_mu);
  pthread_mutex_unlock(&queue_mu);
  return nullptr;
}

void bad8_pthread_through_pointer(pthread_mutex_t *m) {
  pthread_mutex_lock(m);  // expected-note{{'m' first acquired here}}
  pthread_mutex_lock(m);  // expected-warning{{acquiring 'm' again while it is held: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  pthread_mutex_unlock(m);
}

// A lock in a struct in shared memory, reached through a pointer and through a local alias.
struct Counter {
  pthread_mutex_t mu;
  long n;
};

void bad9_struct_field_and_alias(Counter *c) {
  pthread_mutex_t *mu = &c->mu;
  pthread_mutex_lock(&c->mu);  // expected-note{{'c->mu' first acquired here}}
  c->n++;
  pthread_mutex_lock(mu);  // expected-warning{{acquiring 'c->mu' again while it is held: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  pthread_mutex_unlock(mu);
}

// --- bad: through helpers ---------------------------------------------------------------------

void locked_increment(Counter *c) {
  pthread_mutex_lock(&c->mu);  // expected-note{{'c->mu' acquired again here, in 'locked_increment'}}
  c->n++;
  pthread_mutex_unlock(&c->mu);
}

void bad10_helper_takes_the_held_lock(Counter *c) {
  pthread_mutex_lock(&c->mu);  // expected-note{{'c->mu' first acquired here}}
  if (c->n < 100)
    locked_increment(c);  // expected-warning{{call to 'locked_increment' acquires 'c->mu' while it is held: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  pthread_mutex_unlock(&c->mu);
}

class Account {
 public:
  void deposit(long amount);
  long balance();

 private:
  std::mutex mu_;
  long cents_ = 0;
};

long Account::balance() {
  std::lock_guard<std::mutex> g(mu_);  // expected-note{{'mu_' acquired again here, in 'balance'}}
  return cents_;
}

void Account::deposit(long amount) {
  std::lock_guard<std::mutex> g(mu_);  // expected-note{{'mu_' first acquired here}}
  cents_ += amount;
  if (balance() > 1000000)  // expected-warning{{call to 'balance' acquires 'mu_' while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
    work();
}

// A helper that returns with the lock held, called twice.
pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
void lock_stats() { pthread_mutex_lock(&stats_mu); }  // expected-note{{'stats_mu' acquired again here, in 'lock_stats'}}
void unlock_stats() { pthread_mutex_unlock(&stats_mu); }

void bad12_lock_helper_twice() {
  lock_stats();  // expected-note{{'stats_mu' first acquired here (by 'lock_stats')}}
  work();
  lock_stats();  // expected-warning{{call to 'lock_stats' acquires 'stats_mu' while it is held: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  unlock_stats();
}

// Two levels down.
std::mutex log_mu;
void append_line() { std::lock_guard<std::mutex> g(log_mu); }  // expected-note{{'log_mu' acquired again here, in 'append_line'}}
void log_event() { append_line(); }

void bad13_two_levels_down() {
  std::lock_guard<std::mutex> g(log_mu);  // expected-note{{'log_mu' first acquired here}}
  log_event();  // expected-warning{{call to 'log_event' acquires 'log_mu' while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

// A lambda is a helper too.
void bad14_lambda_called_under_the_lock() {
  auto flush = [] { std::lock_guard<std::mutex> g(log_mu); };  // expected-note{{'log_mu' acquired again here, in 'operator()'}}
  std::lock_guard<std::mutex> g(log_mu);  // expected-note{{'log_mu' first acquired here}}
  flush();  // expected-warning{{call to 'operator()' acquires 'log_mu' while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

// --- bad: Boost.Interprocess and manager proxies -----------------------------------------------

struct Segment {
  bip::interprocess_mutex mutex;
  int items;
};

void bad15_boost_nested_scoped_locks(Segment *seg) {
  bip::scoped_lock<bip::interprocess_mutex> outer(seg->mutex);  // expected-note{{'seg->mutex' first acquired here}}
  bip::scoped_lock<bip::interprocess_mutex> inner(seg->mutex);  // expected-warning{{acquiring 'seg->mutex' again while it is held: 'boost::interprocess::interprocess_mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

void bad16_boost_scoped_lock_then_lock(Segment &seg) {
  bip::scoped_lock<bip::interprocess_mutex> lk(seg.mutex);  // expected-note{{'seg.mutex' first acquired here}}
  seg.items++;
  seg.mutex.lock();  // expected-warning{{acquiring 'seg.mutex' again while it is held: 'boost::interprocess::interprocess_mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

void bad17_manager_lock_proxy(mp::LockProxy lock) {
  lock.acquire();  // expected-note{{'lock' first acquired here}}
  lock.acquire();  // expected-warning{{acquiring 'lock' again while it is held: 'mp::LockProxy' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

// A copy of an mp::Lock is the same lock.
void bad18_handle_copy(mp::Lock lock) {
  mp::Lock same = lock;
  lock.acquire();  // expected-note{{'lock' first acquired here}}
  same.acquire();  // expected-warning{{acquiring 'lock' again while it is held: 'mp::Lock' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

std::mutex left_mu, right_mu;

void bad19_std_lock_then_lock() {
  std::lock(left_mu, right_mu);  // expected-note{{'left_mu' first acquired here}}
  left_mu.lock();  // expected-warning{{acquiring 'left_mu' again while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

// A loop that takes the lock on every iteration and never lets go: the second iteration
// deadlocks (the lock is not held on entry, but it is for sure when the loop comes back).
void bad20_lock_in_loop_without_unlock() {
  for (int i = 0; i < 3; ++i) {
    pthread_mutex_lock(&queue_mu);  // expected-warning{{acquiring 'queue_mu' again while it is held from the previous iteration: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
    work();
  }
}

// The same when one way round the loop (a `continue`) keeps the lock.
void bad21_continue_keeps_the_lock(int n) {
  int i = 0;
  while (i < n) {
    ++i;
    jobs_lock.acquire();  // expected-warning{{acquiring 'jobs_lock' again while it is held from the previous iteration: 'mp::Lock' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
    if (!ready())
      continue;  // forgot to release
    work();
    jobs_lock.release();
  }
}

// A lock taken before the loop and taken again inside it: the first iteration deadlocks (on
// later ones it is not held, so no path into the acquisition holds it for sure).
void bad24_held_before_the_loop() {
  pthread_mutex_lock(&queue_mu);  // expected-note{{'queue_mu' first acquired here}}
  for (int i = 0; i < 3; ++i) {
    pthread_mutex_lock(&queue_mu);  // expected-warning{{acquiring 'queue_mu' again while it is held from before the loop: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
    work();
    pthread_mutex_unlock(&queue_mu);
  }
}

// A loop that lets go before it comes back, and one that takes the lock back at the end of
// its body after letting go at the start: nothing is held around either.
void ok25_loop_lets_go_before_coming_back() {
  for (int i = 0; i < 3; ++i) {
    pthread_mutex_lock(&queue_mu);
    if (!ready()) {
      pthread_mutex_unlock(&queue_mu);
      continue;
    }
    work();
    pthread_mutex_unlock(&queue_mu);
  }
  pthread_mutex_lock(&queue_mu);
  while (!ready()) {
    pthread_mutex_unlock(&queue_mu);
    work();
    pthread_mutex_lock(&queue_mu);
  }
  pthread_mutex_unlock(&queue_mu);
}

// A guard class of the file's own, as in most C++ code on pthreads: what its constructor
// takes from its argument and its destructor lets go of.
class MutexLock {
 public:
  explicit MutexLock(pthread_mutex_t *m) : m_(m) { pthread_mutex_lock(m_); }
  ~MutexLock() { pthread_mutex_unlock(m_); }
  MutexLock(const MutexLock &) = delete;

 private:
  pthread_mutex_t *m_;
};

void bad23_own_guard_class_twice(Counter *c) {
  MutexLock outer(&c->mu);  // expected-note{{'c->mu' first acquired here}}
  MutexLock inner(&c->mu);  // expected-warning{{acquiring 'c->mu' again while it is held: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

void ok27_own_guard_class_scopes(Counter *c) {
  {
    MutexLock first(&c->mu);
    c->n++;
  }
  MutexLock second(&c->mu);
  c->n++;
}

// --- ok: reentrant locks ------------------------------------------------------------------------

mp::RLock tree_lock;

void ok1_rlock_twice() {
  tree_lock.acquire();
  tree_lock.acquire();
  tree_lock.release();
  tree_lock.release();
}

std::recursive_mutex rec_mu;

void ok2_recursive_mutex_guards() {
  std::lock_guard<std::recursive_mutex> outer(rec_mu);
  std::lock_guard<std::recursive_mutex> inner(rec_mu);
}

struct RecursiveSegment {
  bip::interprocess_recursive_mutex mutex;
};

void ok3_boost_recursive_mutex(RecursiveSegment *seg) {
  bip::scoped_lock<bip::interprocess_recursive_mutex> outer(seg->mutex);
  seg->mutex.lock();
  seg->mutex.unlock();
}

pthread_mutex_t recursive_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

void ok4_pthread_recursive_initializer() {
  pthread_mutex_lock(&recursive_mu);
  pthread_mutex_lock(&recursive_mu);
  pthread_mutex_unlock(&recursive_mu);
  pthread_mutex_unlock(&recursive_mu);
}

struct Registry {
  pthread_mutex_t mu;
  int entries;
};

void registry_init(Registry *r) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&r->mu, &attr);
  pthread_mutexattr_destroy(&attr);
}

void registry_add(Registry *r) {
  pthread_mutex_lock(&r->mu);
  r->entries++;
  pthread_mutex_unlock(&r->mu);
}

void ok5_pthread_mutex_made_recursive_by_attributes(Registry *r) {
  pthread_mutex_lock(&r->mu);
  registry_add(r);
  pthread_mutex_unlock(&r->mu);
}

void ok6_rlock_proxy(mp::RLockProxy lock) {
  lock.acquire();
  lock.acquire();
}

// --- ok: not an acquisition that waits -----------------------------------------------------------

void ok7_try_lock_on_a_held_lock() {
  std::lock_guard<std::mutex> g(table_mu);
  if (table_mu.try_lock())  // fails at once: no deadlock
    table_mu.unlock();
}

void ok8_pthread_trylock_on_a_held_lock() {
  pthread_mutex_lock(&queue_mu);
  if (pthread_mutex_trylock(&queue_mu) == 0)
    pthread_mutex_unlock(&queue_mu);
  pthread_mutex_unlock(&queue_mu);
}

void ok9_boost_try_to_lock(Segment *seg) {
  bip::scoped_lock<bip::interprocess_mutex> lk(seg->mutex);
  bip::scoped_lock<bip::interprocess_mutex> attempt(seg->mutex, bip::try_to_lock);
}

void ok10_timed_unique_lock() {
  std::lock_guard<std::timed_mutex> g(slot_mu);
  std::unique_lock<std::timed_mutex> again(slot_mu, 10ms);  // gives up after 10 ms
}

void ok26_acquire_that_gives_up() {
  jobs_lock.acquire();
  bool again = jobs_lock.acquire(false);  // returns false at once
  bool later = jobs_lock.acquire(true, 0.05);  // gives up after 50 ms
  (void)again;
  (void)later;
  jobs_lock.release();
}

void ok11_semaphore_units(sem_t *slots) {
  sem_wait(slots);  // a counting semaphore: two units, no owner
  sem_wait(slots);
  sem_post(slots);
  sem_post(slots);
}

// --- ok: let go of first, or two locks ------------------------------------------------------------

void ok12_released_before() {
  jobs_lock.acquire();
  work();
  jobs_lock.release();
  jobs_lock.acquire();
  jobs_lock.release();
}

void ok13_released_on_every_path() {
  pthread_mutex_lock(&queue_mu);
  if (ready()) {
    pthread_mutex_unlock(&queue_mu);
    work();
  } else {
    pthread_mutex_unlock(&queue_mu);
  }
  pthread_mutex_lock(&queue_mu);
  pthread_mutex_unlock(&queue_mu);
}

void ok14_unique_lock_unlocked_explicitly() {
  std::unique_lock<std::mutex> lk(table_mu);
  work();
  lk.unlock();
  table_mu.lock();
  table_mu.unlock();
}

void ok15_scoped_lock_of_two_locks() {
  std::scoped_lock both(left_mu, right_mu);
  work();
}

void ok16_std_lock_then_adopt() {
  std::lock(left_mu, right_mu);
  std::lock_guard<std::mutex> l(left_mu, std::adopt_lock);  // takes over, does not lock
  std::lock_guard<std::mutex> r(right_mu, std::adopt_lock);
}

void ok17_defer_lock_then_lock() {
  std::unique_lock<std::mutex> lk(table_mu, std::defer_lock);
  lk.lock();
  work();
}

struct Ledger {
  std::mutex mu;
  long balance;
};

void ok18_two_objects_of_one_class(Ledger &from, Ledger &to) {
  std::lock_guard<std::mutex> a(from.mu);
  std::lock_guard<std::mutex> b(to.mu);
  from.balance--;
  to.balance++;
}

pthread_mutex_t forks[5];

void ok19_elements_by_index(int i) {
  int j = (i + 1) % 5;
  pthread_mutex_lock(&forks[i]);
  pthread_mutex_lock(&forks[j]);  // another element (unless i == j)
  pthread_mutex_unlock(&forks[j]);
  pthread_mutex_unlock(&forks[i]);
}

void ok20_helper_after_release(Counter *c) {
  pthread_mutex_lock(&c->mu);
  c->n = 0;
  pthread_mutex_unlock(&c->mu);
  locked_increment(c);
}

void ok21_unlock_helper_then_lock() {
  lock_stats();
  unlock_stats();
  lock_stats();
  unlock_stats();
}

void ok22_lambda_defined_not_called() {
  std::lock_guard<std::mutex> g(log_mu);
  auto later = [] { std::lock_guard<std::mutex> again(log_mu); };
  (void)later;
}

struct Board {
  mp::Lock lock;
  mp::Condition changed{lock};
};

void ok23_condition_wait_takes_its_lock_back(Board &b) {
  mp::LockGuard<mp::Condition> g(b.changed);
  b.changed.wait();  // lets go of the lock and takes it back: not a second acquisition
}

void ok24_early_return_unlocks() {
  pthread_mutex_lock(&queue_mu);
  if (!ready()) {
    pthread_mutex_unlock(&queue_mu);
    return;
  }
  pthread_mutex_unlock(&queue_mu);
  pthread_mutex_lock(&queue_mu);
  pthread_mutex_unlock(&queue_mu);
}

// A recursive function that takes the lock on every level.
struct TreeNode {
  TreeNode *left;
  long value;
};

long bad25_recursive_sum(TreeNode *n) {
  std::lock_guard<std::mutex> g(table_mu);  // expected-note{{'table_mu' first acquired here}}
  if (!n)
    return 0;
  return n->value + bad25_recursive_sum(n->left);  // expected-warning{{recursive call to 'bad25_recursive_sum' acquires 'table_mu' while it is held: 'std::mutex' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
}

long ok28_recursive_sum_on_a_recursive_mutex(TreeNode *n) {
  std::lock_guard<std::recursive_mutex> g(rec_mu);
  if (!n)
    return 0;
  return n->value + ok28_recursive_sum_on_a_recursive_mutex(n->left);
}

long ok29_recursion_after_release(TreeNode *n) {
  long v;
  {
    std::lock_guard<std::mutex> g(table_mu);
    if (!n)
      return 0;
    v = n->value;
  }
  return v + ok29_recursion_after_release(n->left);
}
