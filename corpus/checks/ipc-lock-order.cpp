// Corpus for ipc-lock-order: locks taken in orders that form a cycle (A held while B is taken in
// one place, B held while A is taken in another), a potential deadlock. Each bad case has its
// own locks and two or three functions; the warning is at the acquisition that closes the cycle
// (the last in the file), the notes give a witness per edge. ok* functions must not warn.
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -I include %s

#include <fcntl.h>
#include <mutex>
#include <pthread.h>
#include <semaphore.h>
#include <shared_mutex>

#include "boost/interprocess/sync/interprocess_mutex.hpp"
#include "boost/interprocess/sync/named_mutex.hpp"
#include "boost/interprocess/sync/scoped_lock.hpp"
#include "mp/mp.h"

namespace bip = boost::interprocess;

void work();

// --- bad: two locks, opposite orders ----------------------------------------------------------

mp::Lock jobs_lock, stats_lock;

void bad1_jobs_then_stats() {
  jobs_lock.acquire();  // expected-note{{'jobs_lock' is acquired here}}
  stats_lock.acquire();  // expected-note{{'stats_lock' is acquired here while 'jobs_lock' is held}}
  work();
  stats_lock.release();
  jobs_lock.release();
}

void bad1_stats_then_jobs() {
  stats_lock.acquire();  // expected-note{{'stats_lock' is acquired here}}
  jobs_lock.acquire();  // expected-warning{{lock order cycle 'stats_lock' -> 'jobs_lock' -> 'stats_lock': 'jobs_lock' is acquired while 'stats_lock' is held (potential deadlock) [ipc-lock-order]}}
  jobs_lock.release();
  stats_lock.release();
}

mp::Lock queue_lock, cache_lock;

void bad2_guards_forward() {
  mp::LockGuard<mp::Lock> q(queue_lock);  // expected-note{{'queue_lock' is acquired here}}
  mp::LockGuard<mp::Lock> c(cache_lock);  // expected-note{{'cache_lock' is acquired here while 'queue_lock' is held}}
  work();
}

void bad2_guards_backward() {
  mp::LockGuard<mp::Lock> c(cache_lock);  // expected-note{{'cache_lock' is acquired here}}
  mp::LockGuard<mp::Lock> q(queue_lock);  // expected-warning{{lock order cycle 'cache_lock' -> 'queue_lock' -> 'cache_lock': 'queue_lock' is acquired while 'cache_lock' is held (potential deadlock) [ipc-lock-order]}}
}

std::mutex index_mu, data_mu;

void bad3_std_guard() {
  std::lock_guard<std::mutex> i(index_mu);  // expected-note{{'index_mu' is acquired here}}
  std::lock_guard<std::mutex> d(data_mu);  // expected-note{{'data_mu' is acquired here while 'index_mu' is held}}
}

void bad3_std_unique_lock() {
  std::unique_lock<std::mutex> d(data_mu);  // expected-note{{'data_mu' is acquired here}}
  std::unique_lock<std::mutex> i(index_mu);  // expected-warning{{lock order cycle 'data_mu' -> 'index_mu' -> 'data_mu': 'index_mu' is acquired while 'data_mu' is held (potential deadlock) [ipc-lock-order]}}
}

pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t row_mu = PTHREAD_MUTEX_INITIALIZER;

void *bad4_thread1(void *) {
  pthread_mutex_lock(&table_mu);  // expected-note{{'table_mu' is acquired here}}
  pthread_mutex_lock(&row_mu);  // expected-note{{'row_mu' is acquired here while 'table_mu' is held}}
  pthread_mutex_unlock(&row_mu);
  pthread_mutex_unlock(&table_mu);
  return nullptr;
}

void *bad4_thread2(void *) {
  pthread_mutex_lock(&row_mu);  // expected-note{{'row_mu' is acquired here}}
  pthread_mutex_lock(&table_mu);  // expected-warning{{lock order cycle 'row_mu' -> 'table_mu' -> 'row_mu': 'table_mu' is acquired while 'row_mu' is held (potential deadlock) [ipc-lock-order]}}
  pthread_mutex_unlock(&table_mu);
  pthread_mutex_unlock(&row_mu);
  return nullptr;
}

