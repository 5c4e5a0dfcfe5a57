/*
 * typed_ipc_pubsub.h — header-only C11 implementation of the typed-ipc shared-memory publish/subscribe
 * protocol (typed-ipc `open('shm+pubsub:/name', codec, { access })`).
 *
 * A pub/sub segment (/dev/shm/<name>) holds a lap of fixed-size message slots, one tail that publishers
 * claim, and a table of subscribers, each with its own cursor: every subscriber sees every message, in
 * order per publisher. The policy chosen at creation decides what happens when a subscriber falls
 * behind: TIPC_PS_BLOCK (publishers wait for the slowest live subscriber; nothing is lost) or
 * TIPC_PS_OVERWRITE (publishers never wait; the subscriber is told exactly how many it missed). The
 * layout and the protocol are specified in docs/pubsub.md; this file is a reference implementation of
 * that document, beside src/channels/pubsub/ in Node.
 *
 * It includes typed_ipc_ring.h for what both protocols share: process liveness (pid and start time),
 * the doorbell directory and sockets, names. Build: cc -std=c11 with _GNU_SOURCE or
 * _POSIX_C_SOURCE >= 200809L (or include this header first); -lrt on glibc < 2.34.
 *
 * A handle is a publisher or a subscriber, used by one thread at a time. Return values: 0 (or a count)
 * on success, -errno on failure; -EAGAIN: timed out / would block; -EIO: the segment was truncated
 * under the handle (only tipc_ps_close is left to do); -EUSERS: the subscriber (or publisher) table is
 * full. timeout_ms: 0 never waits, -1 waits forever. tipc_ring_last_error() says more about a failed open.
 */
#ifndef TYPED_IPC_PUBSUB_H
#define TYPED_IPC_PUBSUB_H

#include "typed_ipc_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Layout (docs/pubsub.md, "Memory layout"). All fields little-endian. ----------------------- */
#define TIPC_PS_MAGIC 0x5342555043504954ULL /* the bytes "TIPCPUBS" */
#define TIPC_PS_VERSION 1u
#define TIPC_PS_BLOCK 0u
#define TIPC_PS_OVERWRITE 1u
#define TIPC_PS_OFF_MAGIC 0
#define TIPC_PS_OFF_VERSION 8
#define TIPC_PS_OFF_POLICY 12
#define TIPC_PS_OFF_MSG_SIZE 16
#define TIPC_PS_OFF_SLOTS 20
#define TIPC_PS_OFF_CREATOR_PID 24
#define TIPC_PS_OFF_CAPACITY 28
#define TIPC_PS_OFF_BELL_ID 32
#define TIPC_PS_OFF_SUBSCRIBERS 40
#define TIPC_PS_OFF_PUBLISHERS 44
#define TIPC_PS_OFF_MASK_WORDS 48
#define TIPC_PS_OFF_REGISTRY_OFFSET 52
#define TIPC_PS_OFF_SEQ 56
#define TIPC_PS_OFF_DATA 60
#define TIPC_PS_OFF_TOTAL_SIZE 64
#define TIPC_PS_OFF_FINGERPRINT 128
#define TIPC_PS_FINGERPRINT_MAX 64
#define TIPC_PS_OFF_TAIL 192
#define TIPC_PS_OFF_SUB_SLEEPERS 256
#define TIPC_PS_OFF_PUB_SLEEPERS 448
#define TIPC_PS_OFF_RECOVERED 640
#define TIPC_PS_OFF_RETIRED 648
#define TIPC_PS_REGISTRY_OFFSET 1024
#define TIPC_PS_ENTRY_SIZE 64
#define TIPC_PS_E_PID 0
#define TIPC_PS_E_ACTIVE 4
#define TIPC_PS_E_START_TIME 8
#define TIPC_PS_E_POS 16   /* subscriber: cursor; publisher: claim_pos */
#define TIPC_PS_E_COUNT 24 /* publisher: claim_count */
#define TIPC_PS_MAX_SUBSCRIBERS 1024
#define TIPC_PS_MAX_PUBLISHERS 64
#define TIPC_PS_MAX_MASK_WORDS ((TIPC_PS_MAX_SUBSCRIBERS + TIPC_PS_MAX_PUBLISHERS) / 32)
#define TIPC_PS_MAX_SLOTS (1u << 24)
#define TIPC_PS_MAX_MSG_SIZE (1u << 20)
/* Slot words: (uint32_t)(position << 2) | state. */
#define TIPC_PS_WRITING 0u
#define TIPC_PS_PUBLISHED 1u
#define TIPC_PS_SKIPPED 2u
/* Timing (docs/pubsub.md, "Waiting"), the ring's numbers. */
#define TIPC_PS_SPIN 256
#define TIPC_PS_RECOVERY_MS 10
#define TIPC_PS_IDLE_RECHECK_MS 1000
#define TIPC_PS_OPEN_ATTEMPTS 100
/* Roles of a handle. */
#define TIPC_PS_SUBSCRIBER 0
#define TIPC_PS_PUBLISHER 1

/** The header as a struct (offsets checked below and against src/channels/pubsub/layout.ts). */
typedef struct tipc_ps_header {
  uint64_t magic;
  uint32_t version;
  uint32_t policy;
  uint32_t msg_size;
  uint32_t slots;
  int32_t creator_pid;
  uint32_t capacity;
  uint64_t bell_id;
  uint32_t subscribers;
  uint32_t publishers;
  uint32_t mask_words;
  uint32_t registry_offset;
  uint32_t seq_offset;
  uint32_t data_offset;
  uint64_t total_size;
  _Alignas(64) char fingerprint[TIPC_PS_FINGERPRINT_MAX];
  _Alignas(64) uint64_t tail;
  _Alignas(64) uint32_t sub_sleepers[TIPC_PS_MAX_MASK_WORDS];
  _Alignas(64) uint32_t pub_sleepers[TIPC_PS_MAX_MASK_WORDS];
  _Alignas(64) uint64_t recovered;
  uint64_t retired;
} tipc_ps_header;

