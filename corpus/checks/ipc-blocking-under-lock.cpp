// Corpus for ipc-blocking-under-lock: a call that can wait indefinitely for another process or
// thread (a queue's get, a join, a read, a sleep, a condition wait on another lock) while a lock
// is held, directly or inside a helper. The warning is at the call, a note where each lock held
// was taken. ok* functions must not warn: the lock let go of first, a condition wait on its own
// lock, a call that returns at once or waits up to a timeout.
// VERIFY-WITH: strict check-option=ipc-blocking-under-lock.StrictTimeouts=true
// The strict run (-verify=expected,strict) also expects the `strict-warning`s: calls that wait up
// to a non-zero timeout.
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -I include %s

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "boost/interprocess/ipc/message_queue.hpp"
#include "boost/interprocess/sync/interprocess_condition.hpp"
#include "boost/interprocess/sync/interprocess_mutex.hpp"
#include "boost/interprocess/sync/scoped_lock.hpp"
#include "mp/mp.h"

namespace bip = boost::interprocess;
using namespace std::chrono_literals;

void work();
bool ready();
int square(int x);

// --- bad: mp ------------------------------------------------------------------------------------

mp::Lock lock;
mp::Lock other_lock;

void bad1_queue_get_under_guard(mp::Queue<int> &q) {
  mp::LockGuard<mp::Lock> guard(lock);  // expected-note{{'lock' acquired here}}
  int item = q.get();  // expected-warning{{blocking call to 'get' while holding 'lock' [ipc-blocking-under-lock]}}
  (void)item;
}

void bad2_queue_put_between_acquire_and_release(mp::Queue<int> &q) {
  lock.acquire();  // expected-note{{'lock' acquired here}}
  q.put(1);  // expected-warning{{blocking call to 'put' while holding 'lock' [ipc-blocking-under-lock]}}
  lock.release();
}

void bad3_joinable_queue_join(mp::JoinableQueue<int> &q) {
  mp::LockGuard<mp::Lock> guard(lock);  // expected-note{{'lock' acquired here}}
  q.join();  // expected-warning{{blocking call to 'join' while holding 'lock' [ipc-blocking-under-lock]}}
}

void bad4_simple_queue_and_connection(mp::SimpleQueue<int> &q, mp::Connection &conn) {
  mp::LockGuard<mp::Lock> guard(lock);  // expected-note 2{{'lock' acquired here}}
  q.get();  // expected-warning{{blocking call to 'get' while holding 'lock' [ipc-blocking-under-lock]}}
  conn.recv<int>();  // expected-warning{{blocking call to 'recv' while holding 'lock' [ipc-blocking-under-lock]}}
}

void bad5_process_join(mp::Process &p) {
  std::lock_guard<mp::Lock> guard(lock);  // expected-note{{'lock' acquired here}}
  p.join();  // expected-warning{{blocking call to 'join' while holding 'lock' [ipc-blocking-under-lock]}}
}

void bad6_event_and_barrier(mp::Event &ev, mp::Barrier &b) {
  mp::LockGuard<mp::Lock> guard(lock);  // expected-note 2{{'lock' acquired here}}
  ev.wait();  // expected-warning{{blocking call to 'wait' while holding 'lock' [ipc-blocking-under-lock]}}
  b.wait();  // expected-warning{{blocking call to 'wait' while holding 'lock' [ipc-blocking-under-lock]}}
}

void bad7_pool_map_and_result(mp::Pool &pool, std::vector<int> &xs) {
  mp::LockGuard<mp::Lock> guard(lock);  // expected-note 2{{'lock' acquired here}}
  auto squares = pool.map(square, xs);  // expected-warning{{blocking call to 'map' while holding 'lock' [ipc-blocking-under-lock]}}
  auto pending = pool.apply_async(square, 3);
  pending.get();  // expected-warning{{blocking call to 'get' while holding 'lock' [ipc-blocking-under-lock]}}
}

void bad8_manager_proxies(mp::QueueProxy<int> &q, mp::EventProxy &done, mp::LockProxy &l) {
  l.acquire();  // expected-note 2{{'l' acquired here}}
  q.get();  // expected-warning{{blocking call to 'get' while holding 'l' [ipc-blocking-under-lock]}}
  done.wait();  // expected-warning{{blocking call to 'wait' while holding 'l' [ipc-blocking-under-lock]}}
  l.release();
}

// A condition wait lets go of its own lock only: a second lock stays held.
struct Board {
  mp::Condition changed;
  int items = 0;
};

