/* A local user who cannot open a ring's segment, going for its doorbells (run it as another uid).
 * The ring id is public: protocol 1 bound abstract names "\0tipc-ring-<id>-<e>" that anyone reads
 * from /proc/net/unix; protocol 2's directory /dev/shm/.tipc-bells.<id> shows in `ls -a /dev/shm`.
 *   squat <id-hex> <seconds>   binds every doorbell name of both protocols it can, prints
 *                              "squatted <abstract> <path> denied <errno name>", holds them <seconds>
 *   flood <id-hex> <ms>        sends 1-byte datagrams to all of them for <ms>, prints "sent <abstract>
 *                              <path> failed <path sends refused> <errno name of the last refusal>"
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HANDLES 64

static socklen_t address(struct sockaddr_un *addr, const char *id, int e, int abstract) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  int n = abstract ? snprintf(addr->sun_path + 1, sizeof addr->sun_path - 1, "tipc-ring-%s-%d", id, e)
                   : snprintf(addr->sun_path, sizeof addr->sun_path, "/dev/shm/.tipc-bells.%s/%d", id, e);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1); /* the leading NUL of an abstract name, or a path's trailing one */
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 4) return 1;
  const char *mode = argv[1], *id = argv[2];
  long arg = atol(argv[3]);
  int last = 0;
  if (strcmp(mode, "squat") == 0) {
    int bound[2] = {0, 0};
    for (int abstract = 0; abstract < 2; abstract++) {
      for (int e = 0; e < HANDLES; e++) {
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un addr;
        socklen_t len = address(&addr, id, e, abstract);
        if (bind(fd, (struct sockaddr *)&addr, len) == 0) {
          bound[abstract]++;
        } else {
          last = errno;
          close(fd);
        }
      }
    }
    printf("squatted %d %d denied %s\n", bound[1], bound[0], last ? strerrorname_np(last) : "none");
    fflush(stdout);
    sleep((unsigned)arg);
    return 0;
  }
  if (strcmp(mode, "flood") == 0) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    long sent[2] = {0, 0}, failed = 0;
    char byte = 1;
    /* Names nobody binds (ENOENT, ECONNREFUSED) are dropped after one try, so the flood goes all to
     * the doorbells that take datagrams (and to refused ones, which are counted). */
    int dead[2][HANDLES] = {{0}};
    double end = now_ms() + (double)arg;
    while (now_ms() < end) {
      for (int abstract = 0; abstract < 2; abstract++) {
        for (int e = 0; e < HANDLES; e++) {
          if (dead[abstract][e]) continue;
          struct sockaddr_un addr;
          socklen_t len = address(&addr, id, e, abstract);
          if (sendto(fd, &byte, 1, MSG_DONTWAIT, (struct sockaddr *)&addr, len) == 1) {
            sent[abstract]++;
          } else if (errno == ENOENT || errno == ECONNREFUSED) {
            dead[abstract][e] = 1;
          } else if (errno != EAGAIN && !abstract) {
            failed++;
            last = errno;
          }
        }
      }
    }
    printf("sent %ld %ld failed %ld %s\n", sent[1], sent[0], failed, last ? strerrorname_np(last) : "none");
    return 0;
  }
  return 1;
}
