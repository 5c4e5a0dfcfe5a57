/* mq_producer create|open /name count capacity: sends sample_of(i) with priority_of(i), blocking
 * when the queue is full. With `create`, creates the queue (0600, capacity, 24-byte messages) and
 * prints "ready" first. */
#include "mq_sample.h"

int main(int argc, char **argv) {
  long count;
  mqd_t q = open_run_queue(argc, argv, O_WRONLY, &count);
  for (long i = 0; i < count; i++) {
    struct sample s = sample_of((uint64_t)i);
    if (mq_send(q, (const char *)&s, sizeof s, priority_of((uint64_t)i)) != 0) {
      perror("mq_send");
      return 1;
    }
  }
  mq_close(q);
  return 0;
}