/** One registry entry: subscribers from TIPC_PS_REGISTRY_OFFSET, then publishers. */
typedef struct tipc_ps_entry {
  uint32_t pid;
  uint32_t active; /* subscriber: its owner's pid while its cursor holds publishers back, else 0 */
  uint64_t start_time;
  uint64_t pos; /* subscriber: cursor (next position to read); publisher: first position of its claim */
  uint32_t count; /* publisher: positions claimed from pos (0: none) */
  uint32_t reserved_28[9];
} tipc_ps_entry;

#define TIPC__PS_CHECK(type, field, off) _Static_assert(offsetof(type, field) == (off), #field " offset")
TIPC__PS_CHECK(tipc_ps_header, magic, TIPC_PS_OFF_MAGIC);
TIPC__PS_CHECK(tipc_ps_header, version, TIPC_PS_OFF_VERSION);
TIPC__PS_CHECK(tipc_ps_header, policy, TIPC_PS_OFF_POLICY);
TIPC__PS_CHECK(tipc_ps_header, msg_size, TIPC_PS_OFF_MSG_SIZE);
TIPC__PS_CHECK(tipc_ps_header, slots, TIPC_PS_OFF_SLOTS);
TIPC__PS_CHECK(tipc_ps_header, creator_pid, TIPC_PS_OFF_CREATOR_PID);
TIPC__PS_CHECK(tipc_ps_header, capacity, TIPC_PS_OFF_CAPACITY);
TIPC__PS_CHECK(tipc_ps_header, bell_id, TIPC_PS_OFF_BELL_ID);
TIPC__PS_CHECK(tipc_ps_header, subscribers, TIPC_PS_OFF_SUBSCRIBERS);
TIPC__PS_CHECK(tipc_ps_header, publishers, TIPC_PS_OFF_PUBLISHERS);
TIPC__PS_CHECK(tipc_ps_header, mask_words, TIPC_PS_OFF_MASK_WORDS);
TIPC__PS_CHECK(tipc_ps_header, registry_offset, TIPC_PS_OFF_REGISTRY_OFFSET);
TIPC__PS_CHECK(tipc_ps_header, seq_offset, TIPC_PS_OFF_SEQ);
TIPC__PS_CHECK(tipc_ps_header, data_offset, TIPC_PS_OFF_DATA);
TIPC__PS_CHECK(tipc_ps_header, total_size, TIPC_PS_OFF_TOTAL_SIZE);
TIPC__PS_CHECK(tipc_ps_header, fingerprint, TIPC_PS_OFF_FINGERPRINT);
TIPC__PS_CHECK(tipc_ps_header, tail, TIPC_PS_OFF_TAIL);
TIPC__PS_CHECK(tipc_ps_header, sub_sleepers, TIPC_PS_OFF_SUB_SLEEPERS);
TIPC__PS_CHECK(tipc_ps_header, pub_sleepers, TIPC_PS_OFF_PUB_SLEEPERS);
TIPC__PS_CHECK(tipc_ps_header, recovered, TIPC_PS_OFF_RECOVERED);
TIPC__PS_CHECK(tipc_ps_header, retired, TIPC_PS_OFF_RETIRED);
TIPC__PS_CHECK(tipc_ps_entry, pid, TIPC_PS_E_PID);
TIPC__PS_CHECK(tipc_ps_entry, active, TIPC_PS_E_ACTIVE);
TIPC__PS_CHECK(tipc_ps_entry, start_time, TIPC_PS_E_START_TIME);
TIPC__PS_CHECK(tipc_ps_entry, pos, TIPC_PS_E_POS);
TIPC__PS_CHECK(tipc_ps_entry, count, TIPC_PS_E_COUNT);
_Static_assert(sizeof(tipc_ps_header) <= TIPC_PS_REGISTRY_OFFSET, "the header ends before the registry");
_Static_assert(sizeof(tipc_ps_entry) == TIPC_PS_ENTRY_SIZE, "registry entry size");
/* What typed_ipc_ring.h's shared helpers take for granted of both protocols. */
_Static_assert(TIPC_PS_E_PID == TIPC_RING_E_PID && TIPC_PS_E_START_TIME == TIPC_RING_E_START_TIME &&
                   TIPC_PS_ENTRY_SIZE == TIPC_RING_ENTRY_SIZE,
               "registry entries begin like the ring's");
_Static_assert(TIPC_PS_OFF_MAGIC == 0 && TIPC_PS_OFF_VERSION == 8 && TIPC_PS_FINGERPRINT_MAX == TIPC_RING_FINGERPRINT_MAX,
               "headers begin like the ring's");
#undef TIPC__PS_CHECK

/** What a created segment is like (tipc_ps_create); zeroes take the defaults. */
typedef struct tipc_ps_options {
  uint32_t capacity;    /* slots rounded up to a power of two; block: how far publishers run ahead (default 1024) */
  uint32_t policy;      /* TIPC_PS_BLOCK (default) or TIPC_PS_OVERWRITE */
  uint32_t subscribers; /* entries of the subscriber table, 1..1024 (default 16) */
  uint32_t publishers;  /* entries of the publisher table, 1..64 (default 8) */
  mode_t mode;          /* default 0600 */
  const char *fingerprint;
} tipc_ps_options;

/** An open handle: a publisher or a subscriber. */
typedef struct tipc_ps {
  uint8_t *base;
  size_t size;
  uint32_t msg_size, slots, mask, capacity, policy;
  uint32_t subscribers, publishers, mask_words;
  uint32_t seq_off, data_off;
  int role;
  uint32_t entry; /* in its table */
  uint32_t bell_number; /* subscribers: entry; publishers: subscribers + entry */
  size_t entry_off;
  int bell, fd, broken;
  uint64_t bell_id;
  /* subscriber */
  uint64_t cursor, join_tail, missed, pending_missed, skipped;
  /* publisher: claims allowed while (int32_t)(position - limit) < 0 */
  uint32_t limit;
  uint64_t next_recovery;
} tipc_ps;