void bad9_condition_wait_holding_a_second_lock(Board &b) {
  mp::LockGuard<mp::Lock> outer(other_lock);  // expected-note{{'other_lock' acquired here}}
  mp::LockGuard<mp::Condition> guard(b.changed);
  while (b.items == 0)
    b.changed.wait();  // expected-warning{{blocking call to 'wait' while holding 'other_lock' (the wait lets go of 'b.changed' only) [ipc-blocking-under-lock]}}
}

// --- bad: POSIX ---------------------------------------------------------------------------------

pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void bad10_read_under_pthread_mutex(int fd, char *buf) {
  pthread_mutex_lock(&table_mu);  // expected-note{{'table_mu' acquired here}}
  read(fd, buf, 64);  // expected-warning{{blocking call to 'read' while holding 'table_mu' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&table_mu);
}

void bad11_sleeps(pthread_mutex_t *m) {
  pthread_mutex_lock(m);  // expected-note 2{{'m' acquired here}}
  sleep(1);  // expected-warning{{blocking call to 'sleep' while holding 'm' [ipc-blocking-under-lock]}}
  usleep(1000);  // expected-warning{{blocking call to 'usleep' while holding 'm' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(m);
}

struct Job {
  pthread_mutex_t mu;
  pid_t child;
  int status;
};

void bad12_waitpid_under_struct_field_lock(Job *job) {
  pthread_mutex_lock(&job->mu);  // expected-note{{'job->mu' acquired here}}
  waitpid(job->child, &job->status, 0);  // expected-warning{{blocking call to 'waitpid' while holding 'job->mu' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&job->mu);
}

void bad13_sem_wait_under_mutex(sem_t *items) {
  pthread_mutex_lock(&table_mu);  // expected-note{{'table_mu' acquired here}}
  sem_wait(items);  // expected-warning{{blocking call to 'sem_wait' while holding 'table_mu' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&table_mu);
}

pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER;

void bad14_cond_wait_holding_a_second_mutex() {
  pthread_mutex_lock(&log_mu);  // expected-note{{'log_mu' acquired here}}
  pthread_mutex_lock(&table_mu);
  while (!ready())
    pthread_cond_wait(&nonempty, &table_mu);  // expected-warning{{blocking call to 'pthread_cond_wait' while holding 'log_mu' (the wait lets go of 'table_mu' only) [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&table_mu);
  pthread_mutex_unlock(&log_mu);
}

void bad15_socket_calls(int listener, int qid) {
  char buf[32];
  pthread_mutex_lock(&table_mu);  // expected-note 3{{'table_mu' acquired here}}
  int peer = accept(listener, nullptr, nullptr);  // expected-warning{{blocking call to 'accept' while holding 'table_mu' [ipc-blocking-under-lock]}}
  recv(peer, buf, sizeof buf, 0);  // expected-warning{{blocking call to 'recv' while holding 'table_mu' [ipc-blocking-under-lock]}}
  msgrcv(qid, buf, sizeof buf, 0, 0);  // expected-warning{{blocking call to 'msgrcv' while holding 'table_mu' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&table_mu);
}

// --- bad: std ----------------------------------------------------------------------------------

std::mutex state_mu;
std::mutex io_mu;
std::condition_variable state_cv;

void bad16_sleep_for_under_lock_guard() {
  std::lock_guard<std::mutex> g(state_mu);  // expected-note{{'state_mu' acquired here}}
  std::this_thread::sleep_for(10ms);  // expected-warning{{blocking call to 'sleep_for' while holding 'state_mu' [ipc-blocking-under-lock]}}
}

void bad17_thread_join_under_lock() {
  std::thread t([] { std::lock_guard<std::mutex> g(state_mu); });
  std::lock_guard<std::mutex> g(state_mu);  // expected-note{{'state_mu' acquired here}}
  t.join();  // expected-warning{{blocking call to 'join' while holding 'state_mu' [ipc-blocking-under-lock]}}
}

void bad18_cv_wait_holding_a_second_mutex() {
  std::lock_guard<std::mutex> io(io_mu);  // expected-note{{'io_mu' acquired here}}
  std::unique_lock<std::mutex> lk(state_mu);
  state_cv.wait(lk);  // expected-warning{{blocking call to 'wait' while holding 'io_mu' (the wait lets go of 'state_mu' only) [ipc-blocking-under-lock]}}
}

// Locked again after an explicit unlock: held at the call.
void bad19_unique_lock_relocked(mp::Queue<int> &q) {
  std::unique_lock<std::mutex> lk(state_mu);
  lk.unlock();
  work();
  lk.lock();  // expected-note{{'state_mu' acquired here}}
  q.get();  // expected-warning{{blocking call to 'get' while holding 'state_mu' [ipc-blocking-under-lock]}}
}

