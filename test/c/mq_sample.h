/* The measurement sample as C lays it out, with the offsets typed-ipc's struct() computes for it. */
#ifndef MQ_SAMPLE_H
#define MQ_SAMPLE_H
#include <fcntl.h>
#include <mqueue.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sample {
  uint16_t channel;
  uint64_t timestamp;
  double value;
};
_Static_assert(sizeof(struct sample) == 24, "sizeof(struct sample)");
_Static_assert(offsetof(struct sample, channel) == 0, "offsetof channel");
_Static_assert(offsetof(struct sample, timestamp) == 8, "offsetof timestamp");
_Static_assert(offsetof(struct sample, value) == 16, "offsetof value");

/* Message i of an interop run: every field derives from i, so each side can check the other. */
static inline struct sample sample_of(uint64_t i) {
  struct sample s = {(uint16_t)(i % 7), i * 1000003u + 17u, (double)i * 0.25 - 3.0};
  return s;
}
static inline unsigned priority_of(uint64_t i) { return (unsigned)((i / 3u) % 4u); }

/* Parses `create|open /name count capacity` and opens the queue for `access` (O_RDONLY or O_WRONLY);
 * `create` creates it (0600, capacity, 24-byte messages) and prints "ready". Exits on failure. */
static inline mqd_t open_run_queue(int argc, char **argv, int access, long *count) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s create|open /name count capacity\n", argv[0]);
    exit(2);
  }
  int create = strcmp(argv[1], "create") == 0;
  struct mq_attr attr = {0, atol(argv[4]), sizeof(struct sample), 0};
  mqd_t q = create ? mq_open(argv[2], access | O_CREAT | O_EXCL, 0600, &attr) : mq_open(argv[2], access);
  if (q == (mqd_t)-1) {
    perror("mq_open");
    exit(1);
  }
  if (create) {
    printf("ready\n");
    fflush(stdout);
  }
  *count = atol(argv[3]);
  return q;
}
#endif
