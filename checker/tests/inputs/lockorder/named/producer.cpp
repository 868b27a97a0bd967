// Two programs open the same named semaphores under other variable names: the names meet.
#include <fcntl.h>
#include <semaphore.h>

void produce() {
  sem_t *input = sem_open("/jobs-in", O_CREAT, 0600, 1);
  sem_t *output = sem_open("/jobs-out", O_CREAT, 0600, 1);
  sem_wait(input);
  sem_wait(output);
  sem_post(output);
  sem_post(input);
}
