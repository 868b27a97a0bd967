// Corpus for ipc-process-not-joined: a process or thread started in a scope that some path leaves
// without joining it, and a pool destroyed (which terminates its workers) while a result it handed
// out asynchronously may still be pending. bad* functions must warn, ok* must not.
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -I include %s

#include <pthread.h>

#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "mp/mp.h"

void work(int);
int square(int);
void* run(void*);
bool failed();
void log(int);
void show(const mp::Process& p);
void adopt(mp::Process& p);  // defined elsewhere: may keep or join it

void finish(mp::Process& p) { p.join(); }
void stop(mp::Process& p) { p.terminate(); }
void finish_all(std::vector<mp::Process>& procs) {
  for (auto& p : procs) p.join();
}
void drain(mp::Pool& pool) {
  pool.close();
  pool.join();
}

// --- processes and threads ----------------------------------------------------------------------

void bad1_early_return() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{started here by 'start'}}
  if (failed())
    return;  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}
  p.join();
}

void bad2_throw_before_join() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{started here by 'start'}}
  if (failed())
    throw std::runtime_error("setup failed");  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}
  p.join();
}

void bad3_never_joined() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{started here by 'start'}}
}  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}

void bad4_break_out_of_loop() {
  for (int i = 0; i < 4; ++i) {
    mp::Process p(work, i);
    p.start();  // expected-note{{started here by 'start'}}
    if (failed())
      break;  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}
    p.join();
  }
}

void bad5_std_thread() {
  std::thread t(work, 1);  // expected-note{{started here by 'std::thread'}}
}  // expected-warning{{'t' can leave its scope here without being joined [ipc-process-not-joined]}}

void bad6_std_thread_early_return() {
  std::thread t(work, 1);  // expected-note{{started here by 'std::thread'}}
  if (failed())
    return;  // expected-warning{{'t' can leave its scope here without being joined [ipc-process-not-joined]}}
  t.join();
}

void bad7_pthread() {
  pthread_t t;
  pthread_create(&t, nullptr, run, nullptr);  // expected-note{{started here by 'pthread_create'}}
}  // expected-warning{{'t' can leave its scope here without being joined [ipc-process-not-joined]}}

void bad8_return_between_the_loops() {
  std::vector<mp::Process> procs;
  for (int i = 0; i < 4; ++i) procs.emplace_back(work, i);
  for (auto& p : procs) p.start();  // expected-note{{started here by 'start'}}
  if (failed())
    return;  // expected-warning{{'procs' can leave its scope here with elements that were started and not joined [ipc-process-not-joined]}}
  for (auto& p : procs) p.join();
}

void bad9_threads_in_a_vector() {
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back(work, i);  // expected-note{{started here by 'emplace_back'}}
}  // expected-warning{{'threads' can leave its scope here with elements that were started and not joined [ipc-process-not-joined]}}

void bad10_daemon_false() {
  mp::Process p(work, 1);
  p.set_daemon(false);
  p.start();  // expected-note{{started here by 'start'}}
}  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}

void bad11_terminated_not_joined() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{started here by 'start'}}
  stop(p);
}  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}

void bad12_shown_not_joined() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{started here by 'start'}}
  show(p);
}  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}

void bad13_thread_assigned() {
  std::thread t;
  t = std::thread(work, 1);  // expected-note{{started here by 'thread'}}
}  // expected-warning{{'t' can leave its scope here without being joined [ipc-process-not-joined]}}

void bad14_nested_scope() {
  {
    mp::Process p(work, 1);
    p.start();  // expected-note{{started here by 'start'}}
  }  // expected-warning{{'p' can leave its scope here without being joined [ipc-process-not-joined]}}
  log(0);
}

void bad15_moved_into_a_local_never_joined() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{started here by 'start'}}
  mp::Process q = std::move(p);
}  // expected-warning{{'q' can leave its scope here without being joined [ipc-process-not-joined]}}

