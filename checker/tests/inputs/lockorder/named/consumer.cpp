#include <fcntl.h>
#include <semaphore.h>

void consume() {
  sem_t *done = sem_open("/jobs-out", O_CREAT, 0600, 1);
  sem_t *todo = sem_open("/jobs-in", O_CREAT, 0600, 1);
  sem_wait(done);
  sem_wait(todo);
  sem_post(todo);
  sem_post(done);
}
