/* One end of the mq throughput baseline: `mq_throughput send|recv /name count size`.
 * The queue exists already (the bench creates it). Blocking mq_send/mq_receive of `size`-byte
 * messages laid out like the bench schemas: uint16_t channel at 0, uint64_t sequence number at 8.
 * Each end prints `<ns> <cpu-ns>`: the receiver the wall time between its first and its last
 * message, both the CPU time (user + system) they used while moving messages. */
#include <fcntl.h>
#include <mqueue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_clock.h"

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s send|recv /name count size\n", argv[0]);
    return 2;
  }
  long count = atol(argv[3]);
  size_t size = (size_t)atol(argv[4]);
  int sending = strcmp(argv[1], "send") == 0;
  mqd_t q = mq_open(argv[2], sending ? O_WRONLY : O_RDONLY);
  if (q == (mqd_t)-1 || size < 16) {
    perror("mq_open");
    return 1;
  }
  char *msg = calloc(1, size);
  uint16_t channel = 1;
  memcpy(msg, &channel, sizeof channel);
  int64_t cpu_start = cpu_ns();
  if (sending) {
    for (uint64_t i = 0; i < (uint64_t)count; i++) {
      memcpy(msg + 8, &i, sizeof i);
      if (mq_send(q, msg, size, 0) != 0) {
        perror("mq_send");
        return 1;
      }
    }
    printf("0 %lld\n", (long long)(cpu_ns() - cpu_start));
    return 0;
  }
  int64_t start = 0;
  for (uint64_t i = 0; i < (uint64_t)count; i++) {
    if (mq_receive(q, msg, size, NULL) != (ssize_t)size) {
      perror("mq_receive");
      return 1;
    }
    if (i == 0) start = now_ns();
    uint64_t seq;
    memcpy(&seq, msg + 8, sizeof seq);
    if (seq != i) {
      fprintf(stderr, "message %llu carries sequence number %llu\n", (unsigned long long)i, (unsigned long long)seq);
      return 1;
    }
  }
  printf("%lld %lld\n", (long long)(now_ns() - start), (long long)(cpu_ns() - cpu_start));
  return 0;
}