#define TIPC__PS32(h, off) ((_Atomic uint32_t *)(void *)((h)->base + (off)))
#define TIPC__PS64(h, off) ((_Atomic uint64_t *)(void *)((h)->base + (off)))

static inline uint32_t tipc__ps_word(uint64_t position, uint32_t state) { return ((uint32_t)position << 2) | state; }

static inline _Atomic uint32_t *tipc__ps_seq(const tipc_ps *h, uint64_t position) {
  return (_Atomic uint32_t *)(void *)(h->base + h->seq_off) + (position & h->mask);
}

static inline uint8_t *tipc__ps_slot(const tipc_ps *h, uint64_t position) {
  return h->base + h->data_off + (size_t)(position & h->mask) * h->msg_size;
}

static inline size_t tipc__ps_sub_entry(uint32_t e) { return TIPC_PS_REGISTRY_OFFSET + (size_t)e * TIPC_PS_ENTRY_SIZE; }

static inline size_t tipc__ps_pub_entry(const tipc_ps *h, uint32_t e) {
  return TIPC_PS_REGISTRY_OFFSET + ((size_t)h->subscribers + e) * TIPC_PS_ENTRY_SIZE;
}

static inline uint32_t tipc__ps_seq_offset(uint32_t subscribers, uint32_t publishers) {
  return TIPC_PS_REGISTRY_OFFSET + (subscribers + publishers) * TIPC_PS_ENTRY_SIZE;
}

static inline uint32_t tipc__ps_data_offset(uint32_t subscribers, uint32_t publishers, uint32_t slots) {
  return (tipc__ps_seq_offset(subscribers, publishers) + 4u * slots + 63u) & ~63u;
}

/* Rings every doorbell registered in the mask at `off`, clearing the bits. */
static inline void tipc__ps_wake(tipc_ps *h, size_t off) {
  tipc__ring_mask(h->bell, h->base, off, h->mask_words, h->bell_id);
}

static inline uint64_t tipc__ps_tail(const tipc_ps *h) {
  return atomic_load_explicit(TIPC__PS64(h, TIPC_PS_OFF_TAIL), memory_order_seq_cst);
}

/* Whether a slot word is the done state (published or skipped) of `position`. */
static inline int tipc__ps_done(uint32_t s, uint64_t position) {
  return s == tipc__ps_word(position, TIPC_PS_PUBLISHED) || s == tipc__ps_word(position, TIPC_PS_SKIPPED);
}

/* ---- publishing ----------------------------------------------------------------------------- */

/* Block policy: positions from tail_lo the slowest active subscriber allows; cached in h->limit. */
static inline int32_t tipc__ps_refresh_limit(tipc_ps *h, uint32_t tail_lo) {
  int32_t behind = 0;
  for (uint32_t e = 0; e < h->subscribers; e++) {
    size_t base = tipc__ps_sub_entry(e);
    if (atomic_load_explicit(TIPC__PS32(h, base + TIPC_PS_E_ACTIVE), memory_order_seq_cst) == 0) continue;
    /* The low half of the cursor: an active subscriber is never 2^31 behind in block mode. */
    uint32_t cursor_lo = atomic_load_explicit(TIPC__PS32(h, base + TIPC_PS_E_POS), memory_order_seq_cst);
    int32_t d = (int32_t)(tail_lo - cursor_lo);
    if (d > behind) behind = d;
  }
  int32_t left = (int32_t)h->capacity - behind;
  h->limit = tail_lo + (uint32_t)left;
  return left;
}

