/* The C ends of bench/latency.bench.ts: ping-pong of the 24-byte sample over one mechanism, with the
 * blocking calls a C program would make (no spinning, no event loop):
 *   pingpong <transport> pong <a> <b> <count>   echoes count samples back
 *   pingpong <transport> ping <a> <b> <count>   sends a sample, blocks for its echo, count times, and
 *                                               prints each round trip in ns (CLOCK_MONOTONIC), one a line
 * transport: mq (a, b: queue names), shm (a, b: ring names, typed_ipc_ring.h; $TIPC_FINGERPRINT),
 * pubsub (a, b: pub/sub segment names, typed_ipc_pubsub.h; each end subscribes to one and publishes on the
 * other; the pong end prints "ready <a>" once subscribed, so no ping is published before it listens),
 * fifo (a, b: paths), dgram (a: the pong's path; b: the ping's own path), seqpacket, stream (a: path),
 * tcp (pong: listens on 127.0.0.1, port 0; ping: a is the port). a carries ping -> pong, b pong -> ping.
 * Socket pong ends print "ready <path or port>" once bound or listening. $PINGPONG_DELAY_US makes the pong
 * end wait that long before each echo (the tests use it to reply while the other end spins). */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench_clock.h"
#include "typed_ipc_pubsub.h"
#include "typed_ipc_ring.h"

struct sample {
  uint16_t channel;
  uint64_t timestamp;
  double value;
};
_Static_assert(sizeof(struct sample) == 24, "the 24-byte sample");

static void die(const char *what) {
  fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* One end: how it sends and receives one sample (whole, blocking). */
struct end {
  const char *kind;
  mqd_t mq_in, mq_out;
  tipc_ring *ring_in, *ring_out;
  tipc_ps *ps_in, *ps_out;
  int fd_in, fd_out;
  struct sockaddr_un from;
  socklen_t from_len;
  int reply_to_from; /* a bound datagram pong answers whoever sent */
};

/* typed_ipc_ring.h and typed_ipc_pubsub.h return 0 or -errno. */
static void ring_ok(int rc, const char *what) {
  if (rc != 0) {
    errno = -rc;
    die(what);
  }
}

static void full(ssize_t n, const char *what) {
  if (n != (ssize_t)sizeof(struct sample)) {
    if (n >= 0) errno = EPROTO;
    die(what);
  }
}

/* A stream carries records: read until the whole one is there. */
static void read_record(int fd, struct sample *s) {
  size_t got = 0;
  while (got < sizeof *s) {
    ssize_t n = read(fd, (char *)s + got, sizeof *s - got);
    if (n <= 0) {
      if (n == 0) errno = EPIPE;
      die("read");
    }
    got += (size_t)n;
  }
}

static void send_one(struct end *e, const struct sample *s) {
  if (e->mq_out != (mqd_t)-1) {
    if (mq_send(e->mq_out, (const char *)s, sizeof *s, 0) != 0) die("mq_send");
  } else if (e->ring_out != NULL) {
    ring_ok(tipc_ring_send(e->ring_out, s, -1), "tipc_ring_send");
  } else if (e->ps_out != NULL) {
    ring_ok(tipc_ps_publish(e->ps_out, s, -1), "tipc_ps_publish");
  } else if (e->reply_to_from) {
    full(sendto(e->fd_out, s, sizeof *s, 0, (struct sockaddr *)&e->from, e->from_len), "sendto");
  } else {
    full(write(e->fd_out, s, sizeof *s), "write");
  }
}

static void recv_one(struct end *e, struct sample *s) {
  if (e->mq_in != (mqd_t)-1) {
    full(mq_receive(e->mq_in, (char *)s, sizeof *s, NULL), "mq_receive");
  } else if (e->ring_in != NULL) {
    ring_ok(tipc_ring_recv(e->ring_in, s, -1), "tipc_ring_recv");
  } else if (e->ps_in != NULL) {
    uint64_t missed = 0;
    ring_ok(tipc_ps_receive(e->ps_in, s, &missed, -1), "tipc_ps_receive");
    /* The segments block publishers for their subscribers: a loss is a broken measurement. */
    if (missed != 0) {
      errno = EPROTO;
      die("tipc_ps_receive missed messages");
    }
  } else if (e->reply_to_from) {
    e->from_len = sizeof e->from;
    full(recvfrom(e->fd_in, s, sizeof *s, 0, (struct sockaddr *)&e->from, &e->from_len), "recvfrom");
  } else if (strcmp(e->kind, "stream") == 0 || strcmp(e->kind, "tcp") == 0 || strcmp(e->kind, "fifo") == 0) {
    read_record(e->fd_in, s);
  } else {
    full(read(e->fd_in, s, sizeof *s), "read");
  }
}

static struct sockaddr_un unix_address(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    errno = ENAMETOOLONG;
    die(path);
  }
  strcpy(sa.sun_path, path);
  return sa;
}

