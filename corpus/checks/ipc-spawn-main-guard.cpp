// Corpus for ipc-spawn-main-guard: `main` can reach a process, pool or manager start without
// mp::init(argc, argv) having run first. A program has one `main`, so each case is its own
// translation unit: the file runs once per case with -DCASE=i. Cases 1-18 must warn, 19-36 not.
// CASES: 36
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -DCASE=1 -I include %s

#include <pthread.h>

#include <thread>
#include <vector>

#include "mp/mp.h"

void work(int);
int square(int);
bool verbose();
void* run(void*);

// --- bad ------------------------------------------------------------------------------------------

#if CASE == 1  // bad: a start and no guard at all
int main() {
  mp::Process p(work, 1);  // expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
  p.start();  // expected-warning{{'start' can start a process before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}}
  p.join();
}
#endif

#if CASE == 2  // bad: the guard comes after the start
int main(int argc, char** argv) {
  mp::Process p(work, 1);
  p.start();  // expected-note{{a process is started here}}
  mp::init(argc, argv);  // expected-warning{{'mp::init' is called after a process may have been started: it must run before any start [ipc-spawn-main-guard]}}
  p.join();
}
#endif

#if CASE == 3  // bad: a helper starts before the guard
void launch() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{a process is started here}}
  p.join();
}
int main(int argc, char** argv) {
  launch();
  mp::init(argc, argv);  // expected-warning{{'mp::init' is called after a process may have been started: it must run before any start [ipc-spawn-main-guard]}}
}
#endif

#if CASE == 4  // bad: a pool and no guard
int main() {
  mp::Pool pool(4);  // expected-warning{{'Pool' can start worker processes before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}} expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
  pool.map(square, std::vector<int>{1, 2});
}
#endif

#if CASE == 5  // bad: a manager and no guard
int main() {
  auto manager = mp::Manager();  // expected-warning{{'Manager' can start worker processes before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}} expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
}
#endif

#if CASE == 6  // bad: a global pool starts during static initialization
mp::Pool pool(4);  // expected-warning{{initializing 'pool' starts worker processes before 'main' can call 'mp::init(argc, argv)' [ipc-spawn-main-guard]}}
int main(int argc, char** argv) {
  mp::init(argc, argv);  // expected-note{{start it in 'main', after 'mp::init(argc, argv)'}}
  pool.map(square, std::vector<int>{1, 2});
}
#endif

#if CASE == 7  // bad: a global object whose constructor starts a process
struct Service {
  Service() { child.start(); }  // expected-note{{a process is started here}}
  mp::Process child{work, 1};
};
Service service;  // expected-warning{{initializing 'service' starts a process before 'main' can call 'mp::init(argc, argv)' [ipc-spawn-main-guard]}}
int main(int argc, char** argv) {
  mp::init(argc, argv);  // expected-note{{start it in 'main', after 'mp::init(argc, argv)'}}
}
#endif

#if CASE == 8  // bad: the guard runs on one path only
int main(int argc, char** argv) {
  if (argc > 1)  // expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
    mp::init(argc, argv);
  mp::Process p(work, 1);
  p.start();  // expected-warning{{'start' can start a process before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}}
  p.join();
}
#endif

#if CASE == 9  // bad: a lambda called from main starts
int main(int argc, char** argv) {
  auto go = [] {  // expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
    mp::Process p(work, 1);
    p.start();  // expected-note{{a process is started here}}
    p.join();
  };
  go();  // expected-warning{{'operator()' can start a process before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}}
}
#endif

#if CASE == 10  // bad: a manager started by hand
int main() {
  mp::SyncManager manager;  // expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
  manager.start();  // expected-warning{{'start' can start worker processes before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}}
}
#endif

#if CASE == 11  // bad: an executor before the guard
int main(int argc, char** argv) {
  mp::ProcessPoolExecutor ex(2);  // expected-note{{worker processes is started here}}
  mp::init(argc, argv);  // expected-warning{{'mp::init' is called after worker processes may have been started: it must run before any start [ipc-spawn-main-guard]}}
}
#endif

#if CASE == 12  // bad: a helper that guards on one path only
void setup(int argc, char** argv) {
  if (verbose())
    mp::init(argc, argv);
}
int main(int argc, char** argv) {
  setup(argc, argv);  // expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
  mp::Pool pool(2);  // expected-warning{{'Pool' can start worker processes before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}}
}
#endif

#if CASE == 13  // bad: a static data member
struct Workers {
  static mp::Pool pool;
};
mp::Pool Workers::pool{2};  // expected-warning{{initializing 'pool' starts worker processes before 'main' can call 'mp::init(argc, argv)' [ipc-spawn-main-guard]}}
int main(int argc, char** argv) {
  mp::init(argc, argv);  // expected-note{{start it in 'main', after 'mp::init(argc, argv)'}}
}
#endif

#if CASE == 14  // bad: a member pool of a local object, constructed before the guard
struct Service {
  mp::Pool pool{2};  // expected-note{{worker processes is started here}}
};
int main(int argc, char** argv) {
  Service service;
  mp::init(argc, argv);  // expected-warning{{'mp::init' is called after worker processes may have been started: it must run before any start [ipc-spawn-main-guard]}}
}
#endif

#if CASE == 15  // bad: a global initialized by a helper that starts
mp::Process make_started() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{a process is started here}}
  return p;
}
mp::Process child = make_started();  // expected-warning{{initializing 'child' starts a process before 'main' can call 'mp::init(argc, argv)' [ipc-spawn-main-guard]}}
int main(int argc, char** argv) {
  mp::init(argc, argv);  // expected-note{{start it in 'main', after 'mp::init(argc, argv)'}}
  child.join();
}
#endif