// Locks in a shared-memory segment: members of one struct, named by their declaration.
struct Segment {
  bip::interprocess_mutex head;
  bip::interprocess_mutex tail;
  int count;
};

void bad5_producer(Segment *s) {
  bip::scoped_lock<bip::interprocess_mutex> h(s->head);  // expected-note{{'s->head' is acquired here}}
  bip::scoped_lock<bip::interprocess_mutex> t(s->tail);  // expected-note{{'s->tail' is acquired here while 's->head' is held}}
  s->count++;
}

void bad5_consumer(Segment &seg) {
  bip::scoped_lock<bip::interprocess_mutex> t(seg.tail);  // expected-note{{'seg.tail' is acquired here}}
  bip::scoped_lock<bip::interprocess_mutex> h(seg.head);  // expected-warning{{lock order cycle 'Segment::tail' -> 'Segment::head' -> 'Segment::tail': 'seg.head' is acquired while 'seg.tail' is held (potential deadlock) [ipc-lock-order]}}
}

// Named primitives: the same name is the same lock in every process.
void bad6_named_forward() {
  bip::named_mutex orders(bip::open_or_create, "orders");
  bip::named_mutex ledger(bip::open_or_create, "ledger");
  bip::scoped_lock<bip::named_mutex> o(orders);  // expected-note{{'orders' is acquired here}}
  bip::scoped_lock<bip::named_mutex> l(ledger);  // expected-note{{'ledger' is acquired here while 'orders' is held}}
}

void bad6_named_backward() {
  bip::named_mutex first(bip::open_or_create, "ledger");
  bip::named_mutex second(bip::open_or_create, "orders");
  first.lock();  // expected-note{{'first' is acquired here}}
  second.lock();  // expected-warning{{lock order cycle 'named:ledger' -> 'named:orders' -> 'named:ledger': 'second' is acquired while 'first' is held (potential deadlock) [ipc-lock-order]}}
  second.unlock();
  first.unlock();
}

void bad7_sem_forward() {
  sem_t *in = sem_open("/ipc_in", O_CREAT, 0600, 1);
  sem_t *out = sem_open("/ipc_out", O_CREAT, 0600, 1);
  sem_wait(in);  // expected-note{{'in' is acquired here}}
  sem_wait(out);  // expected-note{{'out' is acquired here while 'in' is held}}
  sem_post(out);
  sem_post(in);
}

void bad7_sem_backward() {
  sem_t *out = sem_open("/ipc_out", 0);
  sem_t *in = sem_open("/ipc_in", 0);
  sem_wait(out);  // expected-note{{'out' is acquired here}}
  sem_wait(in);  // expected-warning{{lock order cycle 'named:/ipc_out' -> 'named:/ipc_in' -> 'named:/ipc_out': 'in' is acquired while 'out' is held (potential deadlock) [ipc-lock-order]}}
  sem_post(in);
  sem_post(out);
}

// --- bad: longer cycles, helpers, classes, threads ---------------------------------------------

std::mutex ring_a, ring_b, ring_c;

void bad8_a_then_b() {
  std::lock_guard<std::mutex> a(ring_a);  // expected-note{{'ring_a' is acquired here}}
  std::lock_guard<std::mutex> b(ring_b);  // expected-note{{'ring_b' is acquired here while 'ring_a' is held}}
}

void bad8_b_then_c() {
  std::lock_guard<std::mutex> b(ring_b);  // expected-note{{'ring_b' is acquired here}}
  std::lock_guard<std::mutex> c(ring_c);  // expected-note{{'ring_c' is acquired here while 'ring_b' is held}}
}

void bad8_c_then_a() {
  std::lock_guard<std::mutex> c(ring_c);  // expected-note{{'ring_c' is acquired here}}
  std::lock_guard<std::mutex> a(ring_a);  // expected-warning{{lock order cycle 'ring_c' -> 'ring_a' -> 'ring_b' -> 'ring_c': 'ring_a' is acquired while 'ring_c' is held (potential deadlock) [ipc-lock-order]}}
}

std::mutex config_mu, log_mu;

