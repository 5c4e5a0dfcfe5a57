/*
 * typed_ipc_ring.h — header-only C11 implementation of the typed-ipc shared-memory ring protocol.
 *
 * A ring is a POSIX shared-memory segment (/dev/shm/<name>) holding a bounded multi-producer,
 * multi-consumer queue of fixed-size messages. Node programs (typed-ipc `open('shm:/name', codec)`)
 * and C programs using this header are peers on the same ring. The layout, the memory ordering and
 * the wake-up protocol are specified in docs/ring-protocol.md; this file is the reference
 * implementation of that document.
 *
 * Build: cc -std=c11 with _GNU_SOURCE or _POSIX_C_SOURCE >= 200809L defined before any include
 * (or include this header first). Link with -lrt on glibc < 2.34.
 *
 * A tipc_ring handle is used by one thread at a time; open one handle per thread.
 * Return values: 0 (or a count) on success, -errno on failure; -EAGAIN means "timed out / would
 * block"; -EIO means the segment was truncated under the handle (only tipc_ring_close is left to
 * do). timeout_ms: 0 never waits, -1 waits forever. tipc_ring_last_error() says more about a failed
 * open or create.
 */
#ifndef TYPED_IPC_RING_H
#define TYPED_IPC_RING_H

#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Layout (docs/ring-protocol.md, "Memory layout"). All fields little-endian. ---------------- */
#define TIPC_RING_MAGIC 0x474E495243504954ULL /* the bytes "TIPCRING" */
#define TIPC_RING_VERSION 2u /* 2: doorbells in a directory that follows the segment's mode */
#define TIPC_RING_OFF_MAGIC 0
#define TIPC_RING_OFF_VERSION 8
#define TIPC_RING_OFF_MSG_SIZE 16
#define TIPC_RING_OFF_SLOTS 20 /* u32: slots in the ring, a power of two */
#define TIPC_RING_OFF_CREATOR_PID 24
#define TIPC_RING_OFF_MAX_HANDLES 28
#define TIPC_RING_OFF_RING_ID 32
#define TIPC_RING_OFF_SEQ 40
#define TIPC_RING_OFF_DATA 44
#define TIPC_RING_OFF_TOTAL_SIZE 48
#define TIPC_RING_OFF_CAPACITY 56 /* u32: messages the ring holds before producers wait (<= slots) */
#define TIPC_RING_OFF_FINGERPRINT 64
#define TIPC_RING_FINGERPRINT_MAX 64
#define TIPC_RING_OFF_TAIL 128
#define TIPC_RING_OFF_HEAD 192
#define TIPC_RING_OFF_CONSUMERS_WAITING 256 /* u32[2]: bit e = handle e sleeps until a message */
#define TIPC_RING_OFF_PRODUCERS_WAITING 264 /* u32[2]: bit e = handle e sleeps until room */
#define TIPC_RING_OFF_RECOVERED 320        /* u64: claimed slots of dead producers turned into skips */
#define TIPC_RING_OFF_ABANDONED 328        /* u64: messages claimed by dead consumers and released */
#define TIPC_RING_OFF_REGISTRY 512
#define TIPC_RING_HANDLES 64
#define TIPC_RING_ENTRY_SIZE 64
#define TIPC_RING_E_PID 0
#define TIPC_RING_E_START_TIME 8
#define TIPC_RING_E_PROD_POS 16
#define TIPC_RING_E_PROD_COUNT 24
#define TIPC_RING_E_CONS_POS 32
#define TIPC_RING_E_CONS_COUNT 40
#define TIPC_RING_SEQ_SKIP 0x80000000u
#define TIPC_RING_MAX_CAPACITY (1u << 24)
#define TIPC_RING_MAX_MSG_SIZE (1u << 20)
/* Timing, the same in every implementation (docs/ring-protocol.md, "Waiting and waking"). */
#define TIPC_RING_SPIN 256                /* tries at the ring before a waiter registers as a sleeper */
#define TIPC_RING_RECOVERY_MS 10          /* recheck of a claimed, unfinished slot whose owner may be dead */
#define TIPC_RING_PRODUCER_RECHECK_MS 100 /* an idle producer asleep on a full ring looks for dead consumers */
#define TIPC_RING_CONSUMER_RECHECK_MS 1000 /* an idle consumer asleep on an empty ring checks for truncation */
#define TIPC_RING_OPEN_ATTEMPTS 100       /* rounds of create / open / replace before -EBUSY */

/** The ring header as a struct: the offsets above are its offsetof (checked below, and against
 * src/channels/ring/layout.ts by test/channels/ring-layout.test.ts). Peers index the mapping with the
 * TIPC_RING_OFF_* constants; the struct documents the layout and lets C code name fields. */
typedef struct tipc_ring_header {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved_12;
  uint32_t msg_size;
  uint32_t slots;
  int32_t creator_pid;
  uint32_t max_handles;
  uint64_t ring_id;
  uint32_t seq_offset;
  uint32_t data_offset;
  uint64_t total_size;
  uint32_t capacity;
  uint32_t reserved_60;
  char fingerprint[TIPC_RING_FINGERPRINT_MAX];
  _Alignas(64) uint64_t tail; /* own cache line */
  _Alignas(64) uint64_t head; /* own cache line */
  _Alignas(64) uint32_t consumers_waiting[TIPC_RING_HANDLES / 32];
  uint32_t producers_waiting[TIPC_RING_HANDLES / 32];
  _Alignas(64) uint64_t recovered;
  uint64_t abandoned;
} tipc_ring_header;

/** One registry entry (TIPC_RING_ENTRY_SIZE bytes, at TIPC_RING_OFF_REGISTRY + e * TIPC_RING_ENTRY_SIZE). */
typedef struct tipc_ring_entry {
  uint32_t pid;
  uint32_t reserved_4;
  uint64_t start_time; /* one 64-bit atomic */
  uint64_t prod_pos;
  uint32_t prod_count;
  uint32_t reserved_28;
  uint64_t cons_pos;
  uint32_t cons_count;
  uint32_t reserved_44[5];
} tipc_ring_entry;

#define TIPC__CHECK_OFFSET(type, field, off) _Static_assert(offsetof(type, field) == (off), #field " offset")
TIPC__CHECK_OFFSET(tipc_ring_header, magic, TIPC_RING_OFF_MAGIC);
TIPC__CHECK_OFFSET(tipc_ring_header, version, TIPC_RING_OFF_VERSION);
TIPC__CHECK_OFFSET(tipc_ring_header, msg_size, TIPC_RING_OFF_MSG_SIZE);
TIPC__CHECK_OFFSET(tipc_ring_header, slots, TIPC_RING_OFF_SLOTS);
TIPC__CHECK_OFFSET(tipc_ring_header, creator_pid, TIPC_RING_OFF_CREATOR_PID);
TIPC__CHECK_OFFSET(tipc_ring_header, max_handles, TIPC_RING_OFF_MAX_HANDLES);
TIPC__CHECK_OFFSET(tipc_ring_header, ring_id, TIPC_RING_OFF_RING_ID);
TIPC__CHECK_OFFSET(tipc_ring_header, seq_offset, TIPC_RING_OFF_SEQ);
TIPC__CHECK_OFFSET(tipc_ring_header, data_offset, TIPC_RING_OFF_DATA);
TIPC__CHECK_OFFSET(tipc_ring_header, total_size, TIPC_RING_OFF_TOTAL_SIZE);
TIPC__CHECK_OFFSET(tipc_ring_header, capacity, TIPC_RING_OFF_CAPACITY);
TIPC__CHECK_OFFSET(tipc_ring_header, fingerprint, TIPC_RING_OFF_FINGERPRINT);
TIPC__CHECK_OFFSET(tipc_ring_header, tail, TIPC_RING_OFF_TAIL);
TIPC__CHECK_OFFSET(tipc_ring_header, head, TIPC_RING_OFF_HEAD);
TIPC__CHECK_OFFSET(tipc_ring_header, consumers_waiting, TIPC_RING_OFF_CONSUMERS_WAITING);
TIPC__CHECK_OFFSET(tipc_ring_header, producers_waiting, TIPC_RING_OFF_PRODUCERS_WAITING);
TIPC__CHECK_OFFSET(tipc_ring_header, recovered, TIPC_RING_OFF_RECOVERED);
TIPC__CHECK_OFFSET(tipc_ring_header, abandoned, TIPC_RING_OFF_ABANDONED);
TIPC__CHECK_OFFSET(tipc_ring_entry, pid, TIPC_RING_E_PID);
TIPC__CHECK_OFFSET(tipc_ring_entry, start_time, TIPC_RING_E_START_TIME);
TIPC__CHECK_OFFSET(tipc_ring_entry, prod_pos, TIPC_RING_E_PROD_POS);
TIPC__CHECK_OFFSET(tipc_ring_entry, prod_count, TIPC_RING_E_PROD_COUNT);
TIPC__CHECK_OFFSET(tipc_ring_entry, cons_pos, TIPC_RING_E_CONS_POS);
TIPC__CHECK_OFFSET(tipc_ring_entry, cons_count, TIPC_RING_E_CONS_COUNT);
_Static_assert(sizeof(tipc_ring_header) <= TIPC_RING_OFF_REGISTRY, "the header ends before the registry");
_Static_assert(sizeof(tipc_ring_entry) == TIPC_RING_ENTRY_SIZE, "registry entry size");
#undef TIPC__CHECK_OFFSET