/** Publishes up to n messages without waiting; returns how many (0: no room now). */
static inline uint32_t tipc_ps_try_publish_many(tipc_ps *h, const void *msgs, uint32_t n) {
  _Atomic uint64_t *tail = TIPC__PS64(h, TIPC_PS_OFF_TAIL);
  _Atomic uint64_t *ipos = TIPC__PS64(h, h->entry_off + TIPC_PS_E_POS);
  _Atomic uint32_t *icount = TIPC__PS32(h, h->entry_off + TIPC_PS_E_COUNT);
  for (;;) {
    uint64_t t = atomic_load_explicit(tail, memory_order_acquire);
    uint32_t room = n;
    if (h->policy == TIPC_PS_BLOCK) {
      int32_t left = (int32_t)(h->limit - (uint32_t)t);
      if (left < (int32_t)n) left = tipc__ps_refresh_limit(h, (uint32_t)t);
      room = left <= 0 ? 0 : (uint32_t)left < n ? (uint32_t)left : n;
    }
    uint32_t k = 0;
    while (k < room && tipc__ps_done(atomic_load_explicit(tipc__ps_seq(h, t + k), memory_order_acquire),
                                     t + k - h->slots))
      k++;
    if (k == 0) return 0;
    atomic_store_explicit(ipos, t, memory_order_relaxed);
    atomic_store_explicit(icount, k, memory_order_seq_cst);
    if (!atomic_compare_exchange_weak_explicit(tail, &t, t + k, memory_order_seq_cst, memory_order_relaxed)) continue;
    /* Seqlock: the writing marks before the data, the data before the published words. */
    for (uint32_t j = 0; j < k; j++)
      atomic_store_explicit(tipc__ps_seq(h, t + j), tipc__ps_word(t + j, TIPC_PS_WRITING), memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    const uint8_t *src = (const uint8_t *)msgs;
    for (uint32_t j = 0; j < k; j++) memcpy(tipc__ps_slot(h, t + j), src + (size_t)j * h->msg_size, h->msg_size);
    for (uint32_t j = 1; j < k; j++)
      atomic_store_explicit(tipc__ps_seq(h, t + j), tipc__ps_word(t + j, TIPC_PS_PUBLISHED), memory_order_release);
    atomic_store_explicit(tipc__ps_seq(h, t), tipc__ps_word(t, TIPC_PS_PUBLISHED), memory_order_seq_cst);
    tipc__ps_wake(h, TIPC_PS_OFF_SUB_SLEEPERS);
    tipc__ps_wake(h, TIPC_PS_OFF_PUB_SLEEPERS);
    return k;
  }
}

#define TIPC__PS_IDLE 0
#define TIPC__PS_RECOVERED 1
#define TIPC__PS_STUCK 2

/* Position `position` was claimed and not published (its word is `seen`): a skip if no live intent covers it. */
static inline int tipc__ps_recover_claim(tipc_ps *h, uint64_t position, uint32_t seen) {
  for (uint32_t e = 0; e < h->publishers; e++) {
    size_t base = tipc__ps_pub_entry(h, e);
    int pid = (int)atomic_load_explicit(TIPC__PS32(h, base + TIPC_PS_E_PID), memory_order_seq_cst);
    uint32_t count = atomic_load_explicit(TIPC__PS32(h, base + TIPC_PS_E_COUNT), memory_order_seq_cst);
    if (pid == 0 || count == 0) continue;
    uint64_t from = atomic_load_explicit(TIPC__PS64(h, base + TIPC_PS_E_POS), memory_order_seq_cst);
    if (position < from || position - from >= count) continue;
    if (tipc__alive(pid, atomic_load_explicit(TIPC__PS64(h, base + TIPC_PS_E_START_TIME), memory_order_seq_cst)))
      return TIPC__PS_STUCK;
  }
  if (!atomic_compare_exchange_strong_explicit(tipc__ps_seq(h, position), &seen,
                                               tipc__ps_word(position, TIPC_PS_SKIPPED), memory_order_seq_cst,
                                               memory_order_relaxed))
    return TIPC__PS_RECOVERED;
  atomic_fetch_add_explicit(TIPC__PS64(h, TIPC_PS_OFF_RECOVERED), 1, memory_order_relaxed);
  tipc__ps_wake(h, TIPC_PS_OFF_SUB_SLEEPERS);
  tipc__ps_wake(h, TIPC_PS_OFF_PUB_SLEEPERS);
  return TIPC__PS_RECOVERED;
}

/* A publisher that cannot claim: a dead publisher's claim a lap back (made a skip), or in block mode
 * dead subscribers holding the tail back (retired). Checked at most every TIPC_PS_RECOVERY_MS. */
static inline int tipc__ps_recover_room(tipc_ps *h) {
  uint64_t t = tipc__ps_tail(h);
  uint64_t before = t - h->slots;
  uint32_t s = atomic_load_explicit(tipc__ps_seq(h, t), memory_order_seq_cst);
  int previous_done = tipc__ps_done(s, before);
  int held = !previous_done;
  if (previous_done && h->policy == TIPC_PS_BLOCK) held = tipc__ps_refresh_limit(h, (uint32_t)t) <= 0;
  if (!held) return TIPC__PS_IDLE;
  uint64_t now = tipc__now_ms();
  if (now < h->next_recovery) return TIPC__PS_STUCK;
  h->next_recovery = now + TIPC_PS_RECOVERY_MS;
  if (!previous_done) return t < h->slots ? TIPC__PS_STUCK : tipc__ps_recover_claim(h, before, s);
  int retired = 0;
  for (uint32_t e = 0; e < h->subscribers; e++) {
    size_t base = tipc__ps_sub_entry(e);
    _Atomic uint32_t *active = TIPC__PS32(h, base + TIPC_PS_E_ACTIVE);
    uint32_t owner = atomic_load_explicit(active, memory_order_seq_cst);
    if (owner == 0) continue;
    uint32_t cursor_lo = atomic_load_explicit(TIPC__PS32(h, base + TIPC_PS_E_POS), memory_order_seq_cst);
    if ((int32_t)((uint32_t)t - cursor_lo) < (int32_t)h->capacity) continue;
    uint64_t start = atomic_load_explicit(TIPC__PS64(h, base + TIPC_PS_E_START_TIME), memory_order_seq_cst);
    if (tipc__alive((int)owner, start)) continue;
    if (atomic_compare_exchange_strong_explicit(active, &owner, 0, memory_order_seq_cst, memory_order_relaxed)) {
      atomic_fetch_add_explicit(TIPC__PS64(h, TIPC_PS_OFF_RETIRED), 1, memory_order_relaxed);
      retired = 1;
    }
  }
  if (!retired) return TIPC__PS_STUCK;
  tipc__ps_wake(h, TIPC_PS_OFF_PUB_SLEEPERS);
  return TIPC__PS_RECOVERED;
}

/* Whether publisher `handle` may claim the tail. */
static inline int tipc__ps_writable(void *handle) {
  tipc_ps *h = (tipc_ps *)handle;
  uint64_t t = tipc__ps_tail(h);
  if (h->policy == TIPC_PS_BLOCK && tipc__ps_refresh_limit(h, (uint32_t)t) <= 0) return 0;
  return tipc__ps_done(atomic_load_explicit(tipc__ps_seq(h, t), memory_order_seq_cst), t - h->slots);
}

/* ---- subscribing ---------------------------------------------------------------------------- */

/* Overrun: jump to half a lap behind the tail, counting what is passed over (not what predates joining). */
static inline void tipc__ps_resync(tipc_ps *h) {
  uint64_t t = tipc__ps_tail(h);
  uint64_t target = t - (h->slots >> 1);
  if (t < (h->slots >> 1) || target < h->cursor) target = h->cursor;
  uint64_t from = h->cursor > h->join_tail ? h->cursor : h->join_tail;
  uint64_t lost = target > from ? target - from : 0;
  h->missed += lost;
  h->pending_missed += lost;
  h->cursor = target;
}

/* Whether the slot word `s` for the subscriber's `position` holds a later lap (this subscriber was overrun). */
static inline int tipc__ps_overrun(uint32_t s, uint64_t position) {
  uint32_t ahead = ((s >> 2) - ((uint32_t)position & 0x3fffffffu)) & 0x3fffffffu;
  return ahead != 0 && ahead < (1u << 29);
}

static inline void tipc__ps_store_cursor(tipc_ps *h) {
  if (h->policy != TIPC_PS_BLOCK) return;
  atomic_store_explicit(TIPC__PS64(h, h->entry_off + TIPC_PS_E_POS), h->cursor, memory_order_seq_cst);
  tipc__ps_wake(h, TIPC_PS_OFF_PUB_SLEEPERS);
}

/**
 * Receives up to max messages without waiting; returns how many. *missed (if not NULL) is set to how
 * many messages this subscriber missed right before the first one returned (overwrite policy); a
 * batch ends before a loss, so that count is exact for the batch.
 */
static inline uint32_t tipc_ps_try_receive_many(tipc_ps *h, void *out, uint32_t max, uint64_t *missed) {
  uint8_t *dst = (uint8_t *)out;
  uint32_t got = 0;
  uint64_t start = h->cursor;
  if (h->policy == TIPC_PS_OVERWRITE && tipc__ps_tail(h) - h->cursor > h->slots) tipc__ps_resync(h);
  while (got < max) {
    _Atomic uint32_t *word = tipc__ps_seq(h, h->cursor);
    uint32_t s = atomic_load_explicit(word, memory_order_acquire);
    if (s == tipc__ps_word(h->cursor, TIPC_PS_PUBLISHED)) {
      if (got > 0 && h->pending_missed > 0) break;
      memcpy(dst + (size_t)got * h->msg_size, tipc__ps_slot(h, h->cursor), h->msg_size);
      atomic_thread_fence(memory_order_acquire);
      if (atomic_load_explicit(word, memory_order_relaxed) != s) {
        tipc__ps_resync(h); /* overwritten while copied: not delivered */
        continue;
      }
      if (got == 0 && missed != NULL) *missed = h->pending_missed;
      if (got == 0) h->pending_missed = 0;
      got++;
      h->cursor++;
    } else if (s == tipc__ps_word(h->cursor, TIPC_PS_SKIPPED)) {
      h->skipped++;
      h->cursor++;
    } else if (tipc__ps_overrun(s, h->cursor)) {
      tipc__ps_resync(h);
    } else {
      break;
    }
  }
  if (h->cursor != start) tipc__ps_store_cursor(h);
  return got;
}

/* Whether subscriber `handle` has something at its cursor (a done position, or it was overrun). */
static inline int tipc__ps_readable(void *handle) {
  tipc_ps *h = (tipc_ps *)handle;
  uint32_t s = atomic_load_explicit(tipc__ps_seq(h, h->cursor), memory_order_seq_cst);
  return tipc__ps_done(s, h->cursor) || tipc__ps_overrun(s, h->cursor);
}

static inline int tipc__ps_recover_cursor(tipc_ps *h) {
  uint32_t s = atomic_load_explicit(tipc__ps_seq(h, h->cursor), memory_order_seq_cst);
  if (tipc__ps_done(s, h->cursor) || tipc__ps_tail(h) <= h->cursor) return TIPC__PS_IDLE;
  uint64_t now = tipc__now_ms();
  if (now < h->next_recovery) return TIPC__PS_STUCK;
  h->next_recovery = now + TIPC_PS_RECOVERY_MS;
  if (tipc__ps_overrun(s, h->cursor)) return TIPC__PS_RECOVERED;
  return tipc__ps_recover_claim(h, h->cursor, s);
}

/* ---- waiting -------------------------------------------------------------------------------- */

static inline int tipc__ps_intact(tipc_ps *h) { return tipc__covers(h->fd, h->size, &h->broken); }

/* Set the sleeper bit, look again, sleep on the doorbell (at most recheck_ms); -EIO if truncated. */
static inline int tipc__ps_sleep(tipc_ps *h, size_t mask_off, int (*ready)(void *), uint64_t deadline, int forever,
                                 int recheck_ms) {
  tipc__sleeper me = {h->base, h->size, h->fd, h->bell, &h->broken, h->bell_number};
  return tipc__sleep_on(&me, mask_off, ready, h, deadline, forever, recheck_ms);
}

/** Publishes up to n messages, waiting for room for at least one; the count sent, or -errno. */
static inline int tipc_ps_publish_many(tipc_ps *h, const void *msgs, uint32_t n, int timeout_ms) {
  if (h->broken) return -EIO;
  if (h->role != TIPC_PS_PUBLISHER) return -EPERM;
  uint64_t deadline = tipc__deadline(timeout_ms);
  for (uint32_t spin = 0;; spin++) {
    uint32_t k = tipc_ps_try_publish_many(h, msgs, n);
    if (k > 0 || n == 0) return (int)k;
    if (tipc__expired(timeout_ms, deadline)) return -EAGAIN;
    if (spin < TIPC_PS_SPIN) continue;
    int state = tipc__ps_recover_room(h);
    if (state == TIPC__PS_RECOVERED) continue;
    if (tipc__ps_sleep(h, TIPC_PS_OFF_PUB_SLEEPERS, tipc__ps_writable, deadline, timeout_ms < 0, TIPC_PS_RECOVERY_MS))
      return -EIO;
  }
}

/** Receives up to max messages, waiting for at least one; the count, or -errno (see try_receive_many for missed). */
static inline int tipc_ps_receive_many(tipc_ps *h, void *out, uint32_t max, uint64_t *missed, int timeout_ms) {
  if (h->broken) return -EIO;
  if (h->role != TIPC_PS_SUBSCRIBER) return -EPERM;
  uint64_t deadline = tipc__deadline(timeout_ms);
  for (uint32_t spin = 0;; spin++) {
    uint32_t k = tipc_ps_try_receive_many(h, out, max, missed);
    if (k > 0 || max == 0) return (int)k;
    if (tipc__expired(timeout_ms, deadline)) return -EAGAIN;
    if (spin < TIPC_PS_SPIN) continue;
    int state = tipc__ps_recover_cursor(h);
    if (state == TIPC__PS_RECOVERED) continue;
    int recheck = state == TIPC__PS_STUCK ? TIPC_PS_RECOVERY_MS : TIPC_PS_IDLE_RECHECK_MS;
    if (tipc__ps_sleep(h, TIPC_PS_OFF_SUB_SLEEPERS, tipc__ps_readable, deadline, timeout_ms < 0, recheck)) return -EIO;
  }
}

/** Publishes one message; 0, or -errno (-EAGAIN: timed out). */
static inline int tipc_ps_publish(tipc_ps *h, const void *msg, int timeout_ms) {
  int n = tipc_ps_publish_many(h, msg, 1, timeout_ms);
  return n < 0 ? n : 0;
}

/** Receives one message; 0, or -errno. *missed (if not NULL): messages missed right before it. */
static inline int tipc_ps_receive(tipc_ps *h, void *msg, uint64_t *missed, int timeout_ms) {
  int n = tipc_ps_receive_many(h, msg, 1, missed, timeout_ms);
  return n < 0 ? n : 0;
}

/** Messages this subscriber missed in all (overwrite policy). */
static inline uint64_t tipc_ps_missed(const tipc_ps *h) { return h->missed; }

/** Positions this subscriber passed that held no message (claims of dead publishers). */
static inline uint64_t tipc_ps_skipped(const tipc_ps *h) { return h->skipped; }

/** The next position this subscriber reads. */
static inline uint64_t tipc_ps_position(const tipc_ps *h) { return h->cursor; }

/* ---- opening, creating, closing ------------------------------------------------------------ */

/* Checks a mapped header (docs/pubsub.md, "Opening"); 0, or -EBADMSG naming the field in tipc__why. */
static inline int tipc__ps_check_header(const uint8_t *base, size_t file_size) {
#define TIPC__U32(off) (*(const uint32_t *)(const void *)(base + (off)))
  uint32_t policy = TIPC__U32(TIPC_PS_OFF_POLICY), msg_size = TIPC__U32(TIPC_PS_OFF_MSG_SIZE);
  uint32_t slots = TIPC__U32(TIPC_PS_OFF_SLOTS), capacity = TIPC__U32(TIPC_PS_OFF_CAPACITY);
  uint32_t subs = TIPC__U32(TIPC_PS_OFF_SUBSCRIBERS), pubs = TIPC__U32(TIPC_PS_OFF_PUBLISHERS);
  uint32_t words = TIPC__U32(TIPC_PS_OFF_MASK_WORDS), registry = TIPC__U32(TIPC_PS_OFF_REGISTRY_OFFSET);
  uint32_t seq_off = TIPC__U32(TIPC_PS_OFF_SEQ), data_off = TIPC__U32(TIPC_PS_OFF_DATA);
#undef TIPC__U32
  uint64_t total = *(const uint64_t *)(const void *)(base + TIPC_PS_OFF_TOTAL_SIZE);
  const char *field = NULL;
  unsigned long long value = 0;
  if (policy > TIPC_PS_OVERWRITE) field = "policy", value = policy;
  else if ((field = tipc__check_slots(msg_size, slots, capacity, TIPC_PS_MAX_MSG_SIZE, TIPC_PS_MAX_SLOTS, &value)))
    ;
  else if (subs < 1 || subs > TIPC_PS_MAX_SUBSCRIBERS) field = "subscribers", value = subs;
  else if (pubs < 1 || pubs > TIPC_PS_MAX_PUBLISHERS) field = "publishers", value = pubs;
  else if (words != (subs + pubs + 31) / 32) field = "mask_words", value = words;
  else if (registry != TIPC_PS_REGISTRY_OFFSET) field = "registry_offset", value = registry;
  else if (seq_off != tipc__ps_seq_offset(subs, pubs)) field = "seq_offset", value = seq_off;
  else if (data_off != tipc__ps_data_offset(subs, pubs, slots)) field = "data_offset", value = data_off;
  else field = tipc__check_extent(data_off, slots, msg_size, total, file_size, &value);
  return tipc__damaged(field, value, "pub/sub", "pubsub.md");
}

static inline int tipc__ps_attach(tipc_ps *h, int fd, uint32_t msg_size, const char *fingerprint) {
  int rc =
      tipc__map(fd, TIPC_PS_REGISTRY_OFFSET, TIPC_PS_MAGIC, TIPC_PS_VERSION, "pub/sub segment", &h->base, &h->size);
  if (rc != 0) return rc;
  if ((rc = tipc__ps_check_header(h->base, h->size)) == 0) {
    /* Only checked values are copied into the handle; the mapping is indexed with these. */
    h->policy = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_POLICY);
    h->msg_size = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_MSG_SIZE);
    h->slots = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_SLOTS);
    h->mask = h->slots - 1;
    h->capacity = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_CAPACITY);
    h->subscribers = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_SUBSCRIBERS);
    h->publishers = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_PUBLISHERS);
    h->mask_words = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_MASK_WORDS);
    h->seq_off = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_SEQ);
    h->data_off = *(uint32_t *)(void *)(h->base + TIPC_PS_OFF_DATA);
    h->bell_id = *(uint64_t *)(void *)(h->base + TIPC_PS_OFF_BELL_ID);
    const char *theirs = (const char *)h->base + TIPC_PS_OFF_FINGERPRINT;
    rc = tipc__check_codec(h->msg_size, theirs, msg_size, fingerprint, "segment");
  }
  if (rc != 0) {
    munmap(h->base, h->size);
    h->base = NULL;
  }
  return rc;
}

