/* mq_producer create|open /name count capacity: sends sample_of(i) with priority_of(i), blocking
 * when the queue is full. With `create`, creates the queue (0600, capacity, 24-byte messages) and
 * prints "ready" first. */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq_sample.h"

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s create|open /name count capacity\n", argv[0]);
    return 2;
  }
  int create = strcmp(argv[1], "create") == 0;
  long count = atol(argv[3]);
  struct mq_attr attr = {0, atol(argv[4]), sizeof(struct sample), 0};
  mqd_t q = create ? mq_open(argv[2], O_WRONLY | O_CREAT | O_EXCL, 0600, &attr) : mq_open(argv[2], O_WRONLY);
  if (q == (mqd_t)-1) {
    perror("mq_open");
    return 1;
  }
  if (create) {
    printf("ready\n");
    fflush(stdout);
  }
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
