/**
 * The ring segment's layout descriptor: every field's offset and type, the protocol's constants and
 * the validation of a mapped header, in one place (docs/ring-protocol.md, "Memory layout"). The
 * algorithm (channel.ts), the segment code (segment.ts), the CLI and the tests read the segment
 * through these numbers; include/typed_ipc_ring.h declares the same layout as `tipc_ring_header`,
 * and test/channels/ring-layout.test.ts compiles it with `cc` and compares every offset and size.
 */

/** The C type of a layout field (little-endian). */
export type FieldType = 'u32' | 'i32' | 'u64' | `u32[${number}]` | `char[${number}]`;

/** One field of the header or of a registry entry: its C name, byte offset and type. */
export interface LayoutField {
  readonly name: string;
  readonly offset: number;
  readonly type: FieldType;
}

/** Bytes of a field of `type`. */
export function fieldSize(type: FieldType): number {
  const array = /^(\w+)\[(\d+)\]$/.exec(type);
  if (array) return Number(array[2]) * (array[1] === 'char' ? 1 : 4);
  return type === 'u64' ? 8 : 4;
}

/** A layout field (for the field tables of this layout and of pub/sub's). */
export const field = (name: string, offset: number, type: FieldType): LayoutField => ({ name, offset, type });

/** The magic number at offset 0: the bytes "TIPCRING". */
export const MAGIC = 0x474e495243504954n;
// Version 2: doorbells moved from abstract names (anyone could bind or flood them) to a directory
// whose access follows the segment's mode. Version 1 peers would never wake version 2 ones.
/** Protocol version of the segment. */
export const VERSION = 2;
/** Byte offset of `magic` (u64). */
export const OFF_MAGIC = 0;
/** Byte offset of `version` (u32). */
export const OFF_VERSION = 8;
/** Byte offset of `msg_size` (u32). */
export const OFF_MSG_SIZE = 16;
/** Byte offset of `slots` (u32, a power of two). */
export const OFF_SLOTS = 20;
/** Byte offset of `creator_pid` (i32). */
export const OFF_CREATOR_PID = 24;
/** Byte offset of `max_handles` (u32). */
export const OFF_MAX_HANDLES = 28;
/** Byte offset of `ring_id` (u64, names the doorbell directory). */
export const OFF_RING_ID = 32;
/** Byte offset of `seq_offset` (u32). */
export const OFF_SEQ = 40;
/** Byte offset of `data_offset` (u32). */
export const OFF_DATA = 44;
/** Byte offset of `total_size` (u64). */
export const OFF_TOTAL_SIZE = 48;
/** Byte offset of `capacity` (u32). */
export const OFF_CAPACITY = 56;
/** Byte offset of `fingerprint` (char[64]). */
export const OFF_FINGERPRINT = 64;
/** Bytes of the fingerprint field. */
export const FINGERPRINT_MAX = 64;
/** Byte offset of `tail` (u64, own cache line). */
export const OFF_TAIL = 128;
/** Byte offset of `head` (u64, own cache line). */
export const OFF_HEAD = 192;
/** Byte offset of the consumers' sleeper mask (u32[2]). */
export const OFF_CONSUMERS_WAITING = 256;
/** Byte offset of the producers' sleeper mask (u32[2]). */
export const OFF_PRODUCERS_WAITING = 264;
/** Byte offset of `recovered` (u64 statistics). */
export const OFF_RECOVERED = 320;
/** Byte offset of `abandoned` (u64 statistics). */
export const OFF_ABANDONED = 328;
/** Byte offset of the registry of handles. */
export const OFF_REGISTRY = 512;
/** Entries of the registry (handles per ring). */
export const HANDLES = 64;
/** Bytes per registry entry. */
export const ENTRY_SIZE = 64;
/** Offset of `pid` (u32) in an entry. */
export const E_PID = 0;
/** Offset of `start_time` (u64) in an entry. */
export const E_START_TIME = 8;
/** Offset of `prod_pos` (u64) in an entry. */
export const E_PROD_POS = 16;
/** Offset of `prod_count` (u32) in an entry. */
export const E_PROD_COUNT = 24;
/** Offset of `cons_pos` (u64) in an entry. */
export const E_CONS_POS = 32;
/** Offset of `cons_count` (u32) in an entry. */
export const E_CONS_COUNT = 40;
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