/* What the claim of tipc__ps_register needs besides the handle. */
typedef struct tipc__ps_joining {
  tipc_ps *h;
  uint32_t history;
} tipc__ps_joining;

/* The claim of tipc__ps_register, under its lock: a free entry of its table, or one a dead process left. */
static inline int tipc__ps_claim(void *joining, mode_t sock_mode) {
  tipc_ps *h = ((tipc__ps_joining *)joining)->h;
  uint32_t history = ((tipc__ps_joining *)joining)->history;
  int self = (int)getpid();
  uint64_t start = tipc__start_time(self);
  uint32_t count = h->role == TIPC_PS_PUBLISHER ? h->publishers : h->subscribers;
  for (uint32_t e = 0; e < count; e++) {
    size_t base = h->role == TIPC_PS_PUBLISHER ? tipc__ps_pub_entry(h, e) : tipc__ps_sub_entry(e);
    uint32_t number = h->role == TIPC_PS_PUBLISHER ? h->subscribers + e : e;
    struct sockaddr_un addr;
    int taken = tipc__take_entry(h->base, base, self, h->bell, h->bell_id, number, sock_mode, &addr);
    if (taken == 0) continue;
    if (taken < 0) {
      close(h->bell);
      h->bell = -1;
      return taken;
    }
    atomic_store_explicit(TIPC__PS32(h, base + TIPC_PS_E_ACTIVE), 0, memory_order_seq_cst);
    atomic_store_explicit(TIPC__PS32(h, base + TIPC_PS_E_COUNT), 0, memory_order_seq_cst);
    atomic_store_explicit(TIPC__PS64(h, base + TIPC_PS_E_START_TIME), start, memory_order_seq_cst);
    h->entry = e;
    h->entry_off = base;
    h->bell_number = number;
    if (h->role == TIPC_PS_SUBSCRIBER) {
      /* Joining (docs/pubsub.md): cursor, then active, then the tail again. */
      uint64_t t = tipc__ps_tail(h);
      uint64_t back = history < h->capacity ? history : h->capacity;
      h->cursor = t > back ? t - back : 0;
      atomic_store_explicit(TIPC__PS64(h, base + TIPC_PS_E_POS), h->cursor, memory_order_seq_cst);
      atomic_store_explicit(TIPC__PS32(h, base + TIPC_PS_E_ACTIVE), (uint32_t)self, memory_order_seq_cst);
      h->join_tail = tipc__ps_tail(h);
    }
    return 0;
  }
  close(h->bell);
  h->bell = -1;
  snprintf(tipc__why, sizeof tipc__why, "the %s table is full (%u entries held by live processes)",
           h->role == TIPC_PS_PUBLISHER ? "publisher" : "subscriber", count);
  return -EUSERS;
}