// --- bad: Boost.Interprocess ---------------------------------------------------------------------

struct Channel {
  bip::interprocess_mutex mutex;
  bip::message_queue *mq;
};

void bad20_message_queue_under_scoped_lock(Channel &ch) {
  char buf[64];
  std::size_t got;
  unsigned prio;
  bip::scoped_lock<bip::interprocess_mutex> lk(ch.mutex);  // expected-note 2{{'ch.mutex' acquired here}}
  ch.mq->receive(buf, sizeof buf, got, prio);  // expected-warning{{blocking call to 'receive' while holding 'ch.mutex' [ipc-blocking-under-lock]}}
  ch.mq->send(buf, got, prio);  // expected-warning{{blocking call to 'send' while holding 'ch.mutex' [ipc-blocking-under-lock]}}
}

// --- bad: through helpers, loops, members ---------------------------------------------------------

int drain_one(mp::Queue<int> &q) {
  return q.get();  // expected-note{{'get' blocks here, in 'drain_one'}}
}

void bad21_helper_that_blocks(mp::Queue<int> &q) {
  mp::LockGuard<mp::Lock> guard(lock);  // expected-note{{'lock' acquired here}}
  drain_one(q);  // expected-warning{{call to 'drain_one' blocks in 'get' while holding 'lock' [ipc-blocking-under-lock]}}
}

void wait_for_child(pid_t pid) {
  int status;
  waitpid(pid, &status, 0);  // expected-note{{'waitpid' blocks here, in 'wait_for_child'}}
}
void reap(pid_t pid) { wait_for_child(pid); }

void bad22_two_levels_down(pid_t pid) {
  std::lock_guard<std::mutex> g(state_mu);  // expected-note{{'state_mu' acquired here}}
  reap(pid);  // expected-warning{{call to 'reap' blocks in 'waitpid' while holding 'state_mu' [ipc-blocking-under-lock]}}
}

// A helper that returns with the lock held: the caller holds it.
void lock_table() { pthread_mutex_lock(&table_mu); }

void bad23_lock_taken_by_a_helper(int fd, char *buf) {
  lock_table();  // expected-note{{'table_mu' acquired here (by 'lock_table')}}
  read(fd, buf, 16);  // expected-warning{{blocking call to 'read' while holding 'table_mu' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&table_mu);
}

void bad24_held_across_a_loop(mp::Queue<int> &q, std::vector<int> &out) {
  std::lock_guard<std::mutex> g(state_mu);  // expected-note{{'state_mu' acquired here}}
  for (int i = 0; i < 10; ++i)
    out.push_back(q.get());  // expected-warning{{blocking call to 'get' while holding 'state_mu' [ipc-blocking-under-lock]}}
}

class Server {
 public:
  void serve_one(mp::Connection &conn);

 private:
  std::mutex mu_;
  int served_ = 0;
};

void Server::serve_one(mp::Connection &conn) {
  std::lock_guard<std::mutex> g(mu_);  // expected-note{{'mu_' acquired here}}
  int request = conn.recv<int>();  // expected-warning{{blocking call to 'recv' while holding 'mu_' [ipc-blocking-under-lock]}}
  served_ += request;
}

// A guard class of the file's own.
class MutexLock {
 public:
  explicit MutexLock(pthread_mutex_t &m) : m_(m) { pthread_mutex_lock(&m_); }
  ~MutexLock() { pthread_mutex_unlock(&m_); }

 private:
  pthread_mutex_t &m_;
};

void bad26_own_guard_class(Job *job) {
  MutexLock guard(job->mu);  // expected-note{{'job->mu' acquired here}}
  waitpid(job->child, &job->status, 0);  // expected-warning{{blocking call to 'waitpid' while holding 'job->mu' [ipc-blocking-under-lock]}}
}

void ok23_own_guard_scope_ends_first(Job *job) {
  {
    MutexLock guard(job->mu);
    job->status = -1;
  }
  waitpid(job->child, &job->status, 0);
}

// --- ok: the lock let go of first ----------------------------------------------------------------

void ok1_released_before_the_call(mp::Queue<int> &q) {
  lock.acquire();
  work();
  lock.release();
  q.get();
}

void ok2_guard_scope_ends_first(mp::Queue<int> &q) {
  {
    std::scoped_lock both(state_mu, io_mu);
    work();
  }
  q.get();
}

void ok3_unique_lock_unlocked_explicitly(mp::Connection &conn) {
  std::unique_lock<std::mutex> lk(state_mu);
  work();
  lk.unlock();
  conn.recv<int>();
}