/** An open handle on a ring. */
typedef struct tipc_ring {
  uint8_t *base;
  size_t size;
  uint32_t msg_size;
  uint32_t slots;    /* power of two */
  uint32_t capacity; /* messages held before producers wait; <= slots */
  uint32_t mask;
  uint32_t seq_off;
  uint32_t data_off;
  uint32_t entry; /* this handle's registry entry */
  int bell;       /* this handle's doorbell: a UNIX datagram socket in the ring's doorbell directory */
  int fd;         /* the segment, kept open to notice a truncation (fstat) */
  int broken;     /* the segment shrank under the mapping: every call fails with -EIO, memory untouched */
  uint64_t ring_id;
  char name[256];
} tipc_ring;

/* ---- small helpers -------------------------------------------------------------------------- */

/* Why the last tipc_ring_open / tipc_ring_create of this thread failed, when the errno alone does
 * not say (a damaged header names its field and value). */
static __thread char tipc__why[256];

/** A sentence on why the last failed open or create of this thread failed ("" if none recorded). */
static inline const char *tipc_ring_last_error(void) { return tipc__why; }
#define TIPC__A32(r, off) ((_Atomic uint32_t *)(void *)((r)->base + (off)))
#define TIPC__A64(r, off) ((_Atomic uint64_t *)(void *)((r)->base + (off)))
#define TIPC__ENTRY(r, e, field) (TIPC_RING_OFF_REGISTRY + (size_t)(e) * TIPC_RING_ENTRY_SIZE + (field))

static inline _Atomic uint32_t *tipc__seq(const tipc_ring *r, uint64_t pos) {
  return (_Atomic uint32_t *)(void *)(r->base + r->seq_off) + (pos & r->mask);
}

static inline uint8_t *tipc__slot(const tipc_ring *r, uint64_t pos) {
  return r->base + r->data_off + (size_t)(pos & r->mask) * r->msg_size;
}

static inline uint64_t tipc__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The monotonic ms a call of `timeout_ms` (0: never waits, -1: forever) gives up at (0 when it has none). */
static inline uint64_t tipc__deadline(int timeout_ms) {
  return timeout_ms > 0 ? tipc__now_ms() + (uint64_t)timeout_ms : 0;
}

/* Whether a call of `timeout_ms` may wait no longer. */
static inline int tipc__expired(int timeout_ms, uint64_t deadline) {
  return timeout_ms == 0 || (timeout_ms > 0 && tipc__now_ms() >= deadline);
}

static inline int tipc__valid_name(const char *name) {
  size_t len = name ? strlen(name) : 0;
  return len >= 2 && len <= 200 && name[0] == '/' && strchr(name + 1, '/') == NULL;
}

/* Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); 0 if unknown. */
static inline uint64_t tipc__start_time(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (p == NULL) return 0;
  /* p is at the ')' closing field 2; the space before field f is the (f - 2)th after it. */
  for (int field = 3; field <= 22 && p != NULL; field++) p = strchr(p + 1, ' ');
  return p == NULL ? 0 : strtoull(p + 1, NULL, 10);
}

/* Whether the process that registered entry e (pid, start_time) still runs. */
static inline int tipc__alive(int pid, uint64_t start_time) {
  if (pid <= 0) return 0;
  if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
  uint64_t now = tipc__start_time(pid);
  /* A different start time means the pid was reused by another process. */
  return now == 0 ? 1 : now == start_time;
}

/* ---- doorbells (docs/ring-protocol.md, "Doorbells") ----------------------------------------- */

/* The directory of a ring's doorbell sockets: only who may write the segment may enter it. */
static inline void tipc__bell_dir(char *buf, size_t len, uint64_t ring_id) {
  snprintf(buf, len, "/dev/shm/.tipc-bells.%016llx", (unsigned long long)ring_id);
}

/* The directory's mode for a segment of `mode`: rwx for each class that may write the segment. */
static inline mode_t tipc__bells_mode(mode_t mode) {
  return (mode_t)(0700 | ((mode & 0020) ? 0070 : 0) | ((mode & 0002) ? 0007 : 0));
}

static inline void tipc__bell_address(struct sockaddr_un *addr, socklen_t *len, uint64_t ring_id, uint32_t e) {
  char dir[64];
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  tipc__bell_dir(dir, sizeof dir, ring_id);
  int n = snprintf(addr->sun_path, sizeof addr->sun_path, "%s/%u", dir, (unsigned)e);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
}

/* Rings, from the socket `bell`, every doorbell of directory `bell_id` whose bit is set in the
 * `words` mask words at `base + off`, clearing the bits. Shared by rings and pub/sub segments. */
