/*
 * A foreign writer for the socket and FIFO tests: a plain C program that puts whatever it is told on
 * a UNIX socket or FIFO, good samples and garbage alike, as a broken or hostile peer would.
 *
 *   foreign_writer seq    ADDR LENGTHS  connect to a unix+seqpacket listener, send one record per length, close
 *   foreign_writer dgram  ADDR LENGTHS  connect to a bound unix+dgram receiver, send one datagram per length
 *   foreign_writer stream ADDR LENGTHS  connect to a unix+stream listener, write the records back to back, close
 *   foreign_writer fifo   PATH LENGTHS  open PATH for writing (following symlinks, as plain C does), write, close
 *
 * LENGTHS is a comma-separated list such as 24,0,24,5: a length of 24 is the next good `struct sample`
 * (sample k = { k % 65536, k, k / 2.0 }, k counting good ones from 0), any other length that many
 * 0xEE bytes. ADDR is a path, or @name for the abstract namespace. Exit 0 when everything was sent;
 * 2 with the failing call and errno on stderr otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct sample {
  uint16_t channel;
  uint64_t timestamp;
  double value;
};
_Static_assert(sizeof(struct sample) == 24, "sample is 24 bytes");

static void die(const char *what) {
  fprintf(stderr, "foreign_writer: %s: %s\n", what, strerror(errno));
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

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: foreign_writer seq|dgram|stream|fifo ADDR LENGTHS\n");
    return 1;
  }
  const char *mode = argv[1];
  int fd;
  int is_socket = strcmp(mode, "fifo") != 0;
  if (is_socket) {
    int type = strcmp(mode, "seq") == 0 ? SOCK_SEQPACKET : strcmp(mode, "dgram") == 0 ? SOCK_DGRAM : SOCK_STREAM;
    fd = socket(AF_UNIX, type, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un sa;
    if (connect(fd, (struct sockaddr *)&sa, address(argv[2], &sa)) < 0) die("connect");
  } else {
    fd = open(argv[2], O_WRONLY);
    if (fd < 0) die("open");
  }
  unsigned char garbage[65536];
  memset(garbage, 0xEE, sizeof garbage);
  long good = 0;
  for (char *item = strtok(argv[3], ","); item != NULL; item = strtok(NULL, ",")) {
    size_t length = (size_t)atol(item);
    if (length > sizeof garbage) length = sizeof garbage;
    struct sample s;
    const void *bytes = garbage;
    if (length == sizeof s) {
      memset(&s, 0, sizeof s);
      s.channel = (uint16_t)(good % 65536);
      s.timestamp = (uint64_t)good;
      s.value = (double)good / 2.0;
      good++;
      bytes = &s;
    }
    ssize_t n = is_socket ? send(fd, bytes, length, MSG_NOSIGNAL) : write(fd, bytes, length);
    if (n != (ssize_t)length) die(is_socket ? "send" : "write");
  }
  close(fd);
  return 0;
}