void ok4_unlocked_on_every_path(int fd, char *buf) {
  pthread_mutex_lock(&table_mu);
  if (ready()) {
    pthread_mutex_unlock(&table_mu);
  } else {
    work();
    pthread_mutex_unlock(&table_mu);
  }
  read(fd, buf, 16);
}

void ok5_early_return_unlocks(mp::Queue<int> &q) {
  pthread_mutex_lock(&table_mu);
  if (!ready()) {
    pthread_mutex_unlock(&table_mu);
    return;
  }
  pthread_mutex_unlock(&table_mu);
  q.get();
}

void ok6_helper_after_release(mp::Queue<int> &q) {
  {
    mp::LockGuard<mp::Lock> guard(lock);
    work();
  }
  drain_one(q);
}

// --- ok: a condition wait on its own lock ----------------------------------------------------------

void ok7_mp_condition_wait(Board &b) {
  mp::LockGuard<mp::Condition> guard(b.changed);
  while (b.items == 0)
    b.changed.wait();
}

void ok8_std_condition_variable_wait() {
  std::unique_lock<std::mutex> lk(state_mu);
  state_cv.wait(lk, [] { return ready(); });
}

void ok9_pthread_cond_wait_with_its_mutex() {
  pthread_mutex_lock(&table_mu);
  while (!ready())
    pthread_cond_wait(&nonempty, &table_mu);
  pthread_mutex_unlock(&table_mu);
}

void ok10_boost_condition_wait(Channel &ch, bip::interprocess_condition &cond) {
  bip::scoped_lock<bip::interprocess_mutex> lk(ch.mutex);
  cond.wait(lk);
}

// A condition made on a lock of its own struct (as producer_consumer's Shared): waiting lets go
// of that lock, whichever of the two the guard names.
struct Ring {
  mp::Lock lock;
  mp::Condition changed{lock};
  int size = 0;
};

void ok24_condition_built_on_the_held_lock(Ring &r) {
  mp::LockGuard<mp::Lock> guard(r.lock);
  while (r.size == 0)
    r.changed.wait();
}

void bad27_condition_built_on_a_lock_and_another_held(Ring &r) {
  mp::LockGuard<mp::Lock> outer(other_lock);  // expected-note{{'other_lock' acquired here}}
  mp::LockGuard<mp::Lock> guard(r.lock);
  while (r.size == 0)
    r.changed.wait();  // expected-warning{{blocking call to 'wait' while holding 'other_lock' (the wait lets go of 'r.changed' and 'r.lock' only) [ipc-blocking-under-lock]}}
}

void wait_changed(Board &b) { b.changed.wait(); }

void ok11_helper_waits_on_the_callers_condition(Board &b) {
  mp::LockGuard<mp::Condition> guard(b.changed);
  wait_changed(b);  // the helper's wait lets go of the caller's lock
}

void wait_state_ready(std::unique_lock<std::mutex> &lk) {
  state_cv.wait(lk, [] { return ready(); });
}

void ok27_helper_waits_with_the_callers_guard() {
  std::unique_lock<std::mutex> lk(state_mu);
  wait_state_ready(lk);  // the helper's wait lets go of the guard's lock
}

// A helper given the caller's guard lets go of its lock around the read and takes it back.
void read_unlocked(std::unique_lock<std::mutex> &lk, int fd, char *buf) {
  lk.unlock();
  read(fd, buf, 16);
  lk.lock();
}

void ok28_helper_unlocks_the_callers_guard(int fd, char *buf) {
  std::unique_lock<std::mutex> lk(state_mu);
  read_unlocked(lk, fd, buf);
}

// ... and takes it back: a get after it is under the lock again.
void bad29_get_after_the_helper_relocked(int fd, char *buf, mp::Queue<int> &q) {
  std::unique_lock<std::mutex> lk(state_mu);
  read_unlocked(lk, fd, buf);  // expected-note{{'state_mu' acquired here (by 'read_unlocked')}}
  q.get();  // expected-warning{{blocking call to 'get' while holding 'state_mu' [ipc-blocking-under-lock]}}
}

// --- ok: returns at once, or waits up to a timeout (reported only under StrictTimeouts) ------------