#if CASE == 16  // bad: a chain of helpers
void inner() {
  mp::Process p(work, 1);
  p.start();  // expected-note{{a process is started here}}
  p.join();
}
void outer() { inner(); }
int main() {
  outer();  // expected-warning{{'outer' can start a process before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}} expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
}
#endif

#if CASE == 17  // bad: started in a loop, guard never called
int main() {
  std::vector<mp::Process> procs;  // expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
  for (int i = 0; i < 4; ++i) procs.emplace_back(work, i);
  for (auto& p : procs) p.start();  // expected-warning{{'start' can start a process before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}}
  for (auto& p : procs) p.join();
}
#endif

#if CASE == 18  // bad: an early path around the guard
int main(int argc, char** argv) {
  if (verbose()) {  // expected-note{{'mp::init(argc, argv)' should be the first statement of 'main'}}
    mp::Pool pool(2);  // expected-warning{{'Pool' can start worker processes before 'mp::init(argc, argv)' has run in 'main' [ipc-spawn-main-guard]}}
    return 0;
  }
  mp::init(argc, argv);
  mp::Pool pool(2);
}
#endif

// --- ok -------------------------------------------------------------------------------------------

#if CASE == 19  // ok: the guard first
// expected-no-diagnostics
int main(int argc, char** argv) {
  mp::init(argc, argv);
  mp::Process p(work, 1);
  p.start();
  p.join();
}
#endif

#if CASE == 20  // ok: a helper that guards on every path
// expected-no-diagnostics
void setup(int argc, char** argv) {
  mp::init(argc, argv);
  if (verbose())
    work(0);
}
int main(int argc, char** argv) {
  setup(argc, argv);
  mp::Pool pool(2);
}
#endif

#if CASE == 21  // ok: nothing is started
// expected-no-diagnostics
int main() { work(1); }
#endif

#if CASE == 22  // ok: a global process constructed, started after the guard
// expected-no-diagnostics
mp::Process child(work, 1);
int main(int argc, char** argv) {
  mp::init(argc, argv);
  child.start();
  child.join();
}
#endif

#if CASE == 23  // ok: global primitives start nothing
// expected-no-diagnostics
mp::Lock lock;
mp::Queue<int> queue;
int main(int argc, char** argv) { mp::init(argc, argv); }
#endif

#if CASE == 24  // ok: a helper that starts but is never called from main
// expected-no-diagnostics
void unused() {
  mp::Process p(work, 1);
  p.start();
  p.join();
}
int main() { work(1); }
#endif

#if CASE == 25  // ok: starts in a loop after the guard
// expected-no-diagnostics
int main(int argc, char** argv) {
  mp::init(argc, argv);
  for (int i = 0; i < 4; ++i) {
    mp::Process p(work, i);
    p.start();
    p.join();
  }
}
#endif

#if CASE == 26  // ok: a helper that guards and then starts
// expected-no-diagnostics
void start_all(int argc, char** argv) {
  mp::init(argc, argv);
  mp::Pool pool(2);
}
int main(int argc, char** argv) { start_all(argc, argv); }
#endif

#if CASE == 27  // ok: the guard, then a lambda that starts
// expected-no-diagnostics
int main(int argc, char** argv) {
  mp::init(argc, argv);
  auto go = [] {
    mp::Process p(work, 1);
    p.start();
    p.join();
  };
  go();
}
#endif

#if CASE == 28  // ok: no main in this file; the helper's caller is elsewhere
// expected-no-diagnostics
void launch() {
  mp::Process p(work, 1);
  p.start();
  p.join();
}
#endif

#if CASE == 29  // ok: a manager and a pool after the guard
// expected-no-diagnostics
int main(int argc, char** argv) {
  mp::init(argc, argv);
  auto manager = mp::Manager();
  mp::Pool pool(2);
}
#endif

#if CASE == 30  // ok: an executor after the guard
// expected-no-diagnostics
int main(int argc, char** argv) {
  mp::init(argc, argv);
  mp::ProcessPoolExecutor ex(2);
}
#endif

#if CASE == 31  // ok: a helper that starts, called after the guard
// expected-no-diagnostics
void launch() {
  mp::Process p(work, 1);
  p.start();
  p.join();
}
int main(int argc, char** argv) {
  mp::init(argc, argv);
  launch();
}
#endif

#if CASE == 32  // ok: a global pool pointer, the pool made after the guard
// expected-no-diagnostics
mp::Pool* pool = nullptr;
int main(int argc, char** argv) {
  mp::init(argc, argv);
  mp::Pool local(2);
  pool = &local;
}
#endif

#if CASE == 33  // ok: threads are not processes: they never re-run main
// expected-no-diagnostics
int main() {
  std::thread t(work, 1);
  t.join();
  pthread_t u;
  pthread_create(&u, nullptr, run, nullptr);
  pthread_join(u, nullptr);
}
#endif

#if CASE == 34  // ok: a function-local static pool, first used after the guard
// expected-no-diagnostics
mp::Pool& shared_pool() {
  static mp::Pool pool(2);
  return pool;
}
int main(int argc, char** argv) {
  mp::init(argc, argv);
  shared_pool().map(square, std::vector<int>{1});
}
#endif

#if CASE == 35  // ok: a local class with a pool member, constructed after the guard
// expected-no-diagnostics
struct Service {
  mp::Pool pool{2};
};
int main(int argc, char** argv) {
  mp::init(argc, argv);
  Service service;
}
#endif

#if CASE == 36  // ok: a process target (child code) that starts its own children
// expected-no-diagnostics
void child_main(int n) {
  mp::Process grandchild(work, n);
  grandchild.start();
  grandchild.join();
}
int main(int argc, char** argv) {
  mp::init(argc, argv);
  mp::Process p(child_main, 2);
  p.start();
  p.join();
}
#endif