static inline void tipc__ring_mask(int bell, uint8_t *base, size_t off, uint32_t words, uint64_t bell_id) {
  for (uint32_t w = 0; w < words; w++) {
    _Atomic uint32_t *word = (_Atomic uint32_t *)(void *)(base + off + 4 * w);
    if (atomic_load_explicit(word, memory_order_seq_cst) == 0) continue;
    uint32_t bits = atomic_exchange_explicit(word, 0, memory_order_seq_cst);
    while (bits != 0) {
      uint32_t b = (uint32_t)__builtin_ctz(bits);
      bits &= bits - 1;
      struct sockaddr_un addr;
      socklen_t len;
      tipc__bell_address(&addr, &len, bell_id, w * 32 + b);
      char one = 1;
      /* EAGAIN (a ring already queued) and ECONNREFUSED (sleeper gone) both mean nothing to do. */
      (void)sendto(bell, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
    }
  }
}

/* Rings every doorbell whose bit is set in the ring's two-word mask at `off`, clearing the bits. */
static inline void tipc__ring_bells(tipc_ring *r, size_t off) { tipc__ring_mask(r->bell, r->base, off, 2, r->ring_id); }

static inline void tipc__drain_bell(int bell) {
  char buf[64];
  while (recv(bell, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

/* Waits for a ring of the doorbell `bell`: at most recheck_ms, or what is left until `deadline`
 * (monotonic ms) unless `forever`. Shared by rings and pub/sub segments. */
static inline void tipc__await_bell(int bell, uint64_t deadline, int forever, int recheck_ms) {
  int wait_ms = recheck_ms;
  if (!forever) {
    uint64_t now = tipc__now_ms();
    uint64_t left = deadline > now ? deadline - now : 0;
    if (left < (uint64_t)wait_ms) wait_ms = (int)left;
  }
  struct pollfd pfd = {.fd = bell, .events = POLLIN, .revents = 0};
  (void)poll(&pfd, 1, wait_ms);
}

/* Whether the segment `fd` still covers a mapping of `size` bytes. A segment truncated under the
 * mapping (by anyone who can write /dev/shm/<name>) makes every access past the new end a SIGBUS:
 * once this is seen, *broken is set and nothing touches the mapping again (docs: "Trust model"). */
static inline int tipc__covers(int fd, size_t size, int *broken) {
  struct stat st;
  if (!*broken && fstat(fd, &st) == 0 && (uint64_t)st.st_size >= (uint64_t)size) return 1;
  *broken = 1;
  return 0;
}

/* What a sleep needs of a handle (a ring's or a pub/sub one): its mapping, file, doorbell and the
 * number of its bit in the sleeper masks. */
typedef struct tipc__sleeper {
  uint8_t *base;
  size_t size;
  int fd;
  int bell;
  int *broken;
  uint32_t number;
} tipc__sleeper;

/* Sets the sleeper's bit in the mask at `mask_off`, looks again (`ready(handle)`), and sleeps on the
 * doorbell (tipc__await_bell); -EIO (nothing touched) when the segment was found truncated on waking. */
static inline int tipc__sleep_on(const tipc__sleeper *s, size_t mask_off, int (*ready)(void *), void *handle,
                                 uint64_t deadline, int forever, int recheck_ms) {
  _Atomic uint32_t *word = (_Atomic uint32_t *)(void *)(s->base + mask_off + 4 * (s->number / 32));
  uint32_t bit = 1u << (s->number % 32);
  tipc__drain_bell(s->bell);
  atomic_fetch_or_explicit(word, bit, memory_order_seq_cst);
  /* Dekker with the waker: it stores (publish/release) then loads the mask; we set the bit then
   * check the segment again, both seq_cst, so one of us sees the other. */
  if (!ready(handle)) {
    tipc__await_bell(s->bell, deadline, forever, recheck_ms);
    /* Every wake-up and every timeout looks at the file's size before touching the mapping again. */
    if (!tipc__covers(s->fd, s->size, s->broken)) return -EIO;
  }
  atomic_fetch_and_explicit(word, ~bit, memory_order_seq_cst);
  return 0;
}

/* ---- what rings and pub/sub segments share as files and handles ---------------------------- */
/* A registry entry of either protocol starts with a u32 pid and, at 8, a u64 start time; the u64 at 0
 * of a header is its magic and the u32 at 8 its version (typed_ipc_pubsub.h checks its layout agrees). */

/* Removes the doorbell sockets of directory `bell_id` (all `count`, or those whose entry in the
 * `count` registry entries at `registry` is not live), then the directory, which fails harmlessly
 * while a live handle's socket is left in it. */
static inline void tipc__remove_bells_of(uint64_t bell_id, const uint8_t *registry, uint32_t count) {
  char dir[64];
  tipc__bell_dir(dir, sizeof dir, bell_id);
  for (uint32_t e = 0; e < count; e++) {
    if (registry != NULL) {
      const uint8_t *entry = registry + (size_t)e * TIPC_RING_ENTRY_SIZE;
      int pid = (int)*(const uint32_t *)(const void *)(entry + TIPC_RING_E_PID);
      if (pid != 0 && tipc__alive(pid, *(const uint64_t *)(const void *)(entry + TIPC_RING_E_START_TIME))) continue;
    }
    struct sockaddr_un addr;
    socklen_t len;
    tipc__bell_address(&addr, &len, bell_id, e);
    (void)unlink(addr.sun_path);
  }
  (void)rmdir(dir);
}

/* Removes the doorbell sockets of a ring (all, or those whose registry entry in `base` is not live)
 * and then the directory. */
static inline void tipc__remove_bells(uint64_t ring_id, const uint8_t *base) {
  tipc__remove_bells_of(ring_id, base != NULL ? base + TIPC_RING_OFF_REGISTRY : NULL, TIPC_RING_HANDLES);
}

/* Whether the first `len` bytes of the segment `fd` (read into `buf`) start with `magic` and `version`. */
static inline int tipc__read_header(int fd, uint8_t *buf, size_t len, uint64_t magic, uint32_t version) {
  return fd >= 0 && pread(fd, buf, len, 0) == (ssize_t)len && *(uint64_t *)(void *)buf == magic &&
         *(uint32_t *)(void *)(buf + 8) == version;
}

/* Maps the segment `fd` read-write into *base and *size once it is at least `min_size` bytes and
 * starts with `magic` and `version`; 0, or -errno or -EPROTO with why in tipc__why (nothing left
 * mapped). `noun` names the kind in that sentence ("ring", "pub/sub segment"). */
static inline int tipc__map(int fd, size_t min_size, uint64_t magic, uint32_t version, const char *noun, uint8_t **base,
                            size_t *size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  if ((size_t)st.st_size < min_size) {
    snprintf(tipc__why, sizeof tipc__why, "not a %s: %lld bytes, less than the header", noun, (long long)st.st_size);
    return -EPROTO;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return -errno;
  uint64_t found = atomic_load_explicit((_Atomic uint64_t *)m, memory_order_acquire);
  uint32_t found_version = *(uint32_t *)(void *)((uint8_t *)m + 8);
  if (found != magic || found_version != version) {
    snprintf(tipc__why, sizeof tipc__why, "not a typed-ipc %s of version %u (magic %016llx, version %u)", noun, version,
             (unsigned long long)found, found_version);
    munmap(m, (size_t)st.st_size);
    return -EPROTO;
  }
  *base = (uint8_t *)m;
  *size = (size_t)st.st_size;
  return 0;
}

/* The first of the fields every header has that is out of range: msg_size, slots (a power of two),
 * capacity (<= slots); NULL when they are right. */
static inline const char *tipc__check_slots(uint32_t msg_size, uint32_t slots, uint32_t capacity, uint32_t max_msg_size,
                                            uint32_t max_slots, unsigned long long *value) {
  if (msg_size < 1 || msg_size > max_msg_size) return *value = msg_size, "msg_size";
  if (slots < 2 || slots > max_slots || (slots & (slots - 1)) != 0) return *value = slots, "slots";
  if (capacity < 1 || capacity > slots) return *value = capacity, "capacity";
  return NULL;
}

/* The end of a segment: total_size must be data_offset + slots * msg_size, and the file that long. */
static inline const char *tipc__check_extent(uint32_t data_off, uint32_t slots, uint32_t msg_size, uint64_t total,
                                             size_t file_size, unsigned long long *value) {
  if (total != (uint64_t)data_off + (uint64_t)slots * msg_size) return *value = total, "total_size";
  if ((uint64_t)file_size != total) return *value = file_size, "file size";
  return NULL;
}

/* 0 when no field is wrong; else -EBADMSG, naming the field and its value in tipc__why. */
static inline int tipc__damaged(const char *field, unsigned long long value, const char *kind, const char *doc) {
  if (field == NULL) return 0;
  snprintf(tipc__why, sizeof tipc__why, "damaged %s header: %s is %llu (see docs/%s, \"Opening\")", kind, field, value,
           doc);
  return -EBADMSG;
}

/* Whether a segment's messages (`size` bytes, fingerprint field `theirs`) are the opener's: a
 * `fingerprint` of NULL or "", or a segment without one, skips that check. 0, or -EINVAL with why in
 * tipc__why; `noun` names the segment ("ring", "segment"). */
static inline int tipc__check_codec(uint32_t size, const char *theirs, uint32_t msg_size, const char *fingerprint,
                                    const char *noun) {
  if (size != msg_size) {
    snprintf(tipc__why, sizeof tipc__why, "the %s holds %u-byte messages, not %u", noun, size, msg_size);
    return -EINVAL;
  }
  if (fingerprint != NULL && fingerprint[0] != '\0' && theirs[0] != '\0' &&
      strncmp(theirs, fingerprint, TIPC_RING_FINGERPRINT_MAX) != 0) {
    snprintf(tipc__why, sizeof tipc__why, "the %s's message layout has fingerprint %.64s, not %.64s", noun, theirs,
             fingerprint);
    return -EINVAL;
  }
  return 0;
}

/* Whether the doorbell directory (lstat'ed into *dir) is the one the segment's creator made: a
 * directory (not a link) of the segment's owner and group, granting nobody the segment does not grant. */
static inline int tipc__bell_dir_ok(const struct stat *seg, const struct stat *dir) {
  mode_t allowed = tipc__bells_mode(seg->st_mode & 0777);
  return S_ISDIR(dir->st_mode) && dir->st_uid == seg->st_uid && dir->st_gid == seg->st_gid &&
         !(dir->st_mode & 0777 & ~allowed);
}

/* Opens the handle's doorbell socket into *bell, then runs claim(handle, sock_mode) holding
 * flock(LOCK_EX) on the segment `fd`: an opener that saw another opener's pid before its start time
 * was stored would judge it dead and take the same entry (docs/ring-protocol.md, "Handles"). The
 * kernel drops the lock if its holder dies. */
static inline int tipc__claim_locked(int fd, int *bell, int (*claim)(void *, mode_t), void *handle, mode_t sock_mode) {
  *bell = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (*bell < 0) return -errno;
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int rc = -errno;
    close(*bell);
    *bell = -1;
    return rc;
  }
  int rc = claim(handle, sock_mode);
  (void)flock(fd, LOCK_UN);
  return rc;
}

/* Tries to take the registry entry at `base + entry` (free, or its process dead) for `self`: CAS of
 * its pid, then binds `bell` as doorbell `number` of directory `bell_id`, granted `sock_mode`. 1: taken
 * (the caller clears the dead owner's words, then stores its start time last); 0: not this one (live,
 * taken meanwhile, or another opener's socket appeared meanwhile); -errno: the doorbell cannot be
 * created (`addr` names it; the entry is given back). */
static inline int tipc__take_entry(uint8_t *base, size_t entry, int self, int bell, uint64_t bell_id, uint32_t number,
                                   mode_t sock_mode, struct sockaddr_un *addr) {
  _Atomic uint32_t *pid = (_Atomic uint32_t *)(void *)(base + entry + TIPC_RING_E_PID);
  uint32_t seen = atomic_load_explicit(pid, memory_order_acquire);
  if (seen != 0) {
    _Atomic uint64_t *start = (_Atomic uint64_t *)(void *)(base + entry + TIPC_RING_E_START_TIME);
    if (tipc__alive((int)seen, atomic_load_explicit(start, memory_order_acquire))) return 0;
  }
  if (!atomic_compare_exchange_strong_explicit(pid, &seen, (uint32_t)self, memory_order_seq_cst, memory_order_relaxed))
    return 0;
  socklen_t len;
  tipc__bell_address(addr, &len, bell_id, number);
  /* The entry is ours: a socket file its dead owner left goes (a forked child of that owner may
   * still hold the socket; it is no handle and gets no more rings). */
  (void)unlink(addr->sun_path);
  int bound = bind(bell, (struct sockaddr *)addr, len) == 0 ? 0 : -errno;
  /* Peers of other uids that the segment grants must be able to ring it; the directory keeps out the rest. */
  if (bound == 0 && chmod(addr->sun_path, sock_mode) != 0) {
    bound = -errno;
    (void)unlink(addr->sun_path);
  }
  if (bound == 0) return 1;
  atomic_store_explicit(pid, seen, memory_order_seq_cst);
  return bound == -EADDRINUSE ? 0 : bound;
}

/* Closes a handle's doorbell, mapping and segment descriptor. */
static inline void tipc__release(int bell, uint8_t *base, size_t size, int fd) {
  if (bell >= 0) close(bell);
  munmap(base, size);
  close(fd);
}

/* For a handle that closes: once its segment was unlinked, the doorbells of dead handles go too
 * (nobody takes their entries again), then the directory unless a live handle remains. A truncated
 * registry (not `intact`) cannot be read: only the directory is tried. */
static inline void tipc__leave_bells(int fd, int intact, uint64_t bell_id, const uint8_t *registry, uint32_t count) {
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_nlink != 0) return;
  if (intact) {
    tipc__remove_bells_of(bell_id, registry, count);
    return;
  }
  char dir[64];
  tipc__bell_dir(dir, sizeof dir, bell_id);
  (void)rmdir(dir);
}

static inline uint64_t tipc__random64(void) {
  uint64_t v = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) v = 0;
    close(fd);
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return v ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
}

/* Slots of a segment holding `capacity` messages: a power of two, at least 2. */
static inline uint32_t tipc__slots_for(uint32_t capacity) {
  uint32_t slots = 2;
  while (slots < capacity) slots <<= 1;
  return slots;
}

/* Creates the temporary segment file `tmp` (/dev/shm/<prefix>.<pid>.<random>) of `size` bytes and
 * `mode`, and maps it into *base (zero-filled); its fd, or -errno with nothing left behind. */
static inline int tipc__build_begin(char *tmp, size_t tmp_len, const char *prefix, mode_t mode, size_t size,
                                    uint8_t **base) {
  snprintf(tmp, tmp_len, "/dev/shm/%s.%d.%llx", prefix, (int)getpid(), (unsigned long long)tipc__random64());
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return -errno;
  int rc = 0;
  if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)size) != 0) rc = -errno;
  if (rc == 0) {
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) rc = -errno;
    else *base = (uint8_t *)m;
  }
  if (rc != 0) {
    close(fd);
    unlink(tmp);
    return rc;
  }
  return fd;
}

