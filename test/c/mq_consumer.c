/* mq_consumer create|open /name count capacity: receives `count` samples and checks each field by
 * field against sample_of(i) and priority_of(i): none missing, none twice, FIFO within a priority.
 * With `create`, creates the queue and prints "ready" first. Prints "ok <count>" on success. */
#include "mq_sample.h"

int main(int argc, char **argv) {
  long count;
  mqd_t q = open_run_queue(argc, argv, O_RDONLY, &count);
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