/* Takes a table entry (free, or a dead process's) and binds its doorbell, under the registry lock
 * (tipc__claim_locked); a subscriber then joins. */
static inline int tipc__ps_register(tipc_ps *h, uint32_t history) {
  struct stat seg, st;
  char dir[64];
  if (fstat(h->fd, &seg) != 0) return -errno;
  tipc__bell_dir(dir, sizeof dir, h->bell_id);
  if (lstat(dir, &st) != 0 || !tipc__bell_dir_ok(&seg, &st)) {
    snprintf(tipc__why, sizeof tipc__why, "%s is missing or not the segment's own doorbell directory", dir);
    return -EPERM;
  }
  tipc__ps_joining joining = {h, history};
  return tipc__claim_locked(h->fd, &h->bell, tipc__ps_claim, &joining, tipc__bells_mode(seg.st_mode & 0777) & 0666);
}

/** Opens an existing segment as a publisher or a subscriber (history: messages still in the buffer to start with). */
static inline int tipc_ps_open_fp(tipc_ps **out, const char *name, uint32_t msg_size, int role, uint32_t history,
                                  const char *fingerprint) {
  if (!tipc__valid_name(name) || msg_size == 0 || (role != TIPC_PS_PUBLISHER && role != TIPC_PS_SUBSCRIBER))
    return -EINVAL;
  tipc__why[0] = '\0';
  tipc_ps *h = (tipc_ps *)calloc(1, sizeof *h);
  if (h == NULL) return -ENOMEM;
  h->role = role;
  h->bell = -1;
  int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
  h->fd = fd;
  int rc = fd < 0 ? -errno : tipc__ps_attach(h, fd, msg_size, fingerprint);
  if (rc == 0) rc = tipc__ps_register(h, history);
  if (rc != 0) {
    if (h->base != NULL) munmap(h->base, h->size);
    if (fd >= 0) close(fd);
    free(h);
    return rc;
  }
  *out = h;
  return 0;
}

