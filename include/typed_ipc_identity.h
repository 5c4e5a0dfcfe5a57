/*
 * typed-ipc schema identity for C peers: the exchange a typed-ipc channel makes at connect when both
 * ends set { identity: true } (unix+seqpacket, unix+stream, tcp). Right after connect() or accept(),
 * call tipc_identity_exchange() with the struct's <NAME>_FINGERPRINT_U64 from the header cHeader()
 * generated: it sends this end's 16-byte hello ("TIPC-ID1" and the fingerprint as a big-endian u64)
 * and reads the peer's. Header-only; works on blocking and non-blocking sockets.
 *
 *   int r = tipc_identity_exchange(fd, SAMPLE_FINGERPRINT_U64, 5000, &peer);
 *   r == 0: same schema; r == 1: the peer's fingerprint differs (in peer): close the connection;
 *   r < 0: -errno (-ETIMEDOUT, -ECONNRESET when the peer closed, -EPROTO when it sent no hello).
 */
#ifndef TYPED_IPC_IDENTITY_H
#define TYPED_IPC_IDENTITY_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIPC_IDENTITY_SIZE 16
#define TIPC_IDENTITY_MAGIC "TIPC-ID1"

/* Waits up to timeout_ms (-1: forever) for fd to be ready for `events`; 0, or -errno. */
static inline int tipc_identity_wait(int fd, short events, int timeout_ms) {
  struct pollfd p = {fd, events, 0};
  for (;;) {
    int r = poll(&p, 1, timeout_ms);
    if (r > 0) return 0;
    if (r == 0) return -ETIMEDOUT;
    if (errno != EINTR) return -errno;
  }
}

/* Sends this end's hello and checks the peer's: 0 same schema, 1 different (*peer set), or -errno. */
static inline int tipc_identity_exchange(int fd, uint64_t fingerprint, int timeout_ms, uint64_t *peer) {
  unsigned char hello[TIPC_IDENTITY_SIZE];
  memcpy(hello, TIPC_IDENTITY_MAGIC, 8);
  for (int i = 0; i < 8; i++) hello[8 + i] = (unsigned char)(fingerprint >> (56 - 8 * i));
  size_t sent = 0;
  while (sent < sizeof hello) {
    ssize_t n = send(fd, hello + sent, sizeof hello - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int w = tipc_identity_wait(fd, POLLOUT, timeout_ms);
      if (w < 0) return w;
    } else if (n < 0 && errno != EINTR) {
      return -errno;
    }
  }
  /* 256 bytes: on seqpacket a longer record must be seen whole to be told from a hello. */
  unsigned char got[256];
  size_t have = 0;
  int record = 0;
  socklen_t len = sizeof record;
  int type = 0;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) record = type == SOCK_SEQPACKET;
  while (have < TIPC_IDENTITY_SIZE) {
    ssize_t n = recv(fd, got + have, record ? sizeof got : TIPC_IDENTITY_SIZE - have, 0);
    if (n > 0) {
      have += (size_t)n;
      if (record) break;
    } else if (n == 0) {
      return -ECONNRESET;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int w = tipc_identity_wait(fd, POLLIN, timeout_ms);
      if (w < 0) return w;
    } else if (errno != EINTR) {
      return -errno;
    }
  }
  if (have != TIPC_IDENTITY_SIZE || memcmp(got, TIPC_IDENTITY_MAGIC, 8) != 0) return -EPROTO;
  uint64_t remote = 0;
  for (int i = 0; i < 8; i++) remote = (remote << 8) | got[8 + i];
  if (peer != NULL) *peer = remote;
  return remote == fingerprint ? 0 : 1;
}

#endif /* TYPED_IPC_IDENTITY_H */
