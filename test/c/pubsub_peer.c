/*
 * C peer of the pub/sub tests: the modes, checks and output of test/channels/pubsub-peer.ts, over
 * include/typed_ipc_pubsub.h. `struct ps_sample` comes from cHeader() (the tests prepend it).
 *   publish <name> <source> <count|-1> <maxBatch>   prints ready, then `sent <n>` (count -1: until SIGTERM)
 *   subscribe <name> <exact 0|1> [history]            prints ready, `from <source>`, `s ...` lines and `ok ...`
 *   stall <name>                                      receives one message, prints stalled, never reads again
 *   bench <name> <count> <batch> <size>               (bench/pubsub.bench.ts) subscribes, forks a publisher of count
 *                                                     raw messages of size bytes in batches, prints `rate <msg/s>`
 */
#include "typed_ipc_pubsub.h"

#include <signal.h>
#include <sys/wait.h>

#define STOP 65535
#define MAX_SOURCES 256

static volatile sig_atomic_t stop_requested = 0;
static void on_term(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void fill(struct ps_sample *m, uint16_t source, uint64_t seq) {
  memset(m, 0, sizeof *m);
  m->source = source;
  m->seq = seq;
  for (int i = 0; i < 6; i++) m->words[i] = seq * (uint64_t)(i + 1) + source;
}

static int whole(const struct ps_sample *m) {
  for (int i = 0; i < 6; i++)
    if (m->words[i] != m->seq * (uint64_t)(i + 1) + m->source) return 0;
  return 1;
}

static void fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s (%s)\n", what, strerror(-rc), tipc_ring_last_error());
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *mode = argv[1], *name = argv[2];
  tipc_ps *h = NULL;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(mode, "publish") == 0 && argc >= 6) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    uint16_t source = (uint16_t)atoi(argv[3]);
    long long count = atoll(argv[4]);
    uint32_t max_batch = (uint32_t)atoi(argv[5]);
    int rc = tipc_ps_open_fp(&h, name, sizeof(struct ps_sample), TIPC_PS_PUBLISHER, 0, PS_SAMPLE_FINGERPRINT);
    if (rc != 0) fail("open", rc);
    printf("ready\n");
    static struct ps_sample batch[64];
    uint64_t i = 0;
    for (uint32_t round = 1; !stop_requested && (count < 0 || i < (uint64_t)count); round++) {
      uint32_t size = 1 + (round * 7) % max_batch;
      if (count >= 0 && size > (uint64_t)count - i) size = (uint32_t)((uint64_t)count - i);
      for (uint32_t j = 0; j < size; j++) fill(&batch[j], source, i + j);
      uint32_t done = 0;
      while (done < size) {
        int n = tipc_ps_publish_many(h, batch + done, size - done, 100);
        if (n == -EAGAIN) {
          if (stop_requested) break;
          continue;
        }
        if (n < 0) fail("publish", n);
        done += (uint32_t)n;
      }
      i += done;
      if (done < size) break;
    }
    printf("sent %llu\n", (unsigned long long)i);
  } else if (strcmp(mode, "subscribe") == 0 && argc >= 4) {
    int exact = atoi(argv[3]);
    uint32_t history = argc >= 5 ? (uint32_t)atoi(argv[4]) : 0;
    int rc = tipc_ps_open_fp(&h, name, sizeof(struct ps_sample), TIPC_PS_SUBSCRIBER, history, PS_SAMPLE_FINGERPRINT);
    if (rc != 0) fail("open", rc);
    printf("ready\n");
    static struct { int seen; uint64_t count, first, last; } sources[MAX_SOURCES];
    static struct ps_sample got[64];
    uint64_t delivered = 0;
    for (int stopped = 0; !stopped;) {
      uint64_t missed = 0;
      int n = tipc_ps_receive_many(h, got, 64, &missed, -1);
      if (n < 0) fail("receive", n);
      for (int k = 0; k < n; k++) {
        const struct ps_sample *m = &got[k];
        uint64_t before = k == 0 ? missed : 0; /* a batch's losses are all before its first message */
        delivered++;
        if (m->source == STOP) {
          stopped = 1;
          break;
        }
        if (!whole(m)) {
          fprintf(stderr, "torn message: source %u seq %llu\n", m->source, (unsigned long long)m->seq);
          return 1;
        }
        if (m->source >= MAX_SOURCES) return 3;
        if (!sources[m->source].seen) {
          if (exact && m->seq != before) {
            fprintf(stderr, "source %u: first %llu with missed %llu\n", m->source, (unsigned long long)m->seq,
                    (unsigned long long)before);
            return 1;
          }
          sources[m->source].seen = 1;
          sources[m->source].count = 1;
          sources[m->source].first = sources[m->source].last = m->seq;
          printf("from %u\n", m->source);
          continue;
        }
        if (m->seq <= sources[m->source].last || (exact && m->seq != sources[m->source].last + 1 + before)) {
          fprintf(stderr, "source %u: %llu after %llu with missed %llu\n", m->source, (unsigned long long)m->seq,
                  (unsigned long long)sources[m->source].last, (unsigned long long)before);
          return 1;
        }
        sources[m->source].count++;
        sources[m->source].last = m->seq;
      }
    }
    for (int s = 0; s < MAX_SOURCES; s++)
      if (sources[s].seen)
        printf("s %d %llu %llu %llu\n", s, (unsigned long long)sources[s].count, (unsigned long long)sources[s].first,
               (unsigned long long)sources[s].last);
    printf("ok %llu %llu %llu %llu\n", (unsigned long long)delivered, (unsigned long long)tipc_ps_missed(h),
           (unsigned long long)tipc_ps_skipped(h), (unsigned long long)tipc_ps_position(h));
  } else if (strcmp(mode, "stall") == 0) {
    int rc = tipc_ps_open_fp(&h, name, sizeof(struct ps_sample), TIPC_PS_SUBSCRIBER, 0, PS_SAMPLE_FINGERPRINT);
    if (rc != 0) fail("open", rc);
    printf("ready\n");
    struct ps_sample m;
    rc = tipc_ps_receive(h, &m, NULL, -1);
    if (rc != 0) fail("receive", rc);
    printf("stalled\n");
    for (;;) pause();
  } else if (strcmp(mode, "bench") == 0 && argc >= 6) {
    uint64_t count = strtoull(argv[3], NULL, 10);
    uint32_t batch = (uint32_t)atoi(argv[4]), size = (uint32_t)atoi(argv[5]);
    int rc = tipc_ps_open(&h, name, size, TIPC_PS_SUBSCRIBER, 0);
    if (rc != 0) fail("open", rc);
    uint8_t *buf = (uint8_t *)calloc(batch, size);
    pid_t child = fork();
    if (child == 0) {
      tipc_ps *p = NULL;
      if ((rc = tipc_ps_open(&p, name, size, TIPC_PS_PUBLISHER, 0)) != 0) fail("open publisher", rc);
      for (uint64_t sent = 0; sent < count;) {
        uint32_t n = count - sent < batch ? (uint32_t)(count - sent) : batch;
        int k = tipc_ps_publish_many(p, buf, n, -1);
        if (k < 0) fail("publish", k);
        sent += (uint64_t)k;
      }
      tipc_ps_close(p);
      _exit(0);
    }
    uint64_t got = 0, first = 0;
    struct timespec a, b;
    while (got < count) {
      int k = tipc_ps_receive_many(h, buf, batch, NULL, -1);
      if (k < 0) fail("receive", k);
      if (got == 0) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        first = (uint64_t)k;
      }
      got += (uint64_t)k;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("rate %.0f\n", (double)(count - first) / seconds);
    int status = 0;
    waitpid(child, &status, 0);
    free(buf);
  } else {
    return 2;
  }
  tipc_ps_close(h);
  return 0;
}
