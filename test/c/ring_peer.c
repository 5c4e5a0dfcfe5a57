/* C peer for the ring tests and bench, using include/typed_ipc_ring.h only.
 *   produce <name> <id> <count|-1> <batch>   sends sample{channel=id, timestamp=i, value=id*1e9+i}
 *   consume <name> <count|-1> <batch>         receives, checks every message, prints "ok <n> <sum of ids> <sum of timestamps>"
 *   claim-and-die <name>                    claims one slot as a producer, then SIGKILLs itself
 *   claim-and-stop <name>                   the same, but stops itself (SIGSTOP): alive, never publishing
 *   take-and-die <name>                     claims one message as a consumer, then SIGKILLs itself
 *   create <name> <capacity>                creates the ring (24-byte messages, fingerprint $TIPC_FINGERPRINT)
 *   bench <name> <count> <batch> [size]     forks a producer; the consumer prints "rate <msgs/s>" (first to last message)
 *                                           and "cpu <consumer seconds> <producer seconds>";
 *                                           size > 24: messages are a sample followed by size - 24 filler bytes
 */
#include "typed_ipc_ring.h"
#include <sys/resource.h>
#include <sys/wait.h>

struct sample {
  uint16_t channel;
  uint64_t timestamp;
  double value;
};
_Static_assert(sizeof(struct sample) == 24, "sample layout");

/* The Node schema's fingerprint, passed by the tests in TIPC_FINGERPRINT (NULL: size check only). */
#define FINGERPRINT getenv("TIPC_FINGERPRINT")
#define MAX_PRODUCERS 65536
static int64_t last_seen[MAX_PRODUCERS];
/* An until-stop consumer (count -1) also prints what it took as "r <producer> <first> <last>" runs of
 * consecutive timestamps, so a test can tell that every message went to exactly one consumer. */
static int64_t run_start[MAX_PRODUCERS];

static void take(uint16_t producer, int64_t timestamp, int ranges) {
  if (!ranges) return;
  if (run_start[producer] >= 0 && timestamp == last_seen[producer] + 1) return;
  if (run_start[producer] >= 0) printf("r %u %lld %lld\n", producer, (long long)run_start[producer], (long long)last_seen[producer]);
  run_start[producer] = timestamp;
}
#define STOP 65535 /* with count -1, a consumer stops at the first message from this producer id */

static double first_at; /* when the first message arrived (bench timing) */