void ok12_timeouts(mp::Queue<int> &q, mp::Event &ev, mp::Process &p, double seconds) {
  mp::LockGuard<mp::Lock> guard(lock);  // strict-note 3{{'lock' acquired here}}
  q.get(true, 0.1);  // strict-warning{{blocking call to 'get' while holding 'lock' (it waits up to its timeout) [ipc-blocking-under-lock]}}
  ev.wait(seconds);  // strict-warning{{blocking call to 'wait' while holding 'lock' (it waits up to its timeout) [ipc-blocking-under-lock]}}
  p.join(5);  // strict-warning{{blocking call to 'join' while holding 'lock' (it waits up to its timeout) [ipc-blocking-under-lock]}}
}

void ok13_does_not_wait(mp::Queue<int> &q, mp::QueueProxy<int> &pq) {
  mp::LockGuard<mp::Lock> guard(lock);
  q.get(false);
  q.get(true, 0);
  q.get_nowait();
  q.put(1, /*block=*/false);
  pq.put_nowait(2);
}

void ok14_try_variants(Channel &ch, sem_t *items) {
  char buf[16];
  std::size_t got;
  unsigned prio;
  pthread_mutex_lock(&table_mu);
  ch.mq->try_receive(buf, sizeof buf, got, prio);
  if (sem_trywait(items) == 0)
    work();
  pthread_mutex_unlock(&table_mu);
}

void ok15_timed_waits(Channel &ch, const boost::posix_time::ptime &deadline) {
  char buf[16];
  std::size_t got;
  unsigned prio;
  std::lock_guard<std::mutex> io(io_mu);  // strict-note 2{{'io_mu' acquired here}}
  ch.mq->timed_receive(buf, sizeof buf, got, prio, deadline);  // strict-warning{{blocking call to 'timed_receive' while holding 'io_mu' (it waits up to its timeout) [ipc-blocking-under-lock]}}
  std::unique_lock<std::mutex> lk(state_mu);
  state_cv.wait_for(lk, 50ms);  // strict-warning{{blocking call to 'wait_for' while holding 'io_mu' (the wait lets go of 'state_mu' only) (it waits up to its timeout) [ipc-blocking-under-lock]}}
}

void ok16_poll_without_waiting(pollfd *fds) {
  pthread_mutex_lock(&table_mu);
  poll(fds, 1, 0);
  pthread_mutex_unlock(&table_mu);
}

// --- ok: decided under the lock, or not a wait for another party ------------------------------------

void ok17_checked_under_the_same_lock(mp::Queue<int> &q) {
  mp::LockGuard<mp::Lock> guard(lock);
  if (!q.empty())
    q.get();  // every consumer takes the lock: the item is still there
}

std::mutex outer_mu, inner_mu;

void ok18_taking_another_lock() {
  std::lock_guard<std::mutex> g(outer_mu);
  std::lock_guard<std::mutex> h(inner_mu);  // nested locking is the lock-order checks' concern
  lock.acquire();
  lock.release();
}

void ok19_semaphore_units_are_not_locks(sem_t *slots, sem_t *items) {
  sem_wait(slots);  // a unit of a counting semaphore: nobody waits for its owner
  sem_wait(items);
  sem_post(items);
  sem_post(slots);
}

void ok20_lambda_defined_under_the_lock(mp::Queue<int> &q) {
  std::lock_guard<std::mutex> g(state_mu);
  auto consume = [&q] { return q.get(); };  // runs later, elsewhere
  (void)consume;
}

void ok21_no_lock_held(mp::Queue<int> &q, mp::Connection &conn, int fd, char *buf) {
  q.get();
  conn.recv<int>();
  read(fd, buf, 8);
  std::this_thread::sleep_for(1ms);
}

// Whether a timed acquire succeeded is kept, not known here: the lock is not held for sure.
void ok25_timed_acquire_result_kept(mp::Queue<int> &q) {
  bool got = lock.acquire(true, 0.05);
  q.get();
  if (got)
    lock.release();
}

// poll() says whether a message is there: the recv it decides returns at once; a second recv
// may wait.
void ok26_poll_then_recv(mp::Connection &conn) {
  mp::LockGuard<mp::Lock> guard(lock);
  if (conn.poll(0.1))
    conn.recv<int>();
  if (!conn.poll())
    return;
  conn.recv<int>();
}

void bad28_second_recv_after_one_poll(mp::Connection &conn) {
  mp::LockGuard<mp::Lock> guard(lock);  // expected-note{{'lock' acquired here}}
  if (conn.poll()) {
    conn.recv<int>();
    conn.recv<int>();  // expected-warning{{blocking call to 'recv' while holding 'lock' [ipc-blocking-under-lock]}}
  }
}

void ok22_try_lock_failed(mp::Queue<int> &q) {
  if (!state_mu.try_lock()) {
    q.get();  // not held on this branch
    return;
  }
  state_mu.unlock();
}
