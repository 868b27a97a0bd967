// A work queue, a registry and a logger in C style on POSIX threads, written the way such code
// is written outside this project (error handling trimmed); the deadlocks are marked.
// CHECKS: ipc-lock-reacquire,ipc-blocking-under-lock
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_JOBS 64
#define NWORKERS 4

struct job {
  void (*fn)(void *);
  void *arg;
};

struct workqueue {
  pthread_mutex_t lock;
  pthread_cond_t nonempty;
  pthread_cond_t nonfull;
  struct job jobs[MAX_JOBS];
  int head, count;
  int shutting_down;
  pthread_t workers[NWORKERS];
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;

static void log_msg(const char *msg) {
  pthread_mutex_lock(&log_lock);  // expected-note{{'log_lock' acquired again here, in 'log_msg'}}
  fprintf(log_file ? log_file : stderr, "%s\n", msg);
  pthread_mutex_unlock(&log_lock);
}

static void log_rotate(const char *path) {
  pthread_mutex_lock(&log_lock);  // expected-note{{'log_lock' first acquired here}}
  if (log_file)
    fclose(log_file);
  log_file = fopen(path, "a");
  if (!log_file)
    log_msg("cannot reopen the log");  // expected-warning{{call to 'log_msg' acquires 'log_lock' while it is held: 'pthread_mutex_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
  pthread_mutex_unlock(&log_lock);
}

static void *worker_main(void *p) {
  struct workqueue *wq = (struct workqueue *)p;
  for (;;) {
    pthread_mutex_lock(&wq->lock);
    while (wq->count == 0 && !wq->shutting_down)
      pthread_cond_wait(&wq->nonempty, &wq->lock);  // lets go of the queue lock: fine
    if (wq->shutting_down && wq->count == 0) {
      pthread_mutex_unlock(&wq->lock);
      return NULL;
    }
    struct job j = wq->jobs[wq->head];
    wq->head = (wq->head + 1) % MAX_JOBS;
    wq->count--;
    pthread_cond_signal(&wq->nonfull);
    pthread_mutex_unlock(&wq->lock);
    j.fn(j.arg);  // run outside the lock
  }
}

int wq_init(struct workqueue *wq) {
  memset(wq, 0, sizeof *wq);
  pthread_mutex_init(&wq->lock, NULL);
  pthread_cond_init(&wq->nonempty, NULL);
  pthread_cond_init(&wq->nonfull, NULL);
  for (int i = 0; i < NWORKERS; i++)
    pthread_create(&wq->workers[i], NULL, worker_main, wq);
  return 0;
}

int wq_submit(struct workqueue *wq, void (*fn)(void *), void *arg) {
  pthread_mutex_lock(&wq->lock);
  while (wq->count == MAX_JOBS)
    pthread_cond_wait(&wq->nonfull, &wq->lock);
  int tail = (wq->head + wq->count) % MAX_JOBS;
  wq->jobs[tail].fn = fn;
  wq->jobs[tail].arg = arg;
  wq->count++;
  pthread_cond_signal(&wq->nonempty);
  pthread_mutex_unlock(&wq->lock);
  return 0;
}

// Backs off while holding the lock: every worker and submitter stalls meanwhile.
int wq_submit_retry(struct workqueue *wq, void (*fn)(void *), void *arg) {
  pthread_mutex_lock(&wq->lock);  // expected-note{{'wq->lock' acquired here}}
  while (wq->count == MAX_JOBS)
    usleep(1000);  // expected-warning{{blocking call to 'usleep' while holding 'wq->lock' [ipc-blocking-under-lock]}}
  int tail = (wq->head + wq->count) % MAX_JOBS;
  wq->jobs[tail].fn = fn;
  wq->jobs[tail].arg = arg;
  wq->count++;
  pthread_cond_signal(&wq->nonempty);
  pthread_mutex_unlock(&wq->lock);
  return 0;
}

// Joins the workers with the queue lock held: a worker that is between jobs needs the lock to
// see the flag, and never exits.
void wq_destroy_bad(struct workqueue *wq) {
  pthread_mutex_lock(&wq->lock);  // expected-note{{'wq->lock' acquired here}}
  wq->shutting_down = 1;
  pthread_cond_broadcast(&wq->nonempty);
  for (int i = 0; i < NWORKERS; i++)
    pthread_join(wq->workers[i], NULL);  // expected-warning{{blocking call to 'pthread_join' while holding 'wq->lock' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&wq->lock);
}

void wq_destroy(struct workqueue *wq) {
  pthread_mutex_lock(&wq->lock);
  wq->shutting_down = 1;
  pthread_cond_broadcast(&wq->nonempty);
  pthread_mutex_unlock(&wq->lock);
  for (int i = 0; i < NWORKERS; i++)
    pthread_join(wq->workers[i], NULL);
  pthread_mutex_destroy(&wq->lock);
}

// A registry whose lock is recursive: lookups call each other with it held.
struct registry {
  pthread_mutex_t mu;
  int n;
  const char *names[32];
};

void registry_init(struct registry *r) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&r->mu, &a);
  pthread_mutexattr_destroy(&a);
  r->n = 0;
}