/* Finishes a segment tipc__build_begin made, its header written: the doorbell directory `bell_id` is
 * made before the segment is visible under its name (owner-only first, then the exact mode, umask
 * ignored), then `magic` is stored last. Returns `fd`, or -errno with nothing left behind. */
static inline int tipc__build_end(const char *tmp, int fd, uint8_t *base, size_t size, mode_t mode, uint64_t bell_id,
                                  uint64_t magic) {
  char dir[64];
  tipc__bell_dir(dir, sizeof dir, bell_id);
  /* setgid when the group is granted: sockets made in it get the segment's group, not their binder's. */
  if (mkdir(dir, 0700) != 0 || chmod(dir, tipc__bells_mode(mode) | ((mode & 0020) ? 02000 : 0)) != 0) {
    int rc = -errno;
    (void)rmdir(dir);
    munmap(base, size);
    close(fd);
    unlink(tmp);
    return rc;
  }
  atomic_store_explicit((_Atomic uint64_t *)(void *)base, magic, memory_order_release);
  munmap(base, size);
  return fd;
}

/* Publishes the built segment `tmp` as `path` with link(), which fails if the name exists; closes
 * `fd`. A segment not published leaves no doorbell directory. 0, or -errno. */
static inline int tipc__publish(const char *tmp, const char *path, int fd, uint64_t bell_id) {
  int linked = link(tmp, path) == 0 ? 0 : -errno;
  unlink(tmp);
  close(fd);
  if (linked != 0) tipc__remove_bells_of(bell_id, NULL, 0);
  return linked;
}

/* ---- recovery (docs/ring-protocol.md, "Dead peers") ----------------------------------------- */