void append_log() {
  std::lock_guard<std::mutex> l(log_mu);  // expected-note{{'log_mu' is acquired here}}
}

void bad9_config_then_log() {
  std::lock_guard<std::mutex> c(config_mu);  // expected-note{{'config_mu' is acquired here}}
  append_log();  // expected-note{{'append_log' is called here while 'config_mu' is held and acquires 'log_mu'}}
}

void bad9_log_then_config() {
  std::lock_guard<std::mutex> l(log_mu);  // expected-note{{'log_mu' is acquired here}}
  std::lock_guard<std::mutex> c(config_mu);  // expected-warning{{lock order cycle 'log_mu' -> 'config_mu' -> 'log_mu': 'config_mu' is acquired while 'log_mu' is held (potential deadlock) [ipc-lock-order]}}
}

// A helper that takes its two arguments in order, called with them swapped.
pthread_mutex_t fork_left = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t fork_right = PTHREAD_MUTEX_INITIALIZER;

void lock_both(pthread_mutex_t *first, pthread_mutex_t *second) {
  pthread_mutex_lock(first);  // expected-note{{'fork_right' is acquired here}} expected-note{{'fork_left' is acquired here}}
  pthread_mutex_lock(second);  // expected-note{{'fork_right' is acquired here}} expected-note{{'fork_left' is acquired here}}
  pthread_mutex_unlock(second);
  pthread_mutex_unlock(first);
}

void bad10_philosopher1() {
  lock_both(&fork_left, &fork_right);  // expected-note{{'lock_both' is called here and acquires 'fork_left'}} expected-note{{'lock_both' is called here while 'fork_left' is held and acquires 'fork_right'}}
}

void bad10_philosopher2() {
  lock_both(&fork_right, &fork_left);  // expected-warning{{lock order cycle 'fork_right' -> 'fork_left' -> 'fork_right': 'fork_left' is acquired through 'lock_both' while 'fork_right' is held (potential deadlock) [ipc-lock-order]}} expected-note{{'lock_both' is called here and acquires 'fork_right'}}
}

class Bank {
 public:
  void bad11_deposit() {
    std::lock_guard<std::mutex> a(accounts_);  // expected-note{{'accounts_' is acquired here}}
    std::lock_guard<std::mutex> l(journal_);  // expected-note{{'journal_' is acquired here while 'accounts_' is held}}
    ++entries_;
  }
  void bad11_audit() {
    std::lock_guard<std::mutex> l(journal_);  // expected-note{{'journal_' is acquired here}}
    std::lock_guard<std::mutex> a(accounts_);  // expected-warning{{lock order cycle 'Bank::journal_' -> 'Bank::accounts_' -> 'Bank::journal_': 'accounts_' is acquired while 'journal_' is held (potential deadlock) [ipc-lock-order]}}
  }

 private:
  std::mutex accounts_, journal_;
  int entries_ = 0;
};

void bad12_threads() {
  std::mutex left, right;
  auto t1 = [&] {
    std::lock_guard<std::mutex> l(left);  // expected-note{{'left' is acquired here}}
    std::lock_guard<std::mutex> r(right);  // expected-note{{'right' is acquired here while 'left' is held}}
  };
  auto t2 = [&] {
    std::lock_guard<std::mutex> r(right);  // expected-note{{'right' is acquired here}}
    std::lock_guard<std::mutex> l(left);  // expected-warning{{lock order cycle 'right' -> 'left' -> 'right': 'left' is acquired while 'right' is held (potential deadlock) [ipc-lock-order]}}
  };
  t1();
  t2();
}

// std::lock takes its arguments in no order, but a lock already held orders before them.
std::mutex outer_mu, pair_x, pair_y;

void bad13_outer_then_pair() {
  std::lock_guard<std::mutex> o(outer_mu);  // expected-note{{'outer_mu' is acquired here}}
  std::lock(pair_x, pair_y);  // expected-note{{'pair_x' is acquired here while 'outer_mu' is held}}
  pair_x.unlock();
  pair_y.unlock();
}

