/* One end of the System V bench baselines. The queue exists already (the bench creates it).
 *   sysv_throughput send|recv <msqid> <count> <size>
 *       blocking msgsnd/msgrcv of `size`-byte messages (type 1) laid out like the bench schemas:
 *       uint16_t channel at 0, uint64_t sequence number at 8. Each end prints `<ns> <cpu-ns> <steady-ns>`:
 *       the receiver the wall time between its first and its last message, and between message
 *       count/10 and its last (the part of the run the bench rates: the Node ends it is compared with
 *       start slower, while V8 compiles them), both their CPU time.
 *   sysv_throughput stamp <msqid> <count> <size> <gap-us>
 *       sends `count` messages, one every `gap-us` microseconds, each carrying its CLOCK_MONOTONIC
 *       send time at offset 8; prints nothing.
 *   sysv_throughput latency <msqid> <count> <size>
 *       blocking msgrcv of stamped messages; prints `<median-ns> <p99-ns> <cpu-ns>` of the delay
 *       between send and receive. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_clock.h"

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s send|recv|stamp|latency <msqid> <count> <size> [gap-us]\n", argv[0]);
    return 2;
  }
  int id = atoi(argv[2]);
  long count = atol(argv[3]);
  size_t size = (size_t)atol(argv[4]);
  if (size < 16) return 2;
  /* struct msgbuf: long mtype, then the text. */
  char *msg = calloc(1, sizeof(long) + size);
  long *mtype = (long *)msg;
  char *text = msg + sizeof(long);
  *mtype = 1;
  uint16_t channel = 1;
  memcpy(text, &channel, sizeof channel);
  int64_t cpu_start = cpu_ns();
  if (strcmp(argv[1], "send") == 0 || strcmp(argv[1], "stamp") == 0) {
    int stamp = argv[1][1] == 't';
    long gap_us = argc > 5 ? atol(argv[5]) : 0;
    for (uint64_t i = 0; i < (uint64_t)count; i++) {
      if (stamp) {
        struct timespec pause = {0, gap_us * 1000};
        nanosleep(&pause, NULL);
        int64_t t = now_ns();
        memcpy(text + 8, &t, sizeof t);
      } else {
        memcpy(text + 8, &i, sizeof i);
      }
      if (msgsnd(id, msg, size, 0) != 0) {
        perror("msgsnd");
        return 1;
      }
    }
    if (!stamp) printf("0 %lld 0\n", (long long)(cpu_ns() - cpu_start));
    return 0;
  }
  int latency = strcmp(argv[1], "latency") == 0;
  int64_t *delays = latency ? calloc((size_t)count, sizeof(int64_t)) : NULL;
  if (latency) {
    printf("ready\n"); /* the stamping sender starts when this line arrives */
    fflush(stdout);
  }
  int64_t start = 0, steady = 0;
  uint64_t warm = (uint64_t)count / 10;
  for (uint64_t i = 0; i < (uint64_t)count; i++) {
    if (msgrcv(id, msg, size, 0, 0) != (ssize_t)size) {
      perror("msgrcv");
      return 1;
    }
    uint64_t seq;
    memcpy(&seq, text + 8, sizeof seq);
    if (latency) {
      delays[i] = now_ns() - (int64_t)seq;
      continue;
    }
    if (i == 0) start = now_ns();
    if (i == warm) steady = now_ns();
    if (seq != i) {
      fprintf(stderr, "message %llu carries sequence number %llu\n", (unsigned long long)i, (unsigned long long)seq);
      return 1;
    }
  }
  if (latency) {
    qsort(delays, (size_t)count, sizeof(int64_t), cmp);
    printf("%lld %lld %lld\n", (long long)delays[count / 2], (long long)delays[(count * 99) / 100],
           (long long)(cpu_ns() - cpu_start));
    return 0;
  }
  int64_t end = now_ns();
  printf("%lld %lld %lld\n", (long long)(end - start), (long long)(cpu_ns() - cpu_start), (long long)(end - steady));
  return 0;
}
