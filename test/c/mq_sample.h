/* The measurement sample as C lays it out, with the offsets typed-ipc's struct() computes for it. */
#ifndef MQ_SAMPLE_H
#define MQ_SAMPLE_H
#include <stddef.h>
#include <stdint.h>

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
#endif
