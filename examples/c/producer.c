/*
 * The demo's C producer: sends `count` measurement samples (struct sample from the header that
 * `typed-ipc gen c` writes) over a POSIX message queue or a typed-ipc shared-memory ring.
 *   producer mq /name count      producer shm /name count
 * The consumer (Node) created the object; value i carries the sequence number i.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sample.h"
#include "typed_ipc_ring.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fill(struct sample *s, long i) {
  memset(s, 0, sizeof *s); /* padding bytes are zero, as the TypeScript encoder writes them */
  s->channel = 7;
  s->timestamp = now_ns();
  s->value = (double)i;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: producer mq|shm /name count\n");
    return 2;
  }
  long count = strtol(argv[3], NULL, 10);
  struct sample s;
  if (strcmp(argv[1], "mq") == 0) {
    mqd_t q = mq_open(argv[2], O_WRONLY);
    if (q == (mqd_t)-1) {
      perror("mq_open");
      return 1;
    }
    for (long i = 0; i < count; i++) {
      fill(&s, i);
      if (mq_send(q, (const char *)&s, sizeof s, 0) != 0) {
        perror("mq_send");
        return 1;
      }
    }
    return mq_close(q) == 0 ? 0 : 1;
  }
  tipc_ring *ring;
  int rc = tipc_ring_open_fp(&ring, argv[2], sizeof s, SAMPLE_FINGERPRINT);
  if (rc != 0) {
    fprintf(stderr, "tipc_ring_open %s: %s\n", argv[2], strerror(-rc));
    return 1;
  }
  for (long i = 0; i < count; i++) {
    fill(&s, i);
    rc = tipc_ring_send(ring, &s, -1);
    if (rc != 0) {
      fprintf(stderr, "tipc_ring_send: %s\n", strerror(-rc));
      return 1;
    }
  }
  tipc_ring_close(ring);
  return 0;
}