void bad13_pair_then_outer() {
  std::lock_guard<std::mutex> x(pair_x);  // expected-note{{'pair_x' is acquired here}}
  std::lock_guard<std::mutex> o(outer_mu);  // expected-warning{{lock order cycle 'pair_x' -> 'outer_mu' -> 'pair_x': 'outer_mu' is acquired while 'pair_x' is held (potential deadlock) [ipc-lock-order]}}
}

// unique_lock let go and taken again while another lock is held.
std::mutex conn_mu, pool_mu;

void bad14_relock_under_pool() {
  std::unique_lock<std::mutex> c(conn_mu);
  c.unlock();
  std::lock_guard<std::mutex> p(pool_mu);  // expected-note{{'pool_mu' is acquired here}}
  c.lock();  // expected-note{{'conn_mu' is acquired here while 'pool_mu' is held}}
}

void bad14_conn_then_pool() {
  std::lock_guard<std::mutex> c(conn_mu);  // expected-note{{'conn_mu' is acquired here}}
  std::lock_guard<std::mutex> p(pool_mu);  // expected-warning{{lock order cycle 'conn_mu' -> 'pool_mu' -> 'conn_mu': 'pool_mu' is acquired while 'conn_mu' is held (potential deadlock) [ipc-lock-order]}}
}

// A lock obtained by try_lock is held: what is then taken with waiting is ordered after it.
std::mutex spin_mu, slow_mu;

void bad15_try_then_block() {
  if (spin_mu.try_lock()) {  // expected-note{{'spin_mu' is acquired here}}
    slow_mu.lock();  // expected-note{{'slow_mu' is acquired here while 'spin_mu' is held}}
    slow_mu.unlock();
    spin_mu.unlock();
  }
}

void bad15_block_then_block() {
  std::lock_guard<std::mutex> s(slow_mu);  // expected-note{{'slow_mu' is acquired here}}
  std::lock_guard<std::mutex> p(spin_mu);  // expected-warning{{lock order cycle 'slow_mu' -> 'spin_mu' -> 'slow_mu': 'spin_mu' is acquired while 'slow_mu' is held (potential deadlock) [ipc-lock-order]}}
}

// A reentrant lock taken once is ordered like any other.
mp::RLock registry_lock;
mp::Lock handle_lock;

void bad16_registry_then_handle() {
  registry_lock.acquire();  // expected-note{{'registry_lock' is acquired here}}
  handle_lock.acquire();  // expected-note{{'handle_lock' is acquired here while 'registry_lock' is held}}
  handle_lock.release();
  registry_lock.release();
}

void bad16_handle_then_registry() {
  mp::LockGuard<mp::Lock> h(handle_lock);  // expected-note{{'handle_lock' is acquired here}}
  mp::LockGuard<mp::RLock> r(registry_lock);  // expected-warning{{lock order cycle 'handle_lock' -> 'registry_lock' -> 'handle_lock': 'registry_lock' is acquired while 'handle_lock' is held (potential deadlock) [ipc-lock-order]}}
}

// Two different gate locks do not keep the edges apart.
std::mutex gate_one, gate_two, left_mu, right_mu;

void bad17_under_gate_one() {
  std::lock_guard<std::mutex> g(gate_one);
  std::lock_guard<std::mutex> l(left_mu);  // expected-note{{'left_mu' is acquired here}}
  std::lock_guard<std::mutex> r(right_mu);  // expected-note{{'right_mu' is acquired here while 'left_mu' is held}}
}

void bad17_under_gate_two() {
  std::lock_guard<std::mutex> g(gate_two);
  std::lock_guard<std::mutex> r(right_mu);  // expected-note{{'right_mu' is acquired here}}
  std::lock_guard<std::mutex> l(left_mu);  // expected-warning{{lock order cycle 'right_mu' -> 'left_mu' -> 'right_mu': 'left_mu' is acquired while 'right_mu' is held (potential deadlock) [ipc-lock-order]}}
}

// A value's own lock is a lock like any other.
mp::Value<int> hits(0);
mp::Lock report_lock;

void bad18_value_then_report() {
  mp::LockGuard<mp::RLock> v(hits.get_lock());  // expected-note{{'hits.get_lock()' is acquired here}}
  mp::LockGuard<mp::Lock> r(report_lock);  // expected-note{{'report_lock' is acquired here while 'hits.get_lock()' is held}}
}