/** Opens an existing segment (size checked, fingerprint not). */
static inline int tipc_ps_open(tipc_ps **out, const char *name, uint32_t msg_size, int role, uint32_t history) {
  return tipc_ps_open_fp(out, name, msg_size, role, history, NULL);
}

static inline int tipc__ps_build(char *tmp, size_t tmp_len, uint32_t msg_size, const tipc_ps_options *o,
                                 uint64_t *bell_id) {
  uint32_t capacity = o->capacity ? o->capacity : 1024, subs = o->subscribers ? o->subscribers : 16;
  uint32_t pubs = o->publishers ? o->publishers : 8;
  mode_t mode = o->mode ? o->mode : 0600;
  uint32_t slots = tipc__slots_for(capacity);
  uint32_t data_off = tipc__ps_data_offset(subs, pubs, slots);
  size_t size = (size_t)data_off + (size_t)slots * msg_size;
  uint8_t *base = NULL;
  int fd = tipc__build_begin(tmp, tmp_len, ".tipc-pubsub", mode, size, &base);
  if (fd < 0) return fd;
  tipc_ps_header *hd = (tipc_ps_header *)(void *)base;
  hd->version = TIPC_PS_VERSION;
  hd->policy = o->policy;
  hd->msg_size = msg_size;
  hd->slots = slots;
  hd->creator_pid = (int32_t)getpid();
  hd->capacity = capacity;
  *bell_id = tipc__random64();
  hd->bell_id = *bell_id;
  hd->subscribers = subs;
  hd->publishers = pubs;
  hd->mask_words = (subs + pubs + 31) / 32;
  hd->registry_offset = TIPC_PS_REGISTRY_OFFSET;
  hd->seq_offset = tipc__ps_seq_offset(subs, pubs);
  hd->data_offset = data_off;
  hd->total_size = size;
  if (o->fingerprint != NULL)
    memcpy(hd->fingerprint, o->fingerprint, strnlen(o->fingerprint, TIPC_PS_FINGERPRINT_MAX - 1));
  uint32_t *seq = (uint32_t *)(void *)(base + hd->seq_offset);
  /* Every slot starts as a skip of the position a lap before its first. */
  for (uint32_t i = 0; i < slots; i++) seq[i] = tipc__ps_word((uint64_t)i - slots, TIPC_PS_SKIPPED);
  return tipc__build_end(tmp, fd, base, size, mode, *bell_id, TIPC_PS_MAGIC);
}

