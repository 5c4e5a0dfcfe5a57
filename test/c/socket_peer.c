/*
 * C peer for the socket channel tests: a plain C program speaking `struct sample` over UNIX
 * datagram and seqpacket sockets, with blocking calls, as a C user of typed-ipc would.
 *
 *   socket_peer dgram-send    ADDR N   connect to a bound unix+dgram ADDR, send samples 0..N-1
 *   socket_peer dgram-recv    ADDR N   bind ADDR, print "ready", receive N samples, check them, reply to the last sender
 *   socket_peer seq-send      ADDR N   connect to a listening unix+seqpacket ADDR, send N samples, close
 *   socket_peer seq-recv      ADDR N   listen on ADDR, print "ready", accept one, receive N samples, send one back
 *   socket_peer fd-echo       FD       read samples from FD, write each back with value * 2, until EOF
 *   socket_peer fd-send       FD N     write samples 0..N-1 to FD, then close it
 *   socket_peer bench-pair    TYPE N [SIZE [B]]  fork; the child sends N messages of SIZE bytes (default 24,
 *                                      sequence number at offset 8) over a socketpair (TYPE dgram or
 *                                      seqpacket), the parent receives them; prints messages per second.
 *                                      With B > 1, sendmmsg/recvmmsg of up to B messages per call.
 *   socket_peer bench-pair    udp N [SIZE]  the same over loopback UDP (the parent binds 127.0.0.1:0, the child
 *                                      connects and sends as fast as it can); UDP drops what the receiver
 *                                      cannot take, so it prints "<delivered msg/s> <delivered> <lost>"
 *
 *   socket_peer foreign       KIND ADDR LENGTHS  a foreign writer: connect (KIND seq, dgram or stream) or
 *                                      open a FIFO for writing (KIND fifo, following symlinks as plain C
 *                                      does) and send one record per comma-separated length: 24 is the
 *                                      next good sample (counting good ones from 0), any other length
 *                                      that many 0xEE bytes (0: an empty record)
 *
 * ADDR is a path, or @name for the abstract namespace. Sample i is { i % 65536, i, i / 2.0 }.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* struct('sample', { channel: u16, timestamp: u64, value: f64 }) as typed-ipc lays it out. */
struct sample {
  uint16_t channel;
  uint64_t timestamp;
  double value;
};
_Static_assert(sizeof(struct sample) == 24, "sample is 24 bytes");
_Static_assert(offsetof(struct sample, timestamp) == 8, "timestamp at 8");
_Static_assert(offsetof(struct sample, value) == 16, "value at 16");

static void die(const char *what) {
  fprintf(stderr, "socket_peer: %s: %s\n", what, strerror(errno));
  exit(2);
}

