/*
 * Prints the permission bits of a POSIX message queue in octal: `objmode /name`. The mqueue
 * filesystem need not be mounted: an mqd_t is a descriptor, and fstat on it gives the queue's mode.
 * `objmode sysv KEY` prints those of a System V queue (msg_perm.mode from IPC_STAT).
 */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "sysv") == 0) {
    struct msqid_ds ds;
    int id = msgget((key_t)strtoul(argv[2], NULL, 0), 0);
    if (id < 0 || msgctl(id, IPC_STAT, &ds) < 0) {
      perror("msgget/msgctl");
      return 1;
    }
    printf("%o\n", (unsigned)(ds.msg_perm.mode & 0777));
    return 0;
  }
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