static void setup(struct end *e, const char *kind, int pong, const char *a, const char *b) {
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->mq_in = e->mq_out = (mqd_t)-1;
  e->fd_in = e->fd_out = -1;
  const char *in = pong ? a : b, *out = pong ? b : a;
  if (strcmp(kind, "mq") == 0) {
    if ((e->mq_in = mq_open(in, O_RDWR)) == (mqd_t)-1) die("mq_open");
    if ((e->mq_out = mq_open(out, O_RDWR)) == (mqd_t)-1) die("mq_open");
  } else if (strcmp(kind, "shm") == 0) {
    const char *fp = getenv("TIPC_FINGERPRINT");
    ring_ok(tipc_ring_open_fp(&e->ring_in, in, sizeof(struct sample), fp), "tipc_ring_open");
    ring_ok(tipc_ring_open_fp(&e->ring_out, out, sizeof(struct sample), fp), "tipc_ring_open");
  } else if (strcmp(kind, "pubsub") == 0) {
    const char *fp = getenv("TIPC_FINGERPRINT");
    /* Subscribe first: a message published before a subscriber joins is not its to read. */
    ring_ok(tipc_ps_open_fp(&e->ps_in, in, sizeof(struct sample), TIPC_PS_SUBSCRIBER, 0, fp), "tipc_ps_open");
    ring_ok(tipc_ps_open_fp(&e->ps_out, out, sizeof(struct sample), TIPC_PS_PUBLISHER, 0, fp), "tipc_ps_open");
    if (pong) {
      printf("ready %s\n", a);
      fflush(stdout);
    }
  } else if (strcmp(kind, "fifo") == 0) {
    /* The same order as the Node ends: the pong end opens its reader first, the ping end its writer. */
    if (pong) {
      if ((e->fd_in = open(in, O_RDONLY)) < 0) die("open fifo");
      if ((e->fd_out = open(out, O_WRONLY)) < 0) die("open fifo");
    } else {
      if ((e->fd_out = open(out, O_WRONLY)) < 0) die("open fifo");
      if ((e->fd_in = open(in, O_RDONLY)) < 0) die("open fifo");
    }
  } else if (strcmp(kind, "dgram") == 0) {
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un sa = unix_address(pong ? a : b);
    unlink(sa.sun_path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind");
    if (pong) {
      e->reply_to_from = 1;
      printf("ready %s\n", a);
      fflush(stdout);
    } else {
      struct sockaddr_un to = unix_address(a);
      if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) die("connect");
    }
    e->fd_in = e->fd_out = fd;
  } else if (strcmp(kind, "seqpacket") == 0 || strcmp(kind, "stream") == 0) {
    int type = kind[1] == 'e' ? SOCK_SEQPACKET : SOCK_STREAM;
    int fd = socket(AF_UNIX, type, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un sa = unix_address(a);
    if (pong) {
      unlink(sa.sun_path);
      if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0) die("bind/listen");
      printf("ready %s\n", a);
      fflush(stdout);
      int conn = accept(fd, NULL, NULL);
      if (conn < 0) die("accept");
      close(fd);
      unlink(sa.sun_path);
      fd = conn;
    } else if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      die("connect");
    }
    e->fd_in = e->fd_out = fd;
  } else if (strcmp(kind, "tcp") == 0) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    if (pong) {
      socklen_t len = sizeof sa;
      if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0) die("bind/listen");
      if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) die("getsockname");
      printf("ready %d\n", ntohs(sa.sin_port));
      fflush(stdout);
      int conn = accept(fd, NULL, NULL);
      if (conn < 0) die("accept");
      close(fd);
      fd = conn;
    } else {
      sa.sin_port = htons((uint16_t)atoi(a));
      if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("connect");
    }
    /* As typed-ipc's tcp channels do: no Nagle delay on small records. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("setsockopt");
    e->fd_in = e->fd_out = fd;
  } else {
    fprintf(stderr, "pingpong: unknown transport %s\n", kind);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: pingpong <transport> ping|pong <a> <b> <count>\n");
    return 2;
  }
  const char *kind = argv[1];
  int pong = strcmp(argv[2], "pong") == 0;
  long count = atol(argv[5]);
  struct end e;
  setup(&e, kind, pong, argv[3], argv[4]);
  struct sample s = {.channel = 1};
  if (pong) {
    const char *delay = getenv("PINGPONG_DELAY_US");
    for (long i = 0; i < count; i++) {
      recv_one(&e, &s);
      if (delay != NULL) usleep((useconds_t)atol(delay));
      send_one(&e, &s);
    }
  } else {
    int64_t *times = malloc(sizeof *times * (size_t)count);
    if (times == NULL) die("malloc");
    for (long i = 0; i < count; i++) {
      s.timestamp = (uint64_t)i;
      int64_t start = now_ns();
      send_one(&e, &s);
      recv_one(&e, &s);
      times[i] = now_ns() - start;
      if (s.timestamp != (uint64_t)i) {
        fprintf(stderr, "pingpong: echo %llu for %ld\n", (unsigned long long)s.timestamp, i);
        return 1;
      }
    }
    for (long i = 0; i < count; i++) printf("%lld\n", (long long)times[i]);
    free(times);
  }
  if (strcmp(kind, "dgram") == 0 && !pong) unlink(argv[4]);
  /* A pub/sub handle leaves a doorbell socket behind unless closed. */
  tipc_ps_close(e.ps_in);
  tipc_ps_close(e.ps_out);
  return 0;
}
