/*
 * C peer of the stream tests and benchmark. Records are the test records of
 * test/channels/stream-records.ts: { uint32 seq; uint32 writer; double value; } plus filler bytes
 * (seq + writer + i) & 0xff up to `size`.
 *
 *   stream_peer write <target> <count> <size> [writer] [batch]   write count records (batch per write())
 *   stream_peer read  <target> <count> <size> [writers]          read and check count records, in order per writer
 *   stream_peer pipe  <count> <size> <batch>                     C->C baseline: fork, write through a pipe, read, time it
 *   stream_peer sockpair <count> <size> <batch>                  the same over a UNIX stream socketpair
 *   stream_peer tcp <count> <size> <batch>                       the same over a loopback TCP connection (TCP_NODELAY)
 *
 * target: fifo:/path (open), unix:/path (connect), tcp:PORT (connect 127.0.0.1), listen:/path (unix listen,
 * accept one), fd:N (inherited descriptor). Exits 0 when every record was written / read intact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "stream_peer: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int open_target(const char *target, int writing) {
  if (strncmp(target, "fifo:", 5) == 0) {
    int fd = open(target + 5, writing ? O_WRONLY : O_RDONLY);
    if (fd < 0) die("open fifo");
    return fd;
  }
  if (strncmp(target, "fd:", 3) == 0) return atoi(target + 3);
  if (strncmp(target, "unix:", 5) == 0 || strncmp(target, "listen:", 7) == 0) {
    int listening = target[0] == 'l';
    const char *path = strchr(target, ':') + 1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (!listening) {
      if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
      return fd;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(fd, 1) < 0) die("listen");
    printf("listening\n");
    fflush(stdout);
    int conn = accept(fd, NULL, NULL);
    if (conn < 0) die("accept");
    close(fd);
    unlink(path);
    return conn;
  }
  if (strncmp(target, "tcp:", 4) == 0) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(target + 4))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  fprintf(stderr, "stream_peer: unknown target %s\n", target);
  exit(2);
}

static void fill(unsigned char *rec, size_t size, uint32_t seq, uint32_t writer) {
  double value = seq * 0.5;
  memcpy(rec, &seq, 4);
  memcpy(rec + 4, &writer, 4);
  memcpy(rec + 8, &value, 8);
  for (size_t i = 16; i < size; i++) rec[i] = (unsigned char)((seq + writer + i) & 0xff);
}

/* The baseline checks seq and value only, like the Node benchmark's receiver; the tests check every byte. */
static int check_fill = 1;

static int check(const unsigned char *rec, size_t size, uint32_t *seq, uint32_t *writer) {
  double value;
  memcpy(seq, rec, 4);
  memcpy(writer, rec + 4, 4);
  memcpy(&value, rec + 8, 8);
  if (value != *seq * 0.5) return 0;
  if (!check_fill) return 1;
  for (size_t i = 16; i < size; i++)
    if (rec[i] != (unsigned char)((*seq + *writer + i) & 0xff)) return 0;
  return 1;
}

static void write_all(int fd, const unsigned char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    buf += n;
    len -= (size_t)n;
  }
}

static void do_write(int fd, long count, size_t size, uint32_t writer, long batch) {
  unsigned char *buf = malloc(size * (size_t)batch);
  for (long seq = 0; seq < count;) {
    long n = count - seq < batch ? count - seq : batch;
    for (long i = 0; i < n; i++) fill(buf + (size_t)i * size, size, (uint32_t)(seq + i), writer);
    write_all(fd, buf, size * (size_t)n);
    seq += n;
  }
  free(buf);
}

/* When the first bytes arrived (the baseline times from there, as the Node benchmarks do). */
static double first_read;

static double now(void);

/* Reads records in chunks of `batch` records per read() (partial reads reassembled). */
static long do_read(int fd, long count, size_t size, int writers, long batch) {
  uint32_t next[64] = {0};
  unsigned char *buf = malloc(size * (size_t)batch);
  long got = 0;
  size_t have = 0;
  while (got < count) {
    ssize_t n = read(fd, buf + have, size * (size_t)batch - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (n == 0) break;
    if (got == 0 && have == 0 && first_read == 0) first_read = now();
    have += (size_t)n;
    size_t used = 0;
    while (have - used >= size) {
      uint32_t seq, writer;
      if (!check(buf + used, size, &seq, &writer) || writer >= (uint32_t)writers || seq != next[writer]) {
        fprintf(stderr, "stream_peer: bad record %ld (seq %u writer %u)\n", got, seq, writer);
        exit(4);
      }
      next[writer]++;
      got++;
      used += size;
    }
    memmove(buf, buf + used, have - used);
    have -= used;
  }
  free(buf);
  return got;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connected loopback TCP pair: fds[0] the accepted (reading) end, fds[1] the connecting end. */
static void tcp_pair(int fds[2]) {
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int listening = socket(AF_INET, SOCK_STREAM, 0);
  if (listening < 0 || bind(listening, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listening, 1) < 0)
    die("tcp listen");
  if (getsockname(listening, (struct sockaddr *)&addr, &len) < 0) die("getsockname");
  fds[1] = socket(AF_INET, SOCK_STREAM, 0);
  if (fds[1] < 0 || connect(fds[1], (struct sockaddr *)&addr, sizeof addr) < 0) die("tcp connect");
  fds[0] = accept(listening, NULL, NULL);
  if (fds[0] < 0) die("accept");
  close(listening);
  int one = 1;
  setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/*
 * Baseline: a writer child and a reader parent over a pipe, a socketpair or loopback TCP, `batch`
 * records per write() and per read(); prints records, seconds (first read to last) and records per second.
 */
static int baseline(const char *kind, long count, size_t size, long batch) {
  int fds[2];
  if (strcmp(kind, "tcp") == 0)
    tcp_pair(fds);
  else if (strcmp(kind, "sockpair") == 0 ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds))
    die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    do_write(fds[1], count, size, 0, batch);
    _exit(0);
  }
  close(fds[1]);
  long got = do_read(fds[0], count, size, 1, batch);
  double seconds = now() - first_read;
  int status;
  waitpid(pid, &status, 0);
  printf("%ld %.6f %.0f\n", got, seconds, got / seconds);
  return got == count ? 0 : 1;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 5) {
    fprintf(stderr, "usage: see the comment at the top of stream_peer.c\n");
    return 2;
  }
  const char *mode = argv[1];
  check_fill = 0;
  if (strcmp(mode, "pipe") == 0 || strcmp(mode, "sockpair") == 0 || strcmp(mode, "tcp") == 0)
    return baseline(mode, atol(argv[2]), (size_t)atol(argv[3]), atol(argv[4]));
  check_fill = 1;
  const char *target = argv[2];
  long count = atol(argv[3]);
  size_t size = (size_t)atol(argv[4]);
  if (strcmp(mode, "write") == 0) {
    uint32_t writer = argc > 5 ? (uint32_t)atoi(argv[5]) : 0;
    long batch = argc > 6 ? atol(argv[6]) : 1;
    int fd = open_target(target, 1);
    do_write(fd, count, size, writer, batch);
    close(fd);
    return 0;
  }
  int writers = argc > 5 ? atoi(argv[5]) : 1;
  int fd = open_target(target, 0);
  long got = do_read(fd, count, size, writers, 1);
  printf("%ld\n", got);
  close(fd);
  return got == count ? 0 : 1;
}