// --- pools --------------------------------------------------------------------------------------

void bad16_result_dropped() {
  mp::Pool pool(4);
  pool.apply_async(square, 3);  // expected-note{{'apply_async' hands out the result here; wait for it, or 'close' and 'join' the pool first}}
}  // expected-warning{{'pool' is destroyed here while a result of 'apply_async' may be pending: its workers are terminated and the task is lost [ipc-process-not-joined]}}

void bad17_return_before_get() {
  mp::Pool pool(4);
  auto r = pool.apply_async(square, 3);  // expected-note{{'apply_async' hands out the result here; wait for it, or 'close' and 'join' the pool first}}
  if (failed())
    return;  // expected-warning{{'pool' is destroyed here while a result of 'apply_async' may be pending: its workers are terminated and the task is lost [ipc-process-not-joined]}}
  log(r.get());
}

void bad18_only_ready_checked() {
  mp::Pool pool(2);
  std::vector<int> xs{1, 2, 3};
  auto r = pool.map_async(square, xs);  // expected-note{{'map_async' hands out the result here; wait for it, or 'close' and 'join' the pool first}}
  log(r.ready());
}  // expected-warning{{'pool' is destroyed here while a result of 'map_async' may be pending: its workers are terminated and the task is lost [ipc-process-not-joined]}}

void bad19_imap_not_consumed() {
  mp::Pool pool(2);
  std::vector<int> xs{1, 2, 3};
  auto it = pool.imap(square, xs);  // expected-note{{'imap' hands out the result here; wait for it, or 'close' and 'join' the pool first}}
}  // expected-warning{{'pool' is destroyed here while a result of 'imap' may be pending: its workers are terminated and the task is lost [ipc-process-not-joined]}}

void bad20_close_without_join() {
  mp::Pool pool(2);
  pool.apply_async(square, 1);  // expected-note{{'apply_async' hands out the result here; wait for it, or 'close' and 'join' the pool first}}
  pool.close();
}  // expected-warning{{'pool' is destroyed here while a result of 'apply_async' may be pending: its workers are terminated and the task is lost [ipc-process-not-joined]}}

void bad21_results_in_a_vector_return_early() {
  mp::Pool pool(4);
  std::vector<mp::AsyncResult<int>> results;
  for (int i = 0; i < 8; ++i)
    results.push_back(pool.apply_async(square, i));  // expected-note{{'apply_async' hands out the result here; wait for it, or 'close' and 'join' the pool first}}
  if (failed())
    throw std::runtime_error("stop");  // expected-warning{{'pool' is destroyed here while a result of 'apply_async' may be pending: its workers are terminated and the task is lost [ipc-process-not-joined]}}
  for (auto& r : results) log(r.get());
}

void bad22_result_outlives_nested_scope() {
  mp::Pool pool(4);
  {
    auto r = pool.starmap_async(square, std::vector<std::tuple<int>>{{1}});  // expected-note{{'starmap_async' hands out the result here; wait for it, or 'close' and 'join' the pool first}}
  }
}  // expected-warning{{'pool' is destroyed here while a result of 'starmap_async' may be pending: its workers are terminated and the task is lost [ipc-process-not-joined]}}

// --- fine ---------------------------------------------------------------------------------------

void ok1_joined() {
  mp::Process p(work, 1);
  p.start();
  p.join();
}

void ok2_joined_on_every_path() {
  mp::Process p(work, 1);
  p.start();
  if (failed()) {
    p.join();
    return;
  }
  p.join();
}

void ok3_daemon() {
  mp::Process p(work, 1);
  p.set_daemon(true);
  p.start();
}

void ok4_daemon_option() {
  mp::Process p(mp::ProcessOptions{.daemon = true}, work, 1);
  p.start();
}

mp::Process ok5_returned() {
  mp::Process p(work, 1);
  p.start();
  return p;
}