/* True when a live registry entry's intent at `field` covers position `pos`. */
static inline int tipc__live_intent_covers(tipc_ring *r, size_t pos_field, size_t count_field, uint64_t pos) {
  for (uint32_t e = 0; e < TIPC_RING_HANDLES; e++) {
    int pid = (int)atomic_load_explicit(TIPC__A32(r, TIPC__ENTRY(r, e, TIPC_RING_E_PID)), memory_order_acquire);
    if (pid == 0) continue;
    uint32_t count = atomic_load_explicit(TIPC__A32(r, TIPC__ENTRY(r, e, count_field)), memory_order_acquire);
    uint64_t start = atomic_load_explicit(TIPC__A64(r, TIPC__ENTRY(r, e, pos_field)), memory_order_acquire);
    if (count == 0 || pos < start || pos - start >= count) continue;
    uint64_t st = atomic_load_explicit(TIPC__A64(r, TIPC__ENTRY(r, e, TIPC_RING_E_START_TIME)), memory_order_acquire);
    if (tipc__alive(pid, st)) return 1;
  }
  return 0;
}

/* What a recovery attempt found: nothing claimed and unfinished (idle), a claimed slot whose owner
 * lives (stuck: look again in TIPC_RING_RECOVERY_MS), or a dead owner's slot that it recovered. */
#define TIPC__IDLE 0
#define TIPC__RECOVERED 1
#define TIPC__STUCK 2

/* The slot at `head` was claimed by a producer that never published it: if that producer is dead,
 * publish the slot as a skip so consumers move on. */
static inline int tipc__recover_producer(tipc_ring *r) {
  uint64_t h = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_HEAD), memory_order_seq_cst);
  uint32_t s = atomic_load_explicit(tipc__seq(r, h), memory_order_seq_cst);
  if (s != (uint32_t)h) return TIPC__IDLE;
  if (atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_TAIL), memory_order_seq_cst) <= h) return TIPC__IDLE;
  if (tipc__live_intent_covers(r, TIPC_RING_E_PROD_POS, TIPC_RING_E_PROD_COUNT, h)) return TIPC__STUCK;
  uint32_t expected = (uint32_t)h;
  if (!atomic_compare_exchange_strong_explicit(tipc__seq(r, h), &expected, (uint32_t)(h + 1) ^ TIPC_RING_SEQ_SKIP,
                                               memory_order_seq_cst, memory_order_relaxed))
    return TIPC__RECOVERED; /* published meanwhile: something changed all the same */
  atomic_fetch_add_explicit(TIPC__A64(r, TIPC_RING_OFF_RECOVERED), 1, memory_order_relaxed);
  tipc__ring_bells(r, TIPC_RING_OFF_CONSUMERS_WAITING);
  return TIPC__RECOVERED;
}

/* The slot the producers need next still holds a message that a consumer claimed but never
 * released: if that consumer is dead, release the slot. */
static inline int tipc__recover_consumer(tipc_ring *r) {
  uint64_t t = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_TAIL), memory_order_seq_cst);
  uint64_t p = t - r->slots;
  if (t < r->slots) return TIPC__IDLE;
  uint32_t s = atomic_load_explicit(tipc__seq(r, t), memory_order_seq_cst);
  if (s != (uint32_t)(p + 1) && s != ((uint32_t)(p + 1) ^ TIPC_RING_SEQ_SKIP)) return TIPC__IDLE;
  if (atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_HEAD), memory_order_seq_cst) <= p) return TIPC__IDLE;
  if (tipc__live_intent_covers(r, TIPC_RING_E_CONS_POS, TIPC_RING_E_CONS_COUNT, p)) return TIPC__STUCK;
  if (!atomic_compare_exchange_strong_explicit(tipc__seq(r, t), &s, (uint32_t)t, memory_order_seq_cst,
                                               memory_order_relaxed))
    return TIPC__RECOVERED; /* released meanwhile */
  atomic_fetch_add_explicit(TIPC__A64(r, TIPC_RING_OFF_ABANDONED), 1, memory_order_relaxed);
  tipc__ring_bells(r, TIPC_RING_OFF_PRODUCERS_WAITING);
  return TIPC__RECOVERED;
}

/* ---- the queue ------------------------------------------------------------------------------ */

/* Claims up to n free slots at the tail, copies n messages in, publishes them with one
 * seq_cst store. Returns how many were sent (0: full, or the next slot is still in use). */
static inline uint32_t tipc_ring_try_send_many(tipc_ring *r, const void *msgs, uint32_t n) {
  _Atomic uint64_t *tail = TIPC__A64(r, TIPC_RING_OFF_TAIL);
  _Atomic uint64_t *ipos = TIPC__A64(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_PROD_POS));
  _Atomic uint32_t *icount = TIPC__A32(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_PROD_COUNT));
  int intent = 0;
  for (;;) {
    uint64_t t = atomic_load_explicit(tail, memory_order_acquire);
    uint32_t room = n;
    if (r->capacity < r->slots) {
      /* A capacity below the slot count is enforced on tail - head (head only read in that case). */
      uint64_t h = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_HEAD), memory_order_seq_cst);
      uint64_t used = h > t ? 0 : t - h;
      room = used >= r->capacity ? 0 : (uint32_t)(r->capacity - used) < n ? (uint32_t)(r->capacity - used) : n;
    }
    uint32_t k = 0;
    while (k < room && atomic_load_explicit(tipc__seq(r, t + k), memory_order_acquire) == (uint32_t)(t + k)) k++;
    if (k == 0) {
      if (intent) atomic_store_explicit(icount, 0, memory_order_release);
      return 0;
    }
    /* The intent is visible before the claim, so a recoverer that sees the claim sees the intent. */
    atomic_store_explicit(ipos, t, memory_order_relaxed);
    atomic_store_explicit(icount, k, memory_order_relaxed);
    intent = 1;
    if (!atomic_compare_exchange_weak_explicit(tail, &t, t + k, memory_order_seq_cst, memory_order_relaxed)) continue;
    const uint8_t *src = (const uint8_t *)msgs;
    for (uint32_t j = 0; j < k; j++) memcpy(tipc__slot(r, t + j), src + (size_t)j * r->msg_size, r->msg_size);
    for (uint32_t j = 1; j < k; j++)
      atomic_store_explicit(tipc__seq(r, t + j), (uint32_t)(t + j + 1), memory_order_release);
    atomic_store_explicit(tipc__seq(r, t), (uint32_t)(t + 1), memory_order_seq_cst);
    tipc__ring_bells(r, TIPC_RING_OFF_CONSUMERS_WAITING);
    return k;
  }
}

/* Claims up to max published slots at the head, copies the messages out (skips are dropped),
 * releases the slots with one seq_cst store. Returns how many messages were copied. */
static inline uint32_t tipc_ring_try_recv_many(tipc_ring *r, void *out, uint32_t max) {
  _Atomic uint64_t *head = TIPC__A64(r, TIPC_RING_OFF_HEAD);
  _Atomic uint64_t *ipos = TIPC__A64(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_CONS_POS));
  _Atomic uint32_t *icount = TIPC__A32(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_CONS_COUNT));
  int intent = 0;
  for (;;) {
    uint64_t h = atomic_load_explicit(head, memory_order_acquire);
    uint32_t k = 0;
    while (k < max) {
      uint32_t s = atomic_load_explicit(tipc__seq(r, h + k), memory_order_acquire);
      uint32_t published = (uint32_t)(h + k + 1);
      if (s != published && s != (published ^ TIPC_RING_SEQ_SKIP)) break;
      k++;
    }
    if (k == 0) {
      if (intent) atomic_store_explicit(icount, 0, memory_order_release);
      return 0;
    }
    atomic_store_explicit(ipos, h, memory_order_relaxed);
    atomic_store_explicit(icount, k, memory_order_relaxed);
    intent = 1;
    if (!atomic_compare_exchange_weak_explicit(head, &h, h + k, memory_order_seq_cst, memory_order_relaxed)) continue;
    uint8_t *dst = (uint8_t *)out;
    uint32_t delivered = 0;
    for (uint32_t j = 0; j < k; j++) {
      /* A skip is u32(p + 1) ^ SKIP: compare the whole word. Bit 31 alone says nothing, since it is
       * also a bit of the position from 2^31 on. */
      if (atomic_load_explicit(tipc__seq(r, h + j), memory_order_relaxed) != (uint32_t)(h + j + 1)) continue;
      memcpy(dst + (size_t)delivered * r->msg_size, tipc__slot(r, h + j), r->msg_size);
      delivered++;
    }
    for (uint32_t j = 1; j < k; j++)
      atomic_store_explicit(tipc__seq(r, h + j), (uint32_t)(h + j + r->slots), memory_order_release);
    atomic_store_explicit(tipc__seq(r, h), (uint32_t)(h + r->slots), memory_order_seq_cst);
    tipc__ring_bells(r, TIPC_RING_OFF_PRODUCERS_WAITING);
    if (delivered > 0) return delivered;
  }
}