static int die(const char *what, int rc) {
  const char *why = tipc_ring_last_error();
  fprintf(stderr, "%s: %s%s%s\n", what, strerror(-rc), why[0] ? ": " : "", why);
  return 2;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int produce(tipc_ring *r, int id, long long count, uint32_t batch) {
  struct sample buf[4096];
  if (batch > 4096) batch = 4096;
  for (long long i = 0; count < 0 || i < count;) {
    uint32_t n = batch;
    if (count >= 0 && (long long)n > count - i) n = (uint32_t)(count - i);
    for (uint32_t j = 0; j < n; j++) {
      buf[j].channel = (uint16_t)id;
      buf[j].timestamp = (uint64_t)(i + j);
      buf[j].value = (double)id * 1e9 + (double)(i + j);
    }
    uint32_t sent = 0;
    while (sent < n) {
      int rc = tipc_ring_send_many(r, buf + sent, n - sent, -1);
      if (rc < 0) return die("send", rc);
      sent += (uint32_t)rc;
    }
    i += n;
  }
  return 0;
}

static int consume(tipc_ring *r, long long count, uint32_t batch) {
  struct sample buf[4096];
  if (batch > 4096) batch = 4096;
  for (int i = 0; i < MAX_PRODUCERS; i++) last_seen[i] = run_start[i] = -1;
  const int ranges = count < 0;
  long long got = 0;
  unsigned long long ids = 0, stamps = 0;
  int stopped = 0;
  while (!stopped && (count < 0 || got < count)) {
    uint32_t want = count < 0 ? 1 : batch; /* until-stop mode takes one at a time: the stop is for us alone */
    if (count >= 0 && (long long)want > count - got) want = (uint32_t)(count - got);
    int rc = tipc_ring_recv_many(r, buf, want, 20000);
    if (rc < 0) return die("recv", rc);
    if (got == 0) first_at = now_s();
    for (int j = 0; j < rc; j++) {
      struct sample *s = &buf[j];
      if (s->channel == STOP) {
        stopped = 1;
        break;
      }
      if (s->value != (double)s->channel * 1e9 + (double)s->timestamp) {
        fprintf(stderr, "torn message: channel %u timestamp %llu value %f\n", s->channel,
                (unsigned long long)s->timestamp, s->value);
        return 3;
      }
      if ((int64_t)s->timestamp <= last_seen[s->channel]) {
        fprintf(stderr, "out of order: producer %u sent %llu after %lld\n", s->channel,
                (unsigned long long)s->timestamp, (long long)last_seen[s->channel]);
        return 4;
      }
      take(s->channel, (int64_t)s->timestamp, ranges);
      last_seen[s->channel] = (int64_t)s->timestamp;
      ids += s->channel;
      stamps += s->timestamp;
    }
    got += rc - stopped;
  }
  for (int i = 0; ranges && i < MAX_PRODUCERS; i++) {
    if (run_start[i] >= 0) printf("r %d %lld %lld\n", i, (long long)run_start[i], (long long)last_seen[i]);
  }
  printf("ok %lld %llu %llu\n", got, ids, stamps);
  return 0;
}

static double seconds_of(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

/* CPU seconds of the bench's consumer (this process) and producer (the reaped child), for per-CPU rates. */
static void print_cpu(void) {
  struct rusage self, children;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  printf("cpu %.6f %.6f\n", seconds_of(self.ru_utime) + seconds_of(self.ru_stime),
         seconds_of(children.ru_utime) + seconds_of(children.ru_stime));
}

/* The bench with `size`-byte messages: a sample at the start of each, filler after it. Bytes, not
 * struct arrays, since the size is only known at run time; the consumer checks the order and the
 * first filler byte so that a torn slot shows. */
static unsigned char bench_buf[4096 * 4096];

static int bench_sized(const char *name, long long count, uint32_t batch, size_t size) {
  tipc_ring *r = NULL;
  if (batch > 4096 * 4096 / size) batch = (uint32_t)(4096 * 4096 / size);
  pid_t child = fork();
  int rc = tipc_ring_open_fp(&r, name, size, FINGERPRINT);
  if (rc < 0) return die("open", rc);
  if (child == 0) {
    memset(bench_buf, 0x5a, sizeof bench_buf);
    for (long long i = 0; i < count;) {
      uint32_t n = (long long)batch > count - i ? (uint32_t)(count - i) : batch;
      for (uint32_t j = 0; j < n; j++) {
        struct sample s = {1, (uint64_t)(i + j), (double)(i + j)};
        memcpy(bench_buf + (size_t)j * size, &s, sizeof s);
      }
      for (uint32_t sent = 0; sent < n;) {
        rc = tipc_ring_send_many(r, bench_buf + (size_t)sent * size, n - sent, -1);
        if (rc < 0) _exit(die("send", rc));
        sent += (uint32_t)rc;
      }
      i += n;
    }
    tipc_ring_close(r);
    _exit(0);
  }
  long long got = 0;
  while (got < count) {
    uint32_t want = (long long)batch > count - got ? (uint32_t)(count - got) : batch;
    rc = tipc_ring_recv_many(r, bench_buf, want, 20000);
    if (rc < 0) return die("recv", rc);
    if (got == 0) first_at = now_s();
    for (int j = 0; j < rc; j++, got++) {
      struct sample s;
      memcpy(&s, bench_buf + (size_t)j * size, sizeof s);
      if (s.timestamp != (uint64_t)got || bench_buf[(size_t)j * size + sizeof s] != 0x5a) {
        fprintf(stderr, "message %lld lost, out of order or torn\n", got);
        return 3;
      }
    }
  }
  double elapsed = now_s() - first_at;
  int status = 0;
  waitpid(child, &status, 0);
  tipc_ring_close(r);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 2;
  printf("rate %.0f\n", (double)(count - 1) / elapsed);
  print_cpu();
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) return 1;
  const char *mode = argv[1], *name = argv[2];
  tipc_ring *r = NULL;
  int rc;
  if (strcmp(mode, "create") == 0) {
    rc = tipc_ring_create_fp(&r, name, sizeof(struct sample), (uint32_t)atoi(argv[3]), 0600, FINGERPRINT);
    if (rc < 0) return die("create", rc);
    tipc_ring_close(r);
    return 0;
  }
  if (strcmp(mode, "bench") == 0) {
    long long count = atoll(argv[3]);
    uint32_t batch = (uint32_t)atoi(argv[4]);
    size_t size = argc > 5 ? (size_t)atol(argv[5]) : sizeof(struct sample);
    if (size > sizeof(struct sample)) return bench_sized(name, count, batch, size);
    pid_t child = fork();
    if (child == 0) {
      rc = tipc_ring_open_fp(&r, name, sizeof(struct sample), FINGERPRINT);
      if (rc < 0) return die("open", rc);
      rc = produce(r, 1, count, batch);
      tipc_ring_close(r);
      _exit(rc);
    }
    rc = tipc_ring_open_fp(&r, name, sizeof(struct sample), FINGERPRINT);
    if (rc < 0) return die("open", rc);
    rc = consume(r, count, batch);
    double elapsed = now_s() - first_at;
    int status = 0;
    waitpid(child, &status, 0);
    tipc_ring_close(r);
    if (rc != 0) return rc;
    printf("rate %.0f\n", (double)(count - 1) / elapsed);
    print_cpu();
    return 0;
  }
  rc = tipc_ring_open_fp(&r, name, sizeof(struct sample), FINGERPRINT);
  if (rc < 0) return die("open", rc);
  if (strcmp(mode, "produce") == 0) {
    rc = produce(r, atoi(argv[3]), atoll(argv[4]), (uint32_t)atoi(argv[5]));
  } else if (strcmp(mode, "consume") == 0) {
    rc = consume(r, atoll(argv[3]), (uint32_t)atoi(argv[4]));
  } else if (strcmp(mode, "claim-and-die") == 0 || strcmp(mode, "claim-and-stop") == 0) {
    /* The first half of tipc_ring_try_send_many: intent, claim, then death before publishing. */
    uint64_t t = atomic_load(TIPC__A64(r, TIPC_RING_OFF_TAIL));
    atomic_store(TIPC__A64(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_PROD_POS)), t);
    atomic_store(TIPC__A32(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_PROD_COUNT)), 1);
    if (!atomic_compare_exchange_strong(TIPC__A64(r, TIPC_RING_OFF_TAIL), &t, t + 1)) return 5;
    memset(tipc__slot(r, t), 0xee, r->msg_size); /* half-written garbage nobody may see */
    printf("claimed %llu\n", (unsigned long long)t);
    fflush(stdout);
    raise(strcmp(mode, "claim-and-stop") == 0 ? SIGSTOP : SIGKILL);
    return 7;
  } else if (strcmp(mode, "take-and-die") == 0) {
    uint64_t h = atomic_load(TIPC__A64(r, TIPC_RING_OFF_HEAD));
    if (atomic_load(tipc__seq(r, h)) != (uint32_t)(h + 1)) return 6;
    atomic_store(TIPC__A64(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_CONS_POS)), h);
    atomic_store(TIPC__A32(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_CONS_COUNT)), 1);
    if (!atomic_compare_exchange_strong(TIPC__A64(r, TIPC_RING_OFF_HEAD), &h, h + 1)) return 5;
    printf("took %llu\n", (unsigned long long)h);
    fflush(stdout);
    raise(SIGKILL);
  } else {
    rc = 1;
  }
  tipc_ring_close(r);
  return rc;
}
