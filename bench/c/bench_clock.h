/* Clocks of the C bench loops: wall time (CLOCK_MONOTONIC, the clock Node's process.hrtime reads)
 * and the process's CPU time (user + system), in nanoseconds. */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}
#endif