int registry_find(struct registry *r, const char *name) {
  int found = -1;
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->names[i], name) == 0)
      found = i;
  pthread_mutex_unlock(&r->mu);
  return found;
}

int registry_add(struct registry *r, const char *name) {
  pthread_mutex_lock(&r->mu);
  int i = registry_find(r, name);  // recursive mutex: fine
  if (i < 0 && r->n < 32) {
    r->names[r->n] = name;
    i = r->n++;
  }
  pthread_mutex_unlock(&r->mu);
  return i;
}

// Statistics: a fast path with trylock, a read-mostly table with a rwlock.
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long stats_dropped;
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static int table[16];

void stats_drop(void) {
  if (pthread_mutex_trylock(&stats_lock) == EBUSY)
    return;  // sampling: a busy lock means someone else counts
  stats_dropped++;
  pthread_mutex_unlock(&stats_lock);
}

int table_get(int i) {
  pthread_rwlock_rdlock(&table_lock);
  int v = table[i];
  pthread_rwlock_unlock(&table_lock);
  return v;
}

int table_sum2(int i, int j) {
  pthread_rwlock_rdlock(&table_lock);
  int s = table[i] + table_get(j);  // a second read lock: allowed
  pthread_rwlock_unlock(&table_lock);
  return s;
}

void table_bump(int i) {
  pthread_rwlock_rdlock(&table_lock);  // expected-note{{'table_lock' first acquired here}}
  if (table[i] < 0) {
    pthread_rwlock_wrlock(&table_lock);  // expected-warning{{acquiring 'table_lock' again while it is held: 'pthread_rwlock_t' is not reentrant (self-deadlock) [ipc-lock-reacquire]}}
    table[i] = 0;
  }
  pthread_rwlock_unlock(&table_lock);
}

// Error paths with goto: every one lets go of the lock before reading the socket.
int read_request(struct workqueue *wq, int fd, char *buf, size_t len) {
  pthread_mutex_lock(&wq->lock);
  if (wq->shutting_down)
    goto out_unlock;
  wq->count += 0;
  pthread_mutex_unlock(&wq->lock);
  return (int)read(fd, buf, len);
out_unlock:
  pthread_mutex_unlock(&wq->lock);
  return -1;
}

// A helper that expects the lock held waits on the condition: the wait lets go of it.
static void wait_nonempty_locked(struct workqueue *wq) {
  while (wq->count == 0)
    pthread_cond_wait(&wq->nonempty, &wq->lock);
}

int wq_peek(struct workqueue *wq) {
  pthread_mutex_lock(&wq->lock);
  wait_nonempty_locked(wq);
  int fn_set = wq->jobs[wq->head].fn != NULL;
  pthread_mutex_unlock(&wq->lock);
  return fn_set;
}

// Logs under the queue lock, then waits for a child with it held.
#include <sys/wait.h>
void reap_helper(struct workqueue *wq, pid_t child) {
  int status;
  pthread_mutex_lock(&wq->lock);  // expected-note{{'wq->lock' acquired here}}
  log_msg("reaping");
  waitpid(child, &status, 0);  // expected-warning{{blocking call to 'waitpid' while holding 'wq->lock' [ipc-blocking-under-lock]}}
  pthread_mutex_unlock(&wq->lock);
}