void ok6_moved_into_a_joined_vector() {
  std::vector<mp::Process> procs;
  for (int i = 0; i < 4; ++i) {
    mp::Process p(work, i);
    p.start();
    procs.push_back(std::move(p));
  }
  for (auto& p : procs) p.join();
}

void ok7_started_and_joined_in_two_loops() {
  std::vector<mp::Process> procs;
  for (int i = 0; i < 4; ++i) procs.emplace_back(work, i);
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
}

void ok8_helper_joins() {
  mp::Process p(work, 1);
  p.start();
  finish(p);
}

void ok9_thread_detached() {
  std::thread t(work, 1);
  t.detach();
}

void ok10_pthread_joined() {
  pthread_t t;
  pthread_create(&t, nullptr, run, nullptr);
  pthread_join(t, nullptr);
  pthread_t u;
  pthread_create(&u, nullptr, run, nullptr);
  pthread_detach(u);
}

void ok11_terminate_then_join() {
  mp::Process p(work, 1);
  p.start();
  p.terminate();
  p.join();
}

void ok12_helper_joins_the_vector() {
  std::vector<mp::Process> procs;
  for (int i = 0; i < 4; ++i) procs.emplace_back(work, i);
  for (auto& p : procs) p.start();
  finish_all(procs);
}

void ok13_threads_joined() {
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(work, i);
  for (auto& t : threads) t.join();
}

struct Supervisor {
  mp::Process child{work, 1};
  void launch() { child.start(); }  // the object keeps it
};

void ok14_started_through_a_parameter(mp::Process& p) { p.start(); }

void ok15_handed_to_unseen_code() {
  mp::Process p(work, 1);
  p.start();
  adopt(p);
}

void ok16_jthread_joins_itself() { std::jthread t(work, 1); }

void ok17_result_waited() {
  mp::Pool pool(4);
  auto r = pool.apply_async(square, 3);
  log(r.get());
}

void ok18_close_and_join() {
  mp::Pool pool(4);
  pool.apply_async(square, 3);
  pool.close();
  pool.join();
}

void ok19_every_result_waited() {
  mp::Pool pool(4);
  std::vector<mp::AsyncResult<int>> results;
  for (int i = 0; i < 8; ++i) results.push_back(pool.apply_async(square, i));
  for (auto& r : results) log(r.get());
}

void ok20_imap_consumed() {
  mp::Pool pool(2);
  std::vector<int> xs{1, 2, 3};
  for (int y : pool.imap_unordered(square, xs)) log(y);
}

void ok21_map_waits() {
  mp::Pool pool(2);
  std::vector<int> xs{1, 2, 3};
  for (int y : pool.map(square, xs)) log(y);
}

void ok22_wait_then_ready() {
  mp::Pool pool(2);
  std::vector<int> xs{1, 2, 3};
  auto r = pool.map_async(square, xs);
  r.wait();
  log(r.ready());
}

void ok23_terminated_on_purpose() {
  mp::Pool pool(2);
  pool.apply_async(square, 1);
  pool.terminate();
}

void ok24_helper_drains() {
  mp::Pool pool(2);
  pool.apply_async(square, 1);
  drain(pool);
}

void ok25_pool_of_the_caller(mp::Pool& pool) { pool.apply_async(square, 1); }

void ok26_executor_waits() {
  mp::ProcessPoolExecutor ex(2);
  ex.submit(square, 1);
}

// --- known false negatives ----------------------------------------------------------------------

void fn1_timed_join() {
  mp::Process p(work, 1);
  p.start();
  p.join(0.1);  // FIXME: should warn (a timed join may return while the child runs)
}

void fn2_imap_left_early() {
  mp::Pool pool(2);
  std::vector<int> xs{1, 2, 3};
  for (int y : pool.imap(square, xs))
    if (y > 1)
      break;  // FIXME: should warn (the rest of the results are still pending)
}
