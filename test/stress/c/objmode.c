/*
 * Prints the permission bits of a POSIX message queue in octal: `objmode /name`. The mqueue
 * filesystem need not be mounted: an mqd_t is a descriptor, and fstat on it gives the queue's mode.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  mqd_t q = mq_open(argv[1], O_RDONLY | O_NONBLOCK);
  if (q == (mqd_t)-1) {
    perror("mq_open");
    return 1;
  }
  struct stat st;
  if (fstat((int)q, &st) < 0) {
    perror("fstat");
    return 1;
  }
  printf("%o\n", (unsigned)(st.st_mode & 07777));
  return 0;
}
