/*
 * A process of another user trying to use a typed-ipc object it was not granted. Run with the uid
 * and gid dropped by the test (spawn with uid/gid 65534).
 *
 *   intruder mq /name | shm /name | fifo /path | unix-stream /path | unix-seqpacket /path |
 *            unix-dgram /path (a leading @ = abstract) | sysv KEY [send]
 *
 * Prints "denied <ERRNO>" and exits 0 when the kernel refused, "granted" and exits 1 when it let the
 * process in. With `send`, a socket that connected also sends one 64-byte record of 0xa5 bytes and
 * prints "sent" (for allow-list tests, where the kernel lets the connection in and the library must
 * refuse it).
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int denied(const char *what) {
  printf("denied %s %s uid=%d\n", strerrorname_np(errno), what, (int)getuid());
  return 0;
}

static int unix_socket(int type, const char *path, int send_record) {
  int fd = socket(AF_UNIX, type, 0);
  if (fd < 0) return denied("socket");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof addr.sun_path) return denied("path");
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
  if (connect(fd, (struct sockaddr *)&addr, size) < 0) return denied("connect");
  if (send_record) {
    unsigned char record[64];
    memset(record, 0xa5, sizeof record);
    if (send(fd, record, sizeof record, MSG_NOSIGNAL) < 0) return denied("send");
    printf("sent\n");
    fflush(stdout);
    /* Give the listener time to look at the peer before the connection goes away. */
    char byte;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(fd, &byte, 1, 0);
    printf("peer %s\n", n == 0 ? "closed" : n < 0 ? strerrorname_np(errno) : "answered");
  }
  printf("granted\n");
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: intruder kind name [send]\n");
    return 2;
  }
  const char *kind = argv[1], *name = argv[2];
  int send_record = argc > 3 && strcmp(argv[3], "send") == 0;
  if (strcmp(kind, "mq") == 0) {
    mqd_t q = mq_open(name, O_RDWR | O_NONBLOCK);
    if (q == (mqd_t)-1) q = mq_open(name, O_WRONLY | O_NONBLOCK);
    if (q == (mqd_t)-1) q = mq_open(name, O_RDONLY | O_NONBLOCK);
    if (q == (mqd_t)-1) return denied("mq_open");
  } else if (strcmp(kind, "shm") == 0) {
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0) return denied("shm_open");
  } else if (strcmp(kind, "fifo") == 0) {
    int fd = open(name, O_WRONLY | O_NONBLOCK);
    if (fd < 0 && errno == ENXIO) fd = open(name, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return denied("open");
  } else if (strcmp(kind, "sysv") == 0) {
    /* msgget checks the permissions it is asked for: 0 would be let in whatever the mode. */
    key_t key = (key_t)strtoul(name, NULL, 0);
    if (msgget(key, 0200) < 0 && msgget(key, 0400) < 0) return denied("msgget");
  } else if (strcmp(kind, "unix-stream") == 0) {
    return unix_socket(SOCK_STREAM, name, send_record);
  } else if (strcmp(kind, "unix-seqpacket") == 0) {
    return unix_socket(SOCK_SEQPACKET, name, send_record);
  } else if (strcmp(kind, "unix-dgram") == 0) {
    return unix_socket(SOCK_DGRAM, name, send_record);
  } else {
    fprintf(stderr, "unknown kind %s\n", kind);
    return 2;
  }
  printf("granted\n");
  return 1;
}
