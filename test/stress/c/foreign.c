/*
 * A foreign writer: puts garbage and wrongly sized messages on a typed-ipc channel with raw system
 * calls (no typed-ipc code), as a buggy or hostile peer would.
 *
 *   foreign <kind> <target> <count> <msgsize> <seed> [partial]
 *     kind: mq | shm | fifo | unix-dgram | unix-seqpacket | unix-stream | udp | tcp | sysv
 *     target: /name, /path, @abstract, host:port (udp, tcp: 127.0.0.1 only), or a key (sysv)
 *
 * Every message it sends is undecodable: a wrong size (datagram kinds) or `msgsize` random bytes whose
 * first byte is not 0xa5 (the stress sample's magic). Prints "sent <n> refused <m>", where refused
 * counts the sends the kernel itself turned down (mq: larger than mq_msgsize). With `partial` (stream
 * kinds), it then writes half a record and closes. For shm it also tries to open the ring with a wrong
 * message size and prints "open-wrong-size <errno name>".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "typed_ipc_ring.h"

static uint64_t state;
static uint32_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return (uint32_t)state;
}

/* Fills `n` random bytes with a first byte that is not the sample's magic. */
static void garbage(unsigned char *buf, size_t n) {
  for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)next();
  if (n > 0 && buf[0] == 0xa5) buf[0] = 0x5a;
}

static int fail(const char *what) {
  fprintf(stderr, "foreign: %s: %s\n", what, strerror(errno));
  return 1;
}

static int unix_connect(int type, const char *path) {
  int fd = socket(AF_UNIX, type, 0);
  if (fd < 0) return -1;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof addr.sun_path) return -1;
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
  return connect(fd, (struct sockaddr *)&addr, size) < 0 ? -1 : fd;
}

static int inet_connect(int type, const char *target) {
  const char *colon = strrchr(target, ':');
  if (colon == NULL) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return -1;
  return connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ? -1 : fd;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: foreign kind target count msgsize seed [partial]\n");
    return 2;
  }
  const char *kind = argv[1], *target = argv[2];
  int count = atoi(argv[3]);
  size_t msgsize = (size_t)atoi(argv[4]);
  state = (uint64_t)strtoull(argv[5], NULL, 10) * 2654435761u + 88172645463325252ull;
  int partial = argc > 6 && strcmp(argv[6], "partial") == 0;
  unsigned char buf[4096];
  int sent = 0, refused = 0;

  if (strcmp(kind, "mq") == 0) {
    mqd_t q = mq_open(target, O_WRONLY);
    if (q == (mqd_t)-1) return fail("mq_open");
    for (int i = 0; i < count; i++) {
      /* Mostly wrong sizes below mq_msgsize, every fourth a full-size garbage record, a few too large. */
      size_t n = i % 4 == 0 ? msgsize : i % 17 == 0 ? msgsize + 1 + next() % 64 : next() % msgsize;
      garbage(buf, n);
      if (mq_send(q, (const char *)buf, n, next() % 4) == 0) sent++;
      else if (errno == EMSGSIZE) refused++;
      else return fail("mq_send");
    }
  } else if (strcmp(kind, "sysv") == 0) {
    int id = msgget((key_t)strtoul(target, NULL, 0), 0200);
    if (id < 0) return fail("msgget");
    /* long mtype, then the text; the same sizes as for mq, types 1..4. */
    static unsigned char msg[sizeof(long) + sizeof buf];
    for (int i = 0; i < count; i++) {
      size_t n = i % 4 == 0 ? msgsize : i % 17 == 0 ? msgsize + 1 + next() % 64 : next() % msgsize;
      long type = 1 + (long)(next() % 4);
      memcpy(msg, &type, sizeof type);
      garbage(msg + sizeof(long), n);
      if (msgsnd(id, msg, n, 0) == 0) sent++;
      else if (errno == EINVAL) refused++; /* larger than msgmax */
      else return fail("msgsnd");
    }
  } else if (strcmp(kind, "shm") == 0) {
    tipc_ring *wrong = NULL;
    int rc = tipc_ring_open(&wrong, target, (uint32_t)msgsize / 2);
    printf("open-wrong-size %s\n", rc < 0 ? strerrorname_np(-rc) : "opened");
    if (rc == 0) tipc_ring_close(wrong);
    tipc_ring *ring = NULL;
    rc = tipc_ring_open(&ring, target, (uint32_t)msgsize);
    if (rc < 0) {
      errno = -rc;
      return fail("tipc_ring_open");
    }
    for (int i = 0; i < count; i++) {
      garbage(buf, msgsize);
      rc = tipc_ring_send(ring, buf, -1);
      if (rc < 0) {
        errno = -rc;
        return fail("tipc_ring_send");
      }
      sent++;
    }
    tipc_ring_close(ring);
  } else {
    int stream = strcmp(kind, "fifo") == 0 || strcmp(kind, "unix-stream") == 0 || strcmp(kind, "tcp") == 0;
    int fd = strcmp(kind, "fifo") == 0             ? open(target, O_WRONLY)
             : strcmp(kind, "unix-dgram") == 0     ? unix_connect(SOCK_DGRAM, target)
             : strcmp(kind, "unix-seqpacket") == 0 ? unix_connect(SOCK_SEQPACKET, target)
             : strcmp(kind, "unix-stream") == 0    ? unix_connect(SOCK_STREAM, target)
             : strcmp(kind, "udp") == 0            ? inet_connect(SOCK_DGRAM, target)
             : strcmp(kind, "tcp") == 0            ? inet_connect(SOCK_STREAM, target)
                                                   : -2;
    if (fd == -2) {
      fprintf(stderr, "unknown kind %s\n", kind);
      return 2;
    }
    if (fd < 0) return fail("open/connect");
    /* Seqpacket: a zero-length record reads like end of stream, so sizes start at 1 there. */
    size_t least = strcmp(kind, "unix-seqpacket") == 0 ? 1 : 0;
    for (int i = 0; i < count; i++) {
      size_t n = stream || i % 4 == 0 ? msgsize : least + next() % (msgsize * 2 + 1 - least);
      garbage(buf, n);
      ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
      if (w < 0 && errno == ENOTSOCK) w = write(fd, buf, n);
      if (w < 0) return fail("send");
      if ((size_t)w != n) {
        fprintf(stderr, "foreign: short write %zd of %zu\n", w, n);
        return 1;
      }
      sent++;
    }
    if (partial) {
      garbage(buf, msgsize / 2);
      buf[0] = 0xa5;
      if (write(fd, buf, msgsize / 2) < 0) return fail("write partial");
    }
    close(fd);
  }
  printf("sent %d refused %d\n", sent, refused);
  return 0;
}