void bad18_report_then_value() {
  mp::LockGuard<mp::Lock> r(report_lock);  // expected-note{{'report_lock' is acquired here}}
  mp::LockGuard<mp::RLock> v(hits.get_lock());  // expected-warning{{lock order cycle 'report_lock' -> 'hits.get_lock()' -> 'report_lock': 'hits.get_lock()' is acquired while 'report_lock' is held (potential deadlock) [ipc-lock-order]}}
}

// --- ok: no cycle --------------------------------------------------------------------------

std::mutex ok_a, ok_b, ok_c, ok_gate;

void ok1_a_then_b() {
  std::lock_guard<std::mutex> a(ok_a);
  std::lock_guard<std::mutex> b(ok_b);
}

void ok1_a_then_b_again() {
  ok_a.lock();
  ok_b.lock();
  ok_b.unlock();
  ok_a.unlock();
}

void ok2_released_before() {
  ok_b.lock();
  ok_b.unlock();
  ok_a.lock();  // b was let go first: no order
  ok_a.unlock();
}

void ok3_scoped_lock_of_two() {
  std::scoped_lock both(ok_b, ok_a);  // taken together, in no order
}

void ok4_std_lock() {
  std::lock(ok_b, ok_a);
  ok_a.unlock();
  ok_b.unlock();
}

void ok5_try_lock_under_b() {
  std::lock_guard<std::mutex> b(ok_b);
  if (ok_a.try_lock()) {  // cannot wait, cannot deadlock
    ok_a.unlock();
  }
}

pthread_mutex_t ok_pa = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t ok_pb = PTHREAD_MUTEX_INITIALIZER;

void ok6_pthread_order() {
  pthread_mutex_lock(&ok_pa);
  pthread_mutex_lock(&ok_pb);
  pthread_mutex_unlock(&ok_pb);
  pthread_mutex_unlock(&ok_pa);
}

void ok6_pthread_trylock() {
  pthread_mutex_lock(&ok_pb);
  if (pthread_mutex_trylock(&ok_pa) == 0)
    pthread_mutex_unlock(&ok_pa);
  pthread_mutex_unlock(&ok_pb);
}

// A gate lock: every order of x and y is taken under ok_gate, so they never interleave.
std::mutex ok_x, ok_y;

void ok7_gated_x_then_y() {
  std::lock_guard<std::mutex> g(ok_gate);
  std::lock_guard<std::mutex> x(ok_x);
  std::lock_guard<std::mutex> y(ok_y);
}

void ok7_gated_y_then_x() {
  std::lock_guard<std::mutex> g(ok_gate);
  std::lock_guard<std::mutex> y(ok_y);
  std::lock_guard<std::mutex> x(ok_x);
}

// A reentrant lock taken again while held waits for nothing.
mp::RLock ok_rlock;
mp::Lock ok_inner;

void ok8_rlock_then_inner() {
  mp::LockGuard<mp::RLock> r(ok_rlock);
  mp::LockGuard<mp::Lock> i(ok_inner);
  mp::LockGuard<mp::RLock> again(ok_rlock);  // already held: no order
}

std::recursive_mutex ok_rec;
std::mutex ok_leaf;

void ok9_recursive_mutex() {
  std::lock_guard<std::recursive_mutex> r(ok_rec);
  std::lock_guard<std::mutex> l(ok_leaf);
  std::lock_guard<std::recursive_mutex> again(ok_rec);
}

void ok9_recursive_first() {
  std::lock_guard<std::recursive_mutex> r(ok_rec);
  std::lock_guard<std::mutex> l(ok_leaf);
}

// Two objects of one class: their locks are one lock class; the order between instances is
// decided by data (an id), not visible in declarations, and not reported.
struct Account {
  std::mutex mu;
  int balance;
};

void ok10_transfer(Account &from, Account &to) {
  std::lock_guard<std::mutex> f(from.mu);
  std::lock_guard<std::mutex> t(to.mu);
  from.balance -= 1;
  to.balance += 1;
}

// Locals of different functions are different locks, whatever their names.
void ok11_local_pair() {
  std::mutex m1, m2;
  std::lock_guard<std::mutex> a(m1);
  std::lock_guard<std::mutex> b(m2);
}