/* Whether the slot at the head of ring `handle` holds something for consumers (message or skip). */
static inline int tipc__readable(void *handle) {
  tipc_ring *r = (tipc_ring *)handle;
  uint64_t h = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_HEAD), memory_order_seq_cst);
  uint32_t s = atomic_load_explicit(tipc__seq(r, h), memory_order_seq_cst);
  return s == (uint32_t)(h + 1) || s == ((uint32_t)(h + 1) ^ TIPC_RING_SEQ_SKIP);
}

/* Whether the slot at the tail of ring `handle` is free for producers. */
static inline int tipc__writable(void *handle) {
  tipc_ring *r = (tipc_ring *)handle;
  uint64_t t = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_TAIL), memory_order_seq_cst);
  if (r->capacity < r->slots) {
    uint64_t h = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_HEAD), memory_order_seq_cst);
    if (h <= t && t - h >= r->capacity) return 0;
  }
  return atomic_load_explicit(tipc__seq(r, t), memory_order_seq_cst) == (uint32_t)t;
}

static inline int tipc__intact(tipc_ring *r) { return tipc__covers(r->fd, r->size, &r->broken); }

/* Sleeps on the doorbell until woken, the deadline passes, or `recheck_ms` elapses (the recovery
 * interval while a slot is stuck, else the side's idle recheck). `mask_off` selects the consumers'
 * or the producers' sleeper mask. Returns -EIO (nothing touched) when the segment was found
 * truncated on waking. */
static inline int tipc__sleep(tipc_ring *r, size_t mask_off, int (*ready)(void *), uint64_t deadline, int forever,
                              int recheck_ms) {
  tipc__sleeper me = {r->base, r->size, r->fd, r->bell, &r->broken, r->entry};
  return tipc__sleep_on(&me, mask_off, ready, r, deadline, forever, recheck_ms);
}

/** Sends up to n messages, waiting for room for at least one; returns the count sent or -errno. */
static inline int tipc_ring_send_many(tipc_ring *r, const void *msgs, uint32_t n, int timeout_ms) {
  if (r->broken) return -EIO;
  uint64_t deadline = tipc__deadline(timeout_ms);
  for (uint32_t spin = 0;; spin++) {
    uint32_t k = tipc_ring_try_send_many(r, msgs, n);
    if (k > 0 || n == 0) return (int)k;
    if (tipc__expired(timeout_ms, deadline)) return -EAGAIN;
    if (spin < TIPC_RING_SPIN) continue; /* brief bounded spinning before sleeping */
    int state = tipc__recover_consumer(r);
    if (state == TIPC__RECOVERED) continue;
    int recheck = state == TIPC__STUCK ? TIPC_RING_RECOVERY_MS : TIPC_RING_PRODUCER_RECHECK_MS;
    if (tipc__sleep(r, TIPC_RING_OFF_PRODUCERS_WAITING, tipc__writable, deadline, timeout_ms < 0, recheck) != 0)
      return -EIO;
  }
}

/** Receives up to max messages into out, waiting for at least one; returns the count or -errno. */
static inline int tipc_ring_recv_many(tipc_ring *r, void *out, uint32_t max, int timeout_ms) {
  if (r->broken) return -EIO;
  uint64_t deadline = tipc__deadline(timeout_ms);
  for (uint32_t spin = 0;; spin++) {
    uint32_t k = tipc_ring_try_recv_many(r, out, max);
    if (k > 0 || max == 0) return (int)k;
    if (tipc__expired(timeout_ms, deadline)) return -EAGAIN;
    if (spin < TIPC_RING_SPIN) continue;
    int state = tipc__recover_producer(r);
    if (state == TIPC__RECOVERED) continue;
    int recheck = state == TIPC__STUCK ? TIPC_RING_RECOVERY_MS : TIPC_RING_CONSUMER_RECHECK_MS;
    if (tipc__sleep(r, TIPC_RING_OFF_CONSUMERS_WAITING, tipc__readable, deadline, timeout_ms < 0, recheck) != 0)
      return -EIO;
  }
}

/** Sends one message; 0, or -errno (-EAGAIN: timed out). */
static inline int tipc_ring_send(tipc_ring *r, const void *msg, int timeout_ms) {
  int n = tipc_ring_send_many(r, msg, 1, timeout_ms);
  return n < 0 ? n : 0;
}

/** Receives one message; 0, or -errno (-EAGAIN: timed out). */
static inline int tipc_ring_recv(tipc_ring *r, void *msg, int timeout_ms) {
  int n = tipc_ring_recv_many(r, msg, 1, timeout_ms);
  return n < 0 ? n : 0;
}

/** Messages waiting (tail - head; claimed-but-unfinished slots included). */
static inline uint64_t tipc_ring_pending(tipc_ring *r) {
  uint64_t h = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_HEAD), memory_order_acquire);
  uint64_t t = atomic_load_explicit(TIPC__A64(r, TIPC_RING_OFF_TAIL), memory_order_acquire);
  return t > h ? t - h : 0;
}

/* ---- opening, creating, closing ------------------------------------------------------------ */

static inline uint32_t tipc__seq_offset(void) { return TIPC_RING_OFF_REGISTRY + TIPC_RING_HANDLES * TIPC_RING_ENTRY_SIZE; }

static inline uint32_t tipc__data_offset(uint32_t slots) {
  return (tipc__seq_offset() + 4u * slots + 63u) & ~63u;
}

/* Checks every layout field of a mapped header against the protocol, each other and the file size
 * (docs/ring-protocol.md, "Opening"); 0, or -EBADMSG with the field and its value in tipc__why. */
static inline int tipc__check_header(const uint8_t *base, size_t file_size) {
#define TIPC__U32(off) (*(const uint32_t *)(const void *)(base + (off)))
  uint32_t msg_size = TIPC__U32(TIPC_RING_OFF_MSG_SIZE), slots = TIPC__U32(TIPC_RING_OFF_SLOTS);
  uint32_t capacity = TIPC__U32(TIPC_RING_OFF_CAPACITY), handles = TIPC__U32(TIPC_RING_OFF_MAX_HANDLES);
  uint32_t seq_off = TIPC__U32(TIPC_RING_OFF_SEQ), data_off = TIPC__U32(TIPC_RING_OFF_DATA);
#undef TIPC__U32
  uint64_t total = *(const uint64_t *)(const void *)(base + TIPC_RING_OFF_TOTAL_SIZE);
  unsigned long long value = 0;
  const char *field =
      tipc__check_slots(msg_size, slots, capacity, TIPC_RING_MAX_MSG_SIZE, TIPC_RING_MAX_CAPACITY, &value);
  if (field != NULL) {
  } else if (handles != TIPC_RING_HANDLES) field = "max_handles", value = handles;
  else if (seq_off != tipc__seq_offset()) field = "seq_offset", value = seq_off;
  else if (data_off != tipc__data_offset(slots)) field = "data_offset", value = data_off;
  else field = tipc__check_extent(data_off, slots, msg_size, total, file_size, &value);
  return tipc__damaged(field, value, "ring", "ring-protocol.md");
}