/** Creates a segment with `options` (NULL: the defaults) or opens the existing one, as `role`. */
static inline int tipc_ps_create(tipc_ps **out, const char *name, uint32_t msg_size, int role,
                                 const tipc_ps_options *options) {
  tipc_ps_options defaults = {0, TIPC_PS_BLOCK, 0, 0, 0600, NULL};
  const tipc_ps_options *o = options != NULL ? options : &defaults;
  if (!tipc__valid_name(name) || msg_size == 0 || msg_size > TIPC_PS_MAX_MSG_SIZE || o->policy > TIPC_PS_OVERWRITE ||
      o->capacity > TIPC_PS_MAX_SLOTS || o->subscribers > TIPC_PS_MAX_SUBSCRIBERS ||
      o->publishers > TIPC_PS_MAX_PUBLISHERS)
    return -EINVAL;
  char path[300], tmp[300];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  for (int attempt = 0; attempt < TIPC_PS_OPEN_ATTEMPTS; attempt++) {
    int rc = tipc_ps_open_fp(out, name, msg_size, role, 0, o->fingerprint);
    if (rc != -ENOENT) return rc;
    uint64_t id;
    int fd = tipc__ps_build(tmp, sizeof tmp, msg_size, o, &id);
    if (fd < 0) return fd;
    int linked = tipc__publish(tmp, path, fd, id);
    if (linked != 0 && linked != -EEXIST) return linked;
  }
  return -EBUSY;
}

/** Releases the handle's entry, doorbell and mapping (a subscriber stops holding publishers back). */
static inline void tipc_ps_close(tipc_ps *h) {
  if (h == NULL) return;
  struct sockaddr_un addr;
  socklen_t len;
  tipc__bell_address(&addr, &len, h->bell_id, h->bell_number);
  (void)unlink(addr.sun_path);
  int intact = tipc__ps_intact(h);
  if (intact) {
    uint32_t bit = 1u << (h->bell_number % 32);
    atomic_fetch_and(TIPC__PS32(h, TIPC_PS_OFF_SUB_SLEEPERS + 4 * (h->bell_number / 32)), ~bit);
    atomic_fetch_and(TIPC__PS32(h, TIPC_PS_OFF_PUB_SLEEPERS + 4 * (h->bell_number / 32)), ~bit);
    atomic_store(TIPC__PS32(h, h->entry_off + TIPC_PS_E_ACTIVE), 0);
    atomic_store(TIPC__PS32(h, h->entry_off + TIPC_PS_E_COUNT), 0);
    atomic_store(TIPC__PS32(h, h->entry_off + TIPC_PS_E_PID), 0);
    if (h->role == TIPC_PS_SUBSCRIBER) tipc__ps_wake(h, TIPC_PS_OFF_PUB_SLEEPERS);
  }
  tipc__leave_bells(h->fd, intact, h->bell_id, h->base + TIPC_PS_REGISTRY_OFFSET, h->subscribers + h->publishers);
  tipc__release(h->bell, h->base, h->size, h->fd);
  free(h);
}

/** Removes the segment's name (and the doorbells of dead handles); open handles keep working until closed. */
static inline int tipc_ps_unlink(const char *name) {
  if (!tipc__valid_name(name)) return -EINVAL;
  uint8_t header[TIPC_PS_REGISTRY_OFFSET];
  int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
  int ours = tipc__read_header(fd, header, sizeof header, TIPC_PS_MAGIC, TIPC_PS_VERSION);
  uint64_t bell_id = ours ? *(uint64_t *)(void *)(header + TIPC_PS_OFF_BELL_ID) : 0;
  uint32_t subs = ours ? *(uint32_t *)(void *)(header + TIPC_PS_OFF_SUBSCRIBERS) : 0;
  uint32_t pubs = ours ? *(uint32_t *)(void *)(header + TIPC_PS_OFF_PUBLISHERS) : 0;
  if (subs > TIPC_PS_MAX_SUBSCRIBERS || pubs > TIPC_PS_MAX_PUBLISHERS) ours = 0;
  /* The registry is read (not mapped); the doorbells of the entries read whole that are not live go. */
  size_t bytes = (size_t)(subs + pubs) * TIPC_PS_ENTRY_SIZE;
  uint8_t *registry = ours && bytes > 0 ? (uint8_t *)malloc(bytes) : NULL;
  ssize_t got = registry != NULL ? pread(fd, registry, bytes, TIPC_PS_REGISTRY_OFFSET) : 0;
  if (fd >= 0) close(fd);
  int rc = shm_unlink(name) != 0 ? -errno : 0;
  if (rc == 0 && ours) tipc__remove_bells_of(bell_id, registry, got > 0 ? (uint32_t)(got / TIPC_PS_ENTRY_SIZE) : 0);
  free(registry);
  return rc;
}

#undef TIPC__PS32
#undef TIPC__PS64

#ifdef __cplusplus
}
#endif

#endif /* TYPED_IPC_PUBSUB_H */