void ok11_other_local_pair() {
  std::mutex m1, m2;
  std::lock_guard<std::mutex> b(m2);
  std::lock_guard<std::mutex> a(m1);
}

// Parameters: nothing says which locks a caller passes.
void ok12_params_forward(std::mutex &p, std::mutex &q) {
  std::lock_guard<std::mutex> a(p);
  std::lock_guard<std::mutex> b(q);
}

void ok12_params_backward(std::mutex &p, std::mutex &q) {
  std::lock_guard<std::mutex> b(q);
  std::lock_guard<std::mutex> a(p);
}

// The same order through a helper.
void take_ok_c() { std::lock_guard<std::mutex> c(ok_c); }

void ok13_helper_same_order() {
  std::lock_guard<std::mutex> b(ok_b);
  take_ok_c();
}

void ok13_direct_same_order() {
  std::lock_guard<std::mutex> b(ok_b);
  std::lock_guard<std::mutex> c(ok_c);
}

// unique_lock with defer_lock, then std::lock of both guards: together.
void ok14_deferred_together() {
  std::unique_lock<std::mutex> c(ok_c, std::defer_lock);
  std::unique_lock<std::mutex> a(ok_a, std::defer_lock);
  std::lock(c, a);
}

// Boost: try_to_lock is a try-lock.
bip::interprocess_mutex ok_bx, ok_by;

void ok15_boost_order() {
  bip::scoped_lock<bip::interprocess_mutex> x(ok_bx);
  bip::scoped_lock<bip::interprocess_mutex> y(ok_by);
}

void ok15_boost_try() {
  bip::scoped_lock<bip::interprocess_mutex> y(ok_by);
  bip::scoped_lock<bip::interprocess_mutex> x(ok_bx, bip::try_to_lock);
  if (x.owns())
    work();
}

// A lock released before the helper that takes the other is called.
std::mutex ok_d;

void take_ok_d() { std::lock_guard<std::mutex> d(ok_d); }

void ok16_release_then_call() {
  std::unique_lock<std::mutex> c(ok_c);
  c.unlock();
  take_ok_d();
}

void ok16_d_then_c() {
  std::lock_guard<std::mutex> d(ok_d);
  std::lock_guard<std::mutex> c(ok_c);
}

// Named semaphores with different names are different locks.
void ok17_named_forward() {
  sem_t *s1 = sem_open("/ok_first", O_CREAT, 0600, 1);
  sem_t *s2 = sem_open("/ok_second", O_CREAT, 0600, 1);
  sem_wait(s1);
  sem_wait(s2);
  sem_post(s2);
  sem_post(s1);
}

void ok17_named_other() {
  sem_t *s2 = sem_open("/ok_second", 0);
  sem_t *s3 = sem_open("/ok_third", 0);
  sem_wait(s2);
  sem_wait(s3);
  sem_post(s3);
  sem_post(s2);
}

// A suppressed acquisition does not count.
std::mutex ok_e, ok_f;

void ok18_e_then_f() {
  std::lock_guard<std::mutex> e(ok_e);
  std::lock_guard<std::mutex> f(ok_f);
}

void ok18_f_then_e_known() {
  std::lock_guard<std::mutex> f(ok_f);
  std::lock_guard<std::mutex> e(ok_e);  // NOLINT(ipc-lock-order): only during start-up
}

// A condition wait lets go of its own lock; nothing else is held.
std::mutex ok_cv_mu;
std::condition_variable ok_cv;
bool ok_ready = false;

void ok19_wait() {
  std::unique_lock<std::mutex> lk(ok_cv_mu);
  ok_cv.wait(lk, [] { return ok_ready; });
}

// shared_mutex: the same order for readers and writers.
std::shared_mutex ok_rw;

void ok20_reader_then_a() {
  std::shared_lock<std::shared_mutex> r(ok_rw);
  std::lock_guard<std::mutex> a(ok_a);
}

void ok20_writer_then_a() {
  std::unique_lock<std::shared_mutex> w(ok_rw);
  std::lock_guard<std::mutex> a(ok_a);
}
