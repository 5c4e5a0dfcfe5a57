/* One end of the mq throughput baseline: `mq_throughput send|recv /name count`.
 * The queue exists already (the bench creates it). Blocking mq_send/mq_receive of 24-byte samples;
 * the receiver prints the nanoseconds between its first and its last message. */
#include <fcntl.h>
#include <mqueue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sample {
  uint16_t channel;
  uint64_t timestamp;
  double value;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s send|recv /name count\n", argv[0]);
    return 2;
  }
  long count = atol(argv[3]);
  int sending = strcmp(argv[1], "send") == 0;
  mqd_t q = mq_open(argv[2], sending ? O_WRONLY : O_RDONLY);
  if (q == (mqd_t)-1) {
    perror("mq_open");
    return 1;
  }
  struct sample s;
  memset(&s, 0, sizeof s);
  if (sending) {
    for (long i = 0; i < count; i++) {
      s.channel = 1;
      s.timestamp = (uint64_t)i;
      s.value = (double)i;
      if (mq_send(q, (const char *)&s, sizeof s, 0) != 0) {
        perror("mq_send");
        return 1;
      }
    }
    return 0;
  }
  int64_t start = 0;
  for (long i = 0; i < count; i++) {
    if (mq_receive(q, (char *)&s, sizeof s, NULL) != (ssize_t)sizeof s) {
      perror("mq_receive");
      return 1;
    }
    if (i == 0) start = now_ns();
    if (s.timestamp != (uint64_t)i) {
      fprintf(stderr, "message %ld carries timestamp %llu\n", i, (unsigned long long)s.timestamp);
      return 1;
    }
  }
  printf("%lld\n", (long long)(now_ns() - start));
  return 0;
}
