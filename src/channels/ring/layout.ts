/**
 * The ring segment's layout descriptor: every field's offset and type, the protocol's constants and
 * the validation of a mapped header, in one place (docs/ring-protocol.md, "Memory layout"). The
 * algorithm (channel.ts), the segment code (segment.ts), the CLI and the tests read the segment
 * through these numbers; include/typed_ipc_ring.h declares the same layout as `tipc_ring_header`,
 * and test/channels/ring-layout.test.ts compiles it with `cc` and compares every offset and size.
 */

import { extentProblem, geometryProblem, type HeaderProblem, problem, startsWith, struct } from './segment-layout.js';

export { type FieldType, fieldSize, type HeaderProblem, type LayoutField } from './segment-layout.js';

/** The magic number at offset 0: the bytes "TIPCRING". */
export const MAGIC = 0x474e495243504954n;
// Version 2: doorbells moved from abstract names (anyone could bind or flood them) to a directory
// whose access follows the segment's mode. Version 1 peers would never wake version 2 ones.
/** Protocol version of the segment. */
export const VERSION = 2;
/** Bytes of the fingerprint field. */
export const FINGERPRINT_MAX = 64;
/** Entries of the registry (handles per ring). */
export const HANDLES = 64;

// biome-ignore format: the struct reads as C declares it, several fields a line
/**
 * struct tipc_ring_header: every field by its C name, [type, byte offset]. `ring_id` names the doorbell
 * directory; `tail` and `head` have their own cache lines; `*_waiting` are the sleeper masks (a bit per
 * registry entry); `recovered` and `abandoned` count slots taken back from dead producers and consumers.
 */
const ringHeader = struct({
  magic: ['u64', 0], version: ['u32', 8], msg_size: ['u32', 16], slots: ['u32', 20], creator_pid: ['i32', 24],
  max_handles: ['u32', 28], ring_id: ['u64', 32], seq_offset: ['u32', 40], data_offset: ['u32', 44],
  total_size: ['u64', 48], capacity: ['u32', 56], fingerprint: [`char[${FINGERPRINT_MAX}]`, 64],
  tail: ['u64', 128], head: ['u64', 192], consumers_waiting: [`u32[${HANDLES / 32}]`, 256],
  producers_waiting: [`u32[${HANDLES / 32}]`, 264], recovered: ['u64', 320], abandoned: ['u64', 328],
});
/** Byte offset of every header field, by its C name (`header.tail`). */
export const header = ringHeader.offset;
/** The header fields in order, with their C names (struct tipc_ring_header). */
export const headerFields = ringHeader.fields;

// biome-ignore format: the struct reads as C declares it, several fields a line
/**
 * struct tipc_ring_entry, a handle's registry entry: its owner (`pid`, `start_time`: one 64-bit atomic)
 * and the intents of its claims as producer and consumer (first position and count).
 */
const ringEntry = struct({
  pid: ['u32', 0], start_time: ['u64', 8], prod_pos: ['u64', 16], prod_count: ['u32', 24],
  cons_pos: ['u64', 32], cons_count: ['u32', 40],
});
/** Offset of every entry field within an entry, by its C name (`entry.pid`). */
export const entry = ringEntry.offset;
/** The fields of a registry entry (struct tipc_ring_entry), offsets within the entry. */
export const entryFields = ringEntry.fields;

/** Byte offset of the registry of handles. */
export const OFF_REGISTRY = 512;
/** Bytes per registry entry. */
export const ENTRY_SIZE = 64;
/** Byte offset of the slot words (`seq_offset`): right after the registry. */
export const SEQ_OFFSET = OFF_REGISTRY + HANDLES * ENTRY_SIZE;
/** Bit that turns a published slot word into a skip (docs, "Slot states"). */
export const SKIP = 0x80000000 | 0;
/** Most slots (and messages of capacity) a ring may have. */
export const MAX_CAPACITY = 1 << 24;
/** Largest message (bytes). */
export const MAX_MSG_SIZE = 1 << 20;

// Timing of the protocol, the same in C (TIPC_RING_*) and Node (docs/ring-protocol.md, "Waiting").
/** Tries at the ring before a waiter registers as a sleeper (a few microseconds). */
export const SPIN = 256;
/** How often a waiter behind a claimed-but-unfinished slot checks whether its owner died (ms). */
export const RECOVERY_MS = 10;
/** How often a producer asleep on a full ring wakes to look for a consumer that died holding a slot (ms). */
export const PRODUCER_RECHECK_MS = 100;
/**
 * How often an idle consumer wakes to check that the segment was not truncated under it (one fstat):
 * a sleeper that was never rung still learns within this time that its ring is gone (ms).
 */
export const CONSUMER_RECHECK_MS = 1000;
/** Rounds of create / open / replace before an opener gives up with EBUSY. */
export const OPEN_ATTEMPTS = 100;

/** Byte offset of the slots for a ring of `slots` slots: after the seq words, rounded up to a cache line. */
export const dataOffsetFor = (slots: number): number => (SEQ_OFFSET + 4 * slots + 63) & ~63;

/**
 * Checks every layout field of a ring header (magic and version already matched) against the
 * protocol, against each other and against the file's size, in the order docs/ring-protocol.md
 * lists them. A peer uses these numbers to index the mapping: one out of range would make it read
 * or write outside the segment.
 */
export function headerProblem(view: DataView, fileSize: number): HeaderProblem | undefined {
  const geometry = geometryProblem(view, header, MAX_MSG_SIZE, MAX_CAPACITY);
  if (geometry !== undefined) return geometry;
  const handles = view.getUint32(header.max_handles, true);
  if (handles !== HANDLES) return problem('max_handles', handles, String(HANDLES));
  const seq = view.getUint32(header.seq_offset, true);
  if (seq !== SEQ_OFFSET) return problem('seq_offset', seq, String(SEQ_OFFSET));
  const slots = view.getUint32(header.slots, true);
  return extentProblem(view, header, fileSize, dataOffsetFor(slots), `for ${slots} slots`);
}

/** Whether `bytes` (a segment's first bytes) start with a ring header of this protocol version. */
export const isRingHeader = (bytes: Uint8Array): boolean => startsWith(bytes, MAGIC, header.version, VERSION);
