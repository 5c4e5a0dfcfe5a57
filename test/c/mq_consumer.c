/* mq_consumer create|open /name count capacity: receives `count` samples and checks each field by
 * field against sample_of(i) and priority_of(i): none missing, none twice, FIFO within a priority.
 * With `create`, creates the queue and prints "ready" first. Prints "ok <count>" on success. */
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
  mqd_t q = create ? mq_open(argv[2], O_RDONLY | O_CREAT | O_EXCL, 0600, &attr) : mq_open(argv[2], O_RDONLY);
  if (q == (mqd_t)-1) {
    perror("mq_open");
    return 1;
  }
  if (create) {
    printf("ready\n");
    fflush(stdout);
  }
  unsigned char *seen = calloc((size_t)count, 1);
  long last[4] = {-1, -1, -1, -1};
  for (long n = 0; n < count; n++) {
    struct sample s;
    unsigned prio;
    ssize_t len = mq_receive(q, (char *)&s, sizeof s, &prio);
    if (len != (ssize_t)sizeof s) {
      printf("message %ld: %zd bytes, expected %zu\n", n, len, sizeof s);
      return 1;
    }
    uint64_t i = (s.timestamp - 17u) / 1000003u;
    struct sample want = sample_of(i);
    if ((long)i >= count || s.timestamp != want.timestamp) {
      printf("message %ld: timestamp %llu is no sample of this run\n", n, (unsigned long long)s.timestamp);
      return 1;
    }
    if (s.channel != want.channel || s.value != want.value || prio != priority_of(i)) {
      printf("sample %llu: channel %u value %.17g priority %u, expected %u %.17g %u\n", (unsigned long long)i,
             s.channel, s.value, prio, want.channel, want.value, priority_of(i));
      return 1;
    }
    if (seen[i]++ || (long)i <= last[prio]) {
      printf("sample %llu: duplicated or out of order within priority %u\n", (unsigned long long)i, prio);
      return 1;
    }
    last[prio] = (long)i;
  }
  printf("ok %ld\n", count);
  mq_close(q);
  return 0;
}
