// A job board in POSIX shared memory: the parent posts jobs, forked workers claim and finish
// them. Written the way such code is written outside this project; the findings are marked.
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

constexpr int kSlots = 64;
constexpr int kWorkers = 4;

enum JobState { kFree, kPosted, kClaimed, kDone };

struct Job {
  int id;
  int state;
  int result;
};

struct Board {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int posted;
  int next_claim;
  int done;
  int shutdown;
  Job jobs[kSlots];
};

static Board* map_board() {
  int fd = shm_open("/jobboard", O_CREAT | O_RDWR, 0600);
  if (fd < 0) {
    perror("shm_open");
    return nullptr;
  }
  if (ftruncate(fd, sizeof(Board)) != 0) {
    perror("ftruncate");
    close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  shm_unlink("/jobboard");
  return p == MAP_FAILED ? nullptr : static_cast<Board*>(p);
}

static void init_board(Board* b) {
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&b->lock, &ma);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&b->changed, &ca);
  b->posted = b->next_claim = b->done = b->shutdown = 0;
}

void post_job(Board* b, int id) {
  pthread_mutex_lock(&b->lock);
  Job& j = b->jobs[b->posted % kSlots];
  j.id = id;
  j.state = kPosted;
  b->posted++;
  pthread_cond_broadcast(&b->changed);
  pthread_mutex_unlock(&b->lock);
}

// A fast path that skips the lock when there is nothing to do: two workers can both see one
// job left and both claim it.
int claim_job_fast(Board* b) {
  if (b->next_claim >= b->posted)  // expected-note{{'b->next_claim' is checked here}}
    return -1;
  pthread_mutex_lock(&b->lock);
  int slot = b->next_claim++ % kSlots;  // expected-warning{{'b->next_claim' may change between the check and '++': no lock is held from one to the other [ipc-check-then-act]}}
  b->jobs[slot].state = kClaimed;
  pthread_mutex_unlock(&b->lock);
  return slot;
}

int claim_job(Board* b) {
  pthread_mutex_lock(&b->lock);
  while (b->next_claim >= b->posted && !b->shutdown)
    pthread_cond_wait(&b->changed, &b->lock);
  int slot = -1;
  if (b->next_claim < b->posted) {
    slot = b->next_claim++ % kSlots;
    b->jobs[slot].state = kClaimed;
  }
  pthread_mutex_unlock(&b->lock);
  return slot;
}

void finish_job(Board* b, int slot, int result) {
  b->jobs[slot].result = result;
  b->jobs[slot].state = kDone;
  b->done++;  // expected-warning{{non-atomic update of 'b->done': '++' reads and writes in separate steps with no lock held [ipc-nonatomic-update]}}
  pthread_cond_broadcast(&b->changed);
}

void finish_job_locked(Board* b, int slot, int result) {
  pthread_mutex_lock(&b->lock);
  b->jobs[slot].result = result;
  b->jobs[slot].state = kDone;
  b->done++;
  pthread_cond_broadcast(&b->changed);
  pthread_mutex_unlock(&b->lock);
}

// Work stealing by a monitor process, without the board's lock: two monitors can both see the
// job posted and both take it.
bool steal_job(Board* b, int slot) {
  Job* j = &b->jobs[slot];
  if (j->state != kPosted)  // expected-note{{is checked here}}
    return false;
  j->state = kClaimed;  // expected-warning{{may change between the check and '=': no lock is held from one to the other [ipc-check-then-act]}}
  return true;
}

// Progress output may be a little stale; nothing is decided by it.
void report(const Board* b) { std::printf("%d of %d done\n", b->done, b->posted); }

void wait_all(Board* b, int n) {
  pthread_mutex_lock(&b->lock);
  while (b->done < n)
    pthread_cond_wait(&b->changed, &b->lock);
  b->shutdown = 1;
  pthread_cond_broadcast(&b->changed);
  pthread_mutex_unlock(&b->lock);
}

// Statistics kept beside the board, guarded by a named semaphore.
sem_t* stats_sem;
long stats_total;

void add_stats(long n) {
  sem_wait(stats_sem);
  stats_total += n;
  sem_post(stats_sem);
}

void maybe_reset_stats() {
  if (stats_total > 1000000)  // expected-note{{'stats_total' is checked here}}
    stats_total = 0;  // expected-warning{{'stats_total' may change between the check and '=': no lock is held from one to the other [ipc-check-then-act]}}
}

static void worker(Board* b) {
  // The loop condition reads the flag without the lock, but only decides whether to ask
  // again; claim_job re-checks under the lock.
  while (!b->shutdown) {
    int slot = claim_job(b);
    if (slot < 0)
      break;
    finish_job_locked(b, slot, b->jobs[slot].id * 2);
    add_stats(1);
  }
}

int main() {
  Board* b = map_board();
  if (!b)
    return 1;
  init_board(b);
  stats_sem = sem_open("/jobboard-stats", O_CREAT, 0600, 1);
  for (int i = 0; i < kWorkers; ++i)
    if (fork() == 0) {
      worker(b);
      _exit(0);
    }
  for (int id = 0; id < 32; ++id)
    post_job(b, id);
  wait_all(b, 32);
  report(b);
  while (wait(nullptr) > 0) {
  }
  return 0;
}