static socklen_t address(const char *text, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  size_t n = strlen(text);
  if (n >= sizeof sa->sun_path) {
    errno = ENAMETOOLONG;
    die("address");
  }
  if (text[0] == '@') {
    memcpy(sa->sun_path + 1, text + 1, n - 1);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  }
  memcpy(sa->sun_path, text, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

static struct sample make(long i) {
  struct sample s;
  memset(&s, 0, sizeof s);
  s.channel = (uint16_t)(i % 65536);
  s.timestamp = (uint64_t)i;
  s.value = (double)i / 2.0;
  return s;
}

static int check(const struct sample *s, long i) {
  return s->channel == (uint16_t)(i % 65536) && s->timestamp == (uint64_t)i && s->value == (double)i / 2.0;
}

static void send_all(int fd, long n) {
  for (long i = 0; i < n; i++) {
    struct sample s = make(i);
    if (send(fd, &s, sizeof s, MSG_NOSIGNAL) != (ssize_t)sizeof s) die("send");
  }
}

static void recv_all(int fd, long n) {
  for (long i = 0; i < n; i++) {
    struct sample s;
    ssize_t got = recv(fd, &s, sizeof s, 0);
    if (got != (ssize_t)sizeof s) {
      fprintf(stderr, "socket_peer: message %ld: got %zd bytes\n", i, got);
      exit(3);
    }
    if (!check(&s, i)) {
      fprintf(stderr, "socket_peer: message %ld: wrong content (timestamp %llu)\n", i,
              (unsigned long long)s.timestamp);
      exit(4);
    }
  }
}

/* bench-pair: fork; the child sends n messages of `size` bytes (sequence number at offset 8) over a
 * socketpair, one send() each or sendmmsg() of `batch`; the parent receives them the same way, timed
 * from the first message to the last, and prints messages per second. */
static int bench_pair(int type, long n, size_t size, int batch) {
  unsigned char *buffers = calloc((size_t)batch, size);
  struct mmsghdr *headers = calloc((size_t)batch, sizeof *headers);
  struct iovec *iov = calloc((size_t)batch, sizeof *iov);
  if (buffers == NULL || headers == NULL || iov == NULL) die("calloc");
  for (int i = 0; i < batch; i++) {
    iov[i].iov_base = buffers + (size_t)i * size;
    iov[i].iov_len = size;
    headers[i].msg_hdr.msg_iov = &iov[i];
    headers[i].msg_hdr.msg_iovlen = 1;
  }
  int sv[2];
  if (socketpair(AF_UNIX, type, 0, sv) < 0) die("socketpair");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(sv[0]);
    for (long i = 0; i < n;) {
      int k = n - i < batch ? (int)(n - i) : batch;
      for (int j = 0; j < k; j++) memcpy(buffers + (size_t)j * size + 8, &(uint64_t){(uint64_t)(i + j)}, 8);
      for (int sent = 0; sent < k;) {
        int r = batch == 1 ? (send(sv[1], buffers, size, MSG_NOSIGNAL) == (ssize_t)size ? 1 : -1)
                           : sendmmsg(sv[1], headers + sent, (unsigned)(k - sent), MSG_NOSIGNAL);
        if (r < 0) die("send");
        sent += r;
      }
      i += k;
    }
    _exit(0);
  }
  close(sv[1]);
  struct timespec t0 = {0}, t1;
  for (long got = 0; got < n;) {
    int r;
    if (batch == 1) {
      headers[0].msg_len = (unsigned)recv(sv[0], buffers, size, 0);
      r = 1;
    } else {
      r = recvmmsg(sv[0], headers, (unsigned)batch, MSG_WAITFORONE, NULL);
      if (r < 0) die("recvmmsg");
    }
    if (got == 0) clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int j = 0; j < r && got < n; j++, got++) {
      uint64_t seq;
      memcpy(&seq, buffers + (size_t)j * size + 8, sizeof seq);
      if (headers[j].msg_len != size || seq != (uint64_t)got) {
        fprintf(stderr, "socket_peer: message %ld lost or damaged\n", got);
        return 3;
      }
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  waitpid(pid, NULL, 0);
  double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%.0f\n", (double)(n - 1) / seconds);
  return 0;
}

/* foreign: a broken or hostile writer, good samples and garbage as `lengths` says. */
static int foreign(const char *kind, const char *target, char *lengths) {
  int is_socket = strcmp(kind, "fifo") != 0;
  int fd;
  if (is_socket) {
    int type = strcmp(kind, "seq") == 0 ? SOCK_SEQPACKET : strcmp(kind, "dgram") == 0 ? SOCK_DGRAM : SOCK_STREAM;
    struct sockaddr_un sa;
    fd = socket(AF_UNIX, type, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&sa, address(target, &sa)) < 0) die("connect");
  } else {
    fd = open(target, O_WRONLY);
    if (fd < 0) die("open");
  }
  static unsigned char garbage[65536];
  memset(garbage, 0xEE, sizeof garbage);
  long good = 0;
  for (char *item = strtok(lengths, ","); item != NULL; item = strtok(NULL, ",")) {
    size_t length = (size_t)atol(item);
    if (length > sizeof garbage) length = sizeof garbage;
    struct sample s = make(good);
    const void *bytes = garbage;
    if (length == sizeof s) {
      good++;
      bytes = &s;
    }
    ssize_t n = is_socket ? send(fd, bytes, length, MSG_NOSIGNAL) : write(fd, bytes, length);
    if (n != (ssize_t)length) die(is_socket ? "send" : "write");
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: socket_peer MODE ARGS...\n");
    return 1;
  }
  const char *mode = argv[1];
  long n = argc > 3 ? atol(argv[3]) : 0;
  struct sockaddr_un sa;

  if (strcmp(mode, "foreign") == 0 && argc == 5) return foreign(argv[2], argv[3], argv[4]);
  if (strcmp(mode, "dgram-send") == 0) {
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&sa, address(argv[2], &sa)) < 0) die("connect");
    send_all(fd, n);
    return 0;
  }
  if (strcmp(mode, "dgram-recv") == 0) {
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    if (bind(fd, (struct sockaddr *)&sa, address(argv[2], &sa)) < 0) die("bind");
    printf("ready\n");
    fflush(stdout);
    struct sockaddr_un from;
    socklen_t fromlen = 0;
    for (long i = 0; i < n; i++) {
      struct sample s;
      fromlen = sizeof from;
      ssize_t got = recvfrom(fd, &s, sizeof s, 0, (struct sockaddr *)&from, &fromlen);
      if (got != (ssize_t)sizeof s || !check(&s, i)) {
        fprintf(stderr, "socket_peer: message %ld: %zd bytes or wrong content\n", i, got);
        return 3;
      }
    }
    struct sample reply = make(n);
    if (sendto(fd, &reply, sizeof reply, 0, (struct sockaddr *)&from, fromlen) < 0) die("sendto");
    if (argv[2][0] != '@') unlink(argv[2]);
    printf("received %ld\n", n);
    return 0;
  }
  if (strcmp(mode, "seq-send") == 0) {
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&sa, address(argv[2], &sa)) < 0) die("connect");
    send_all(fd, n);
    close(fd);
    return 0;
  }
  if (strcmp(mode, "seq-recv") == 0) {
    int lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (lfd < 0) die("socket");
    if (bind(lfd, (struct sockaddr *)&sa, address(argv[2], &sa)) < 0) die("bind");
    if (listen(lfd, 8) < 0) die("listen");
    printf("ready\n");
    fflush(stdout);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) die("accept");
    recv_all(fd, n);
    struct sample reply = make(n);
    if (send(fd, &reply, sizeof reply, MSG_NOSIGNAL) < 0) die("send");
    if (argv[2][0] != '@') unlink(argv[2]);
    printf("received %ld\n", n);
    return 0;
  }
  if (strcmp(mode, "fd-echo") == 0) {
    int fd = atoi(argv[2]);
    for (;;) {
      struct sample s;
      ssize_t got = recv(fd, &s, sizeof s, 0);
      if (got == 0) return 0;
      if (got != (ssize_t)sizeof s) die("recv");
      s.value *= 2;
      if (send(fd, &s, sizeof s, MSG_NOSIGNAL) != (ssize_t)sizeof s) die("send");
    }
  }
  if (strcmp(mode, "fd-send") == 0) {
    int fd = atoi(argv[2]);
    send_all(fd, n);
    close(fd);
    return 0;
  }
  if (strcmp(mode, "bench-pair") == 0 && argc > 2 && strcmp(argv[2], "udp") == 0) {
    size_t size = argc > 4 ? (size_t)atol(argv[4]) : sizeof(struct sample);
    static unsigned char message[65536];
    if (size < 16 || size > 65507) {
      fprintf(stderr, "socket_peer: size must be in [16, 65507]\n");
      return 1;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    if (rx < 0 || bind(rx, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (getsockname(rx, (struct sockaddr *)&addr, &len) < 0) die("getsockname");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      int tx = socket(AF_INET, SOCK_DGRAM, 0);
      if (tx < 0 || connect(tx, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
      memset(message, 0, size);
      for (long i = 0; i < n; i++) {
        uint64_t seq = (uint64_t)i;
        memcpy(message + 8, &seq, sizeof seq);
        if (send(tx, message, size, 0) != (ssize_t)size) die("send");
      }
      _exit(0);
    }
    /* The end: the last message, or 300 ms of silence (the last ones may have been dropped). */
    struct timeval quiet = {.tv_sec = 0, .tv_usec = 300000};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &quiet, sizeof quiet);
    struct timespec t0 = {0}, t1 = {0};
    long delivered = 0;
    int64_t last = -1;
    for (;;) {
      ssize_t got = recv(rx, message, size, 0);
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (got != (ssize_t)size) die("recv");
      uint64_t seq;
      memcpy(&seq, message + 8, sizeof seq);
      if ((int64_t)seq <= last || seq >= (uint64_t)n) {
        fprintf(stderr, "socket_peer: message %llu duplicated or out of order\n", (unsigned long long)seq);
        return 3;
      }
      last = (int64_t)seq;
      clock_gettime(CLOCK_MONOTONIC, delivered++ == 0 ? &t0 : &t1);
      if (seq == (uint64_t)n - 1) break;
    }
    waitpid(pid, NULL, 0);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.0f %ld %ld\n", delivered > 1 ? (double)(delivered - 1) / seconds : 0.0, delivered, n - delivered);
    return 0;
  }
  if (strcmp(mode, "bench-pair") == 0) {
    int type = strcmp(argv[2], "seqpacket") == 0 ? SOCK_SEQPACKET : SOCK_DGRAM;
    size_t size = argc > 4 ? (size_t)atol(argv[4]) : sizeof(struct sample);
    int batch = argc > 5 ? atoi(argv[5]) : 1;
    if (size < 16 || size > 65536 || batch < 1 || batch > 1024) {
      fprintf(stderr, "socket_peer: size must be in [16, 65536], batch in [1, 1024]\n");
      return 1;
    }
    return bench_pair(type, n, size, batch);
  }
  fprintf(stderr, "socket_peer: unknown mode %s\n", mode);
  return 1;
}