/* Maps an open segment and checks it against msg_size and fingerprint (NULL or "" skips the check). */
static inline int tipc__attach(tipc_ring *r, int fd, const char *name, uint32_t msg_size, const char *fingerprint) {
  int rc = tipc__map(fd, tipc__seq_offset(), TIPC_RING_MAGIC, TIPC_RING_VERSION, "ring", &r->base, &r->size);
  if (rc != 0) return rc;
  r->msg_size = *(uint32_t *)(void *)(r->base + TIPC_RING_OFF_MSG_SIZE);
  r->slots = *(uint32_t *)(void *)(r->base + TIPC_RING_OFF_SLOTS);
  r->capacity = *(uint32_t *)(void *)(r->base + TIPC_RING_OFF_CAPACITY);
  r->seq_off = *(uint32_t *)(void *)(r->base + TIPC_RING_OFF_SEQ);
  r->data_off = *(uint32_t *)(void *)(r->base + TIPC_RING_OFF_DATA);
  r->ring_id = *(uint64_t *)(void *)(r->base + TIPC_RING_OFF_RING_ID);
  r->mask = r->slots - 1;
  /* On a damaged header the fields copied above are never used: the handle is dropped. */
  rc = tipc__check_header(r->base, r->size);
  if (rc == 0)
    rc = tipc__check_codec(r->msg_size, (const char *)r->base + TIPC_RING_OFF_FINGERPRINT, msg_size, fingerprint,
                           "ring");
  if (rc != 0) {
    munmap(r->base, r->size);
    r->base = NULL;
    return rc;
  }
  snprintf(r->name, sizeof r->name, "%s", name);
  return 0;
}

/* Checks that the doorbell directory is the one the ring's creator made: a directory (not a link) of
 * the segment's owner and group, granting nobody the segment does not grant. */
static inline int tipc__check_bells(tipc_ring *r, struct stat *seg) {
  char dir[64];
  struct stat st;
  tipc__bell_dir(dir, sizeof dir, r->ring_id);
  if (fstat(r->fd, seg) != 0) return -errno;
  if (lstat(dir, &st) != 0) {
    int rc = -errno;
    snprintf(tipc__why, sizeof tipc__why, "the ring's doorbell directory %s is missing: unlink and recreate the ring",
             dir);
    return rc;
  }
  mode_t allowed = tipc__bells_mode(seg->st_mode & 0777);
  if (!tipc__bell_dir_ok(seg, &st)) {
    snprintf(tipc__why, sizeof tipc__why,
             "%s is not the ring's own doorbell directory (uid %u gid %u mode %03o; expected a directory of %u:%u "
             "within %03o): remove it, or chmod it like the segment",
             dir, (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)(st.st_mode & 0777), (unsigned)seg->st_uid,
             (unsigned)seg->st_gid, (unsigned)allowed);
    return -EPERM;
  }
  return 0;
}

/* The claim of tipc__register, under its lock: a free entry, or one a dead process left. */
static inline int tipc__claim(void *handle, mode_t sock_mode) {
  tipc_ring *r = (tipc_ring *)handle;
  int self = (int)getpid();
  uint64_t start = tipc__start_time(self);
  for (uint32_t e = 0; e < TIPC_RING_HANDLES; e++) {
    struct sockaddr_un addr;
    int taken = tipc__take_entry(r->base, TIPC__ENTRY(r, e, 0), self, r->bell, r->ring_id, e, sock_mode, &addr);
    if (taken == 0) continue;
    if (taken < 0) {
      snprintf(tipc__why, sizeof tipc__why, "cannot create the doorbell %s: %s (it is granted like the segment)",
               addr.sun_path, strerror(-taken));
      close(r->bell);
      r->bell = -1;
      return taken;
    }
    /* The dead owner's intents stay until cleared; the start time is written last (see docs). */
    atomic_store_explicit(TIPC__A32(r, TIPC__ENTRY(r, e, TIPC_RING_E_PROD_COUNT)), 0, memory_order_release);
    atomic_store_explicit(TIPC__A32(r, TIPC__ENTRY(r, e, TIPC_RING_E_CONS_COUNT)), 0, memory_order_release);
    atomic_store_explicit(TIPC__A64(r, TIPC__ENTRY(r, e, TIPC_RING_E_START_TIME)), start, memory_order_seq_cst);
    r->entry = e;
    return 0;
  }
  close(r->bell);
  r->bell = -1;
  return -EUSERS;
}

/* Takes a registry entry and binds its doorbell (tipc__claim_locked holds the registry lock). */
static inline int tipc__register(tipc_ring *r) {
  struct stat seg;
  int rc = tipc__check_bells(r, &seg);
  if (rc != 0) {
    r->bell = -1;
    return rc;
  }
  return tipc__claim_locked(r->fd, &r->bell, tipc__claim, r, tipc__bells_mode(seg.st_mode & 0777) & 0666);
}

/* Whether no live process holds a handle on the mapped ring. */
static inline int tipc__unused(const uint8_t *base) {
  for (uint32_t e = 0; e < TIPC_RING_HANDLES; e++) {
    const uint8_t *entry = base + TIPC_RING_OFF_REGISTRY + (size_t)e * TIPC_RING_ENTRY_SIZE;
    int pid = (int)atomic_load_explicit((_Atomic uint32_t *)(void *)(entry + TIPC_RING_E_PID), memory_order_acquire);
    uint64_t st = atomic_load_explicit((_Atomic uint64_t *)(void *)(entry + TIPC_RING_E_START_TIME), memory_order_acquire);
    if (pid != 0 && tipc__alive(pid, st)) return 0;
  }
  return 1;
}

/* Builds a fully initialised segment under a temporary name in /dev/shm; returns its fd. */
static inline int tipc__build(char *tmp, size_t tmp_len, uint32_t msg_size, uint32_t capacity, mode_t mode,
                              const char *fingerprint, uint64_t *ring_id) {
  uint32_t slots = tipc__slots_for(capacity);
  uint32_t data_off = tipc__data_offset(slots);
  size_t size = (size_t)data_off + (size_t)slots * msg_size;
  uint8_t *base = NULL;
  int fd = tipc__build_begin(tmp, tmp_len, ".tipc-ring", mode, size, &base);
  if (fd < 0) return fd;
  /* ftruncate zero-fills: counters, masks, registry and stats start at 0. */
  *(uint32_t *)(void *)(base + TIPC_RING_OFF_VERSION) = TIPC_RING_VERSION;
  *(uint32_t *)(void *)(base + TIPC_RING_OFF_MSG_SIZE) = msg_size;
  *(uint32_t *)(void *)(base + TIPC_RING_OFF_SLOTS) = slots;
  *(uint32_t *)(void *)(base + TIPC_RING_OFF_CAPACITY) = capacity;
  *(int32_t *)(void *)(base + TIPC_RING_OFF_CREATOR_PID) = (int32_t)getpid();
  *(uint32_t *)(void *)(base + TIPC_RING_OFF_MAX_HANDLES) = TIPC_RING_HANDLES;
  *ring_id = tipc__random64();
  *(uint64_t *)(void *)(base + TIPC_RING_OFF_RING_ID) = *ring_id;
  *(uint32_t *)(void *)(base + TIPC_RING_OFF_SEQ) = tipc__seq_offset();
  *(uint32_t *)(void *)(base + TIPC_RING_OFF_DATA) = data_off;
  *(uint64_t *)(void *)(base + TIPC_RING_OFF_TOTAL_SIZE) = size;
  if (fingerprint != NULL)
    memcpy(base + TIPC_RING_OFF_FINGERPRINT, fingerprint, strnlen(fingerprint, TIPC_RING_FINGERPRINT_MAX - 1));
  uint32_t *seq = (uint32_t *)(void *)(base + tipc__seq_offset());
  for (uint32_t i = 0; i < slots; i++) seq[i] = i;
  return tipc__build_end(tmp, fd, base, size, mode, *ring_id, TIPC_RING_MAGIC);
}

/* Removes temporary segments (/dev/shm/.tipc-ring.<pid>.<random>) whose creator died before
 * publishing them; they were never visible under a ring's name. */