/** The header fields in order, with their C names (struct tipc_ring_header). */
export const headerFields: readonly LayoutField[] = [
  field('magic', OFF_MAGIC, 'u64'),
  field('version', OFF_VERSION, 'u32'),
  field('msg_size', OFF_MSG_SIZE, 'u32'),
  field('slots', OFF_SLOTS, 'u32'),
  field('creator_pid', OFF_CREATOR_PID, 'i32'),
  field('max_handles', OFF_MAX_HANDLES, 'u32'),
  field('ring_id', OFF_RING_ID, 'u64'),
  field('seq_offset', OFF_SEQ, 'u32'),
  field('data_offset', OFF_DATA, 'u32'),
  field('total_size', OFF_TOTAL_SIZE, 'u64'),
  field('capacity', OFF_CAPACITY, 'u32'),
  field('fingerprint', OFF_FINGERPRINT, `char[${FINGERPRINT_MAX}]`),
  field('tail', OFF_TAIL, 'u64'),
  field('head', OFF_HEAD, 'u64'),
  field('consumers_waiting', OFF_CONSUMERS_WAITING, `u32[${HANDLES / 32}]`),
  field('producers_waiting', OFF_PRODUCERS_WAITING, `u32[${HANDLES / 32}]`),
  field('recovered', OFF_RECOVERED, 'u64'),
  field('abandoned', OFF_ABANDONED, 'u64'),
];

/** The fields of a registry entry (struct tipc_ring_entry), offsets within the entry. */
export const entryFields: readonly LayoutField[] = [
  field('pid', E_PID, 'u32'),
  field('start_time', E_START_TIME, 'u64'),
  field('prod_pos', E_PROD_POS, 'u64'),
  field('prod_count', E_PROD_COUNT, 'u32'),
  field('cons_pos', E_CONS_POS, 'u64'),
  field('cons_count', E_CONS_COUNT, 'u32'),
];

/** A header field that disagrees with the protocol, the other fields or the file's size. */
export interface HeaderProblem {
  readonly field: string;
  readonly value: string;
  readonly expected: string;
}

/** The problem of header field `name`, which holds `value` and should hold what `expected` says. */
export const problem = (name: string, value: number | bigint, expected: string): HeaderProblem => ({
  field: name,
  value: String(value),
  expected,
});

/**
 * Checks every layout field of a ring header (magic and version already matched) against the
 * protocol, against each other and against the file's size, in the order docs/ring-protocol.md
 * lists them. A peer uses these numbers to index the mapping: one out of range would make it read
 * or write outside the segment.
 */
export function headerProblem(view: DataView, fileSize: number): HeaderProblem | undefined {
  const size = view.getUint32(OFF_MSG_SIZE, true);
  if (size < 1 || size > MAX_MSG_SIZE) return problem('msg_size', size, `1..${MAX_MSG_SIZE}`);
  const slots = view.getUint32(OFF_SLOTS, true);
  if (slots < 2 || slots > MAX_CAPACITY || (slots & (slots - 1)) !== 0) {
    return problem('slots', slots, `a power of two in 2..${MAX_CAPACITY}`);
  }
  const capacity = view.getUint32(OFF_CAPACITY, true);
  if (capacity < 1 || capacity > slots) return problem('capacity', capacity, `1..${slots} (the slots)`);
  const handles = view.getUint32(OFF_MAX_HANDLES, true);
  if (handles !== HANDLES) return problem('max_handles', handles, String(HANDLES));
  const seq = view.getUint32(OFF_SEQ, true);
  if (seq !== SEQ_OFFSET) return problem('seq_offset', seq, String(SEQ_OFFSET));
  const data = view.getUint32(OFF_DATA, true);
  if (data !== dataOffsetFor(slots)) {
    return problem('data_offset', data, `${dataOffsetFor(slots)} (for ${slots} slots)`);
  }
  const total = view.getBigUint64(OFF_TOTAL_SIZE, true);
  const end = data + slots * size;
  if (total !== BigInt(end)) return problem('total_size', total, `${end} (data_offset + slots * msg_size)`);
  if (fileSize !== end) return problem('file size', fileSize, `${end} (total_size)`);
  return undefined;
}

/** Whether `bytes` (a segment's first bytes) start with a ring header of this protocol version. */
export function isRingHeader(bytes: Uint8Array): boolean {
  if (bytes.length < OFF_VERSION + 4) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getBigUint64(OFF_MAGIC, true) === MAGIC && view.getUint32(OFF_VERSION, true) === VERSION;
}