static inline void tipc__sweep_temporaries(void) {
  DIR *dir = opendir("/dev/shm");
  if (dir == NULL) return;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    int pid = 0;
    if (strncmp(entry->d_name, ".tipc-ring.", 11) != 0 || sscanf(entry->d_name + 11, "%d.", &pid) != 1) continue;
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
      char path[300];
      snprintf(path, sizeof path, "/dev/shm/%s", entry->d_name);
      unlink(path);
    }
  }
  closedir(dir);
}

/** Opens an existing ring whose messages are msg_size bytes and whose fingerprint (if both sides
 * have one) equals `fingerprint`. -ENOENT: no such ring; -EINVAL: size or fingerprint differ;
 * -EPROTO: not a typed-ipc ring (or another protocol version); -EBADMSG: a ring whose header fields
 * disagree with each other or with the file's size (tipc_ring_last_error() names the field);
 * -EUSERS: 64 handles already open. */
static inline int tipc_ring_open_fp(tipc_ring **out, const char *name, uint32_t msg_size, const char *fingerprint) {
  if (!tipc__valid_name(name) || msg_size == 0) return -EINVAL;
  tipc__why[0] = '\0';
  tipc_ring *r = (tipc_ring *)calloc(1, sizeof *r);
  if (r == NULL) return -ENOMEM;
  int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
  int rc = fd < 0 ? -errno : tipc__attach(r, fd, name, msg_size, fingerprint);
  r->fd = fd;
  if (rc == 0) rc = tipc__register(r);
  if (rc != 0) {
    if (r->base != NULL) munmap(r->base, r->size);
    if (fd >= 0) close(fd);
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

/** Opens an existing ring (size checked, fingerprint not). */
static inline int tipc_ring_open(tipc_ring **out, const char *name, uint32_t msg_size) {
  return tipc_ring_open_fp(out, name, msg_size, NULL);
}

/** Creates a ring, or attaches to an existing compatible one (same msg_size and fingerprint).
 * An existing incompatible ring that no live process holds open is replaced (stale-segment
 * recovery); one in use gives -EEXIST. capacity: messages held before senders wait, 1..2^24. */
static inline int tipc_ring_create_fp(tipc_ring **out, const char *name, uint32_t msg_size, uint32_t capacity,
                                      mode_t mode, const char *fingerprint) {
  if (!tipc__valid_name(name) || msg_size == 0 || msg_size > TIPC_RING_MAX_MSG_SIZE || capacity < 1 ||
      capacity > TIPC_RING_MAX_CAPACITY)
    return -EINVAL;
  char path[300], tmp[300];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  for (int attempt = 0; attempt < TIPC_RING_OPEN_ATTEMPTS; attempt++) {
    int rc = tipc_ring_open_fp(out, name, msg_size, fingerprint);
    if (rc != -ENOENT && rc != -EINVAL && rc != -EPROTO) return rc;
    if (rc == -ENOENT) {
      if (attempt == 0) tipc__sweep_temporaries();
      uint64_t id;
      int fd = tipc__build(tmp, sizeof tmp, msg_size, capacity, mode, fingerprint, &id);
      if (fd < 0) return fd;
      /* link() publishes the finished segment atomically and fails if the name was taken. */
      int linked = tipc__publish(tmp, path, fd, id);
      if (linked != 0 && linked != -EEXIST) return linked;
      continue;
    }
    if (rc == -EPROTO) return rc; /* not ours: never replaced automatically */
    /* Incompatible: replace it only when nobody uses it, under an exclusive lock on it. */
    int old = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (old < 0) continue;
    struct stat before, now;
    int replaced = -EEXIST;
    if (flock(old, LOCK_EX | LOCK_NB) == 0 && fstat(old, &before) == 0 && stat(path, &now) == 0 &&
        before.st_ino == now.st_ino) {
      void *m = mmap(NULL, (size_t)before.st_size, PROT_READ, MAP_SHARED, old, 0);
      if (m != MAP_FAILED) {
        int unused = (size_t)before.st_size >= tipc__seq_offset() && tipc__unused((const uint8_t *)m);
        uint64_t old_id = unused ? *(const uint64_t *)(const void *)((const uint8_t *)m + TIPC_RING_OFF_RING_ID) : 0;
        munmap(m, (size_t)before.st_size);
        if (unused) {
          uint64_t id;
          int fd = tipc__build(tmp, sizeof tmp, msg_size, capacity, mode, fingerprint, &id);
          if (fd < 0) {
            close(old);
            return fd;
          }
          replaced = rename(tmp, path) == 0 ? 0 : -errno;
          if (replaced != 0) unlink(tmp);
          tipc__remove_bells(replaced == 0 ? old_id : id, NULL);
          close(fd);
        }
      }
    } else {
      replaced = -EAGAIN; /* someone else is replacing it, or it changed: look again */
    }
    close(old);
    if (replaced == -EEXIST) return -EEXIST;
    if (replaced != 0 && replaced != -EAGAIN) return replaced;
    if (replaced == -EAGAIN) {
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
  }
  return -EBUSY;
}

/** Creates a ring (mode e.g. 0600), or attaches to a compatible existing one. */
static inline int tipc_ring_create(tipc_ring **out, const char *name, uint32_t msg_size, uint32_t capacity,
                                   mode_t mode) {
  return tipc_ring_create_fp(out, name, msg_size, capacity, mode, NULL);
}

/** Releases the handle's registry entry, doorbell and mapping. */
static inline void tipc_ring_close(tipc_ring *r) {
  if (r == NULL) return;
  struct sockaddr_un addr;
  socklen_t len;
  tipc__bell_address(&addr, &len, r->ring_id, r->entry);
  /* The doorbell file goes before the entry is freed (afterwards it may be the next owner's); the
   * last handle of an unlinked ring removes the directory. */
  (void)unlink(addr.sun_path);
  int intact = tipc__intact(r);
  tipc__leave_bells(r->fd, intact, r->ring_id, r->base + TIPC_RING_OFF_REGISTRY, TIPC_RING_HANDLES);
  if (!intact) { /* truncated: the registry entry is gone with the pages; touch nothing */
    tipc__release(r->bell, r->base, r->size, r->fd);
    free(r);
    return;
  }
  uint32_t bit = 1u << (r->entry % 32);
  atomic_fetch_and(TIPC__A32(r, TIPC_RING_OFF_CONSUMERS_WAITING + 4 * (r->entry / 32)), ~bit);
  atomic_fetch_and(TIPC__A32(r, TIPC_RING_OFF_PRODUCERS_WAITING + 4 * (r->entry / 32)), ~bit);
  atomic_store(TIPC__A32(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_PROD_COUNT)), 0);
  atomic_store(TIPC__A32(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_CONS_COUNT)), 0);
  atomic_store(TIPC__A32(r, TIPC__ENTRY(r, r->entry, TIPC_RING_E_PID)), 0);
  tipc__release(r->bell, r->base, r->size, r->fd);
  free(r);
}

/** Removes the ring's name; open handles keep working until closed. */
static inline int tipc_ring_unlink(const char *name) {
  if (!tipc__valid_name(name)) return -EINVAL;
  /* The header is read (not mapped): the ring id names the doorbells; the registry says which are live. */
  uint8_t header[TIPC_RING_OFF_REGISTRY + TIPC_RING_HANDLES * TIPC_RING_ENTRY_SIZE];
  int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
  int ours = tipc__read_header(fd, header, sizeof header, TIPC_RING_MAGIC, TIPC_RING_VERSION);
  if (fd >= 0) close(fd);
  if (shm_unlink(name) != 0) return -errno;
  /* Sockets of live handles stay: they keep working until closed, and the last to close removes the directory. */
  if (ours) tipc__remove_bells(*(uint64_t *)(void *)(header + TIPC_RING_OFF_RING_ID), header);
  return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* TYPED_IPC_RING_H */
