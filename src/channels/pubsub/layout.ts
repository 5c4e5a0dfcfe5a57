/**
 * The pub/sub segment's layout descriptor (docs/pubsub.md, "Memory layout"): every field's offset and
 * type, the protocol's constants, the slot-word encoding and the validation of a mapped header, in one
 * place. The channel (channel.ts), the segment code (segment.ts) and the tests read the segment through
 * these numbers; include/typed_ipc_pubsub.h declares the same layout, and test/channels/pubsub-layout.test.ts
 * compiles it with `cc` and compares every offset, size and constant.
 */
import { field, type HeaderProblem, type LayoutField, problem } from '../ring/layout.js';

export { type FieldType, fieldSize, type HeaderProblem, type LayoutField } from '../ring/layout.js';

/** The magic number at offset 0: the bytes "TIPCPUBS". */
export const MAGIC = 0x5342555043504954n;
/** Protocol version of the segment. */
export const VERSION = 1;
/** `policy`: publishers wait for the slowest live subscriber (nothing is lost). */
export const POLICY_BLOCK = 0;
/** `policy`: publishers never wait for subscribers; a subscriber that falls behind misses messages, counted. */
export const POLICY_OVERWRITE = 1;

/** Byte offset of `magic` (u64). */
export const OFF_MAGIC = 0;
/** Byte offset of `version` (u32). */
export const OFF_VERSION = 8;
/** Byte offset of `policy` (u32: 0 block, 1 overwrite). */
export const OFF_POLICY = 12;
/** Byte offset of `msg_size` (u32). */
export const OFF_MSG_SIZE = 16;
/** Byte offset of `slots` (u32, a power of two). */
export const OFF_SLOTS = 20;
/** Byte offset of `creator_pid` (i32, informational). */
export const OFF_CREATOR_PID = 24;
/** Byte offset of `capacity` (u32: how far a publisher may run ahead of the slowest subscriber in block mode). */
export const OFF_CAPACITY = 28;
/** Byte offset of `bell_id` (u64, names the doorbell directory). */
export const OFF_BELL_ID = 32;
/** Byte offset of `subscribers` (u32: entries of the subscriber table). */
export const OFF_SUBSCRIBERS = 40;
/** Byte offset of `publishers` (u32: entries of the publisher table). */
export const OFF_PUBLISHERS = 44;
/** Byte offset of `mask_words` (u32: words of each sleeper mask in use). */
export const OFF_MASK_WORDS = 48;
/** Byte offset of `registry_offset` (u32). */
export const OFF_REGISTRY_OFFSET = 52;
/** Byte offset of `seq_offset` (u32). */
export const OFF_SEQ = 56;
/** Byte offset of `data_offset` (u32). */
export const OFF_DATA = 60;
/** Byte offset of `total_size` (u64). */
export const OFF_TOTAL_SIZE = 64;
/** Byte offset of `fingerprint` (char[64]). */
export const OFF_FINGERPRINT = 128;
/** Bytes of the fingerprint field. */
export const FINGERPRINT_MAX = 64;
/** Byte offset of `tail` (u64, own cache line): the next position to claim. */
export const OFF_TAIL = 192;
/** Byte offset of the subscribers' sleeper mask (u32[MAX_MASK_WORDS]), indexed by doorbell number. */
export const OFF_SUB_SLEEPERS = 256;
/** Byte offset of the publishers' sleeper mask (u32[MAX_MASK_WORDS]), indexed by doorbell number. */
export const OFF_PUB_SLEEPERS = 448;
/** Byte offset of `recovered` (u64 statistics: claims of dead publishers turned into skips). */
export const OFF_RECOVERED = 640;
/** Byte offset of `retired` (u64 statistics: dead subscribers no longer waited for). */
export const OFF_RETIRED = 648;
/** Byte offset of the registry: the subscriber table, then the publisher table. */
export const REGISTRY_OFFSET = 1024;
/** Bytes per registry entry. */
export const ENTRY_SIZE = 64;
/** Offset of `pid` (u32) in an entry. */
export const E_PID = 0;
/** Offset of `active` (u32) in a subscriber entry: the owner's pid while its cursor holds publishers back, else 0. */
export const E_ACTIVE = 4;
/** Offset of `start_time` (u64) in an entry. */
export const E_START_TIME = 8;
/** Offset of `cursor` (u64) in a subscriber entry: the next position it reads. */
export const E_CURSOR = 16;
/** Offset of `claim_pos` (u64) in a publisher entry: the first position of its current claim. */
export const E_CLAIM_POS = 16;
/** Offset of `claim_count` (u32) in a publisher entry: positions claimed from claim_pos (0: none). */
export const E_CLAIM_COUNT = 24;

/** Most subscriber entries a segment may have. */
export const MAX_SUBSCRIBERS = 1024;
/** Most publisher entries a segment may have. */
export const MAX_PUBLISHERS = 64;
/** Words of each sleeper mask field (one bit per doorbell, subscribers' then publishers'). */
export const MAX_MASK_WORDS = (MAX_SUBSCRIBERS + MAX_PUBLISHERS) / 32;
/** Subscriber entries when `subscribers` is not given. */
export const DEFAULT_SUBSCRIBERS = 16;
/** Publisher entries when `publishers` is not given. */
export const DEFAULT_PUBLISHERS = 8;
/** Most slots a segment may have. */
export const MAX_SLOTS = 1 << 24;
/** Largest message (bytes). */
export const MAX_MSG_SIZE = 1 << 20;

// Slot words (docs/pubsub.md, "Slot words"): u32(4 * position) | state, so a word names the position
// it holds (its low 30 bits) and what state it is in. A reader compares a word only with the states of
// the position it expects, which are at most `slots` (2^24) positions from any position in the slot.
/** State: a publisher claimed the position and is writing it. */
export const WRITING = 0;
/** State: the message of the position is complete. */
export const PUBLISHED = 1;
/** State: the position holds no message (its publisher died; recovered). */
export const SKIPPED = 2;
/** The slot word of `position` (its low 32 bits suffice: `lo`) in `state`, as an int32. */
export const slotWord = (lo: number, state: number): number => (lo << 2) | state | 0;

// Timing, the ring's (docs/ring-protocol.md, "Waiting"), the same in C (TIPC_PS_*) and Node.
/** Tries at the segment before a waiter registers as a sleeper. */
export const SPIN = 256;
/**
 * How often a waiter that is held back checks its cause: a claimed slot whose publisher may have died,
 * a subscriber that may have died (publishers in block mode). Also the longest a dead peer blocks anyone (ms).
 */
export const RECOVERY_MS = 10;
/** How often an idle subscriber wakes to check that the segment was not truncated under it (ms). */
export const IDLE_RECHECK_MS = 1000;
/** Rounds of create / open before an opener gives up with EBUSY. */
export const OPEN_ATTEMPTS = 100;

/** Registry entries (subscribers, then publishers) of a segment. */
export const registryEntries = (subscribers: number, publishers: number): number => subscribers + publishers;
/** Mask words a segment uses. */
export const maskWordsFor = (subscribers: number, publishers: number): number =>
  Math.ceil((subscribers + publishers) / 32);
/** Byte offset of the slot words. */
export const seqOffsetFor = (subscribers: number, publishers: number): number =>
  REGISTRY_OFFSET + (subscribers + publishers) * ENTRY_SIZE;
/** Byte offset of the message slots: after the slot words, rounded up to a cache line. */
export const dataOffsetFor = (subscribers: number, publishers: number, slots: number): number =>
  (seqOffsetFor(subscribers, publishers) + 4 * slots + 63) & ~63;

/** The header fields in order, with their C names (struct tipc_ps_header). */
export const headerFields: readonly LayoutField[] = [
  field('magic', OFF_MAGIC, 'u64'),
  field('version', OFF_VERSION, 'u32'),
  field('policy', OFF_POLICY, 'u32'),
  field('msg_size', OFF_MSG_SIZE, 'u32'),
  field('slots', OFF_SLOTS, 'u32'),
  field('creator_pid', OFF_CREATOR_PID, 'i32'),
  field('capacity', OFF_CAPACITY, 'u32'),
  field('bell_id', OFF_BELL_ID, 'u64'),
  field('subscribers', OFF_SUBSCRIBERS, 'u32'),
  field('publishers', OFF_PUBLISHERS, 'u32'),
  field('mask_words', OFF_MASK_WORDS, 'u32'),
  field('registry_offset', OFF_REGISTRY_OFFSET, 'u32'),
  field('seq_offset', OFF_SEQ, 'u32'),
  field('data_offset', OFF_DATA, 'u32'),
  field('total_size', OFF_TOTAL_SIZE, 'u64'),
  field('fingerprint', OFF_FINGERPRINT, `char[${FINGERPRINT_MAX}]`),
  field('tail', OFF_TAIL, 'u64'),
  field('sub_sleepers', OFF_SUB_SLEEPERS, `u32[${MAX_MASK_WORDS}]`),
  field('pub_sleepers', OFF_PUB_SLEEPERS, `u32[${MAX_MASK_WORDS}]`),
  field('recovered', OFF_RECOVERED, 'u64'),
  field('retired', OFF_RETIRED, 'u64'),
];

/** The fields of a registry entry (struct tipc_ps_entry), offsets within the entry. */
export const entryFields: readonly LayoutField[] = [
  field('pid', E_PID, 'u32'),
  field('active', E_ACTIVE, 'u32'),
  field('start_time', E_START_TIME, 'u64'),
  field('pos', E_CURSOR, 'u64'),
  field('count', E_CLAIM_COUNT, 'u32'),
];

/**
 * Checks every layout field of a pub/sub header (magic and version already matched) against the
 * protocol, each other and the file's size. A peer indexes the mapping with these numbers: one out of
 * range would make it read or write outside the segment.
 */
export function headerProblem(view: DataView, fileSize: number): HeaderProblem | undefined {
  const policy = view.getUint32(OFF_POLICY, true);
  if (policy !== POLICY_BLOCK && policy !== POLICY_OVERWRITE)
    return problem('policy', policy, '0 (block) or 1 (overwrite)');
  const size = view.getUint32(OFF_MSG_SIZE, true);
  if (size < 1 || size > MAX_MSG_SIZE) return problem('msg_size', size, `1..${MAX_MSG_SIZE}`);
  const slots = view.getUint32(OFF_SLOTS, true);
  if (slots < 2 || slots > MAX_SLOTS || (slots & (slots - 1)) !== 0) {
    return problem('slots', slots, `a power of two in 2..${MAX_SLOTS}`);
  }
  const capacity = view.getUint32(OFF_CAPACITY, true);
  if (capacity < 1 || capacity > slots) return problem('capacity', capacity, `1..${slots} (the slots)`);
  const subscribers = view.getUint32(OFF_SUBSCRIBERS, true);
  if (subscribers < 1 || subscribers > MAX_SUBSCRIBERS)
    return problem('subscribers', subscribers, `1..${MAX_SUBSCRIBERS}`);
  const publishers = view.getUint32(OFF_PUBLISHERS, true);
  if (publishers < 1 || publishers > MAX_PUBLISHERS) return problem('publishers', publishers, `1..${MAX_PUBLISHERS}`);
  const words = view.getUint32(OFF_MASK_WORDS, true);
  if (words !== maskWordsFor(subscribers, publishers)) {
    return problem(
      'mask_words',
      words,
      `${maskWordsFor(subscribers, publishers)} (for ${subscribers + publishers} handles)`,
    );
  }
  const registry = view.getUint32(OFF_REGISTRY_OFFSET, true);
  if (registry !== REGISTRY_OFFSET) return problem('registry_offset', registry, String(REGISTRY_OFFSET));
  const seq = view.getUint32(OFF_SEQ, true);
  if (seq !== seqOffsetFor(subscribers, publishers)) {
    return problem('seq_offset', seq, `${seqOffsetFor(subscribers, publishers)} (after the registry)`);
  }
  const data = view.getUint32(OFF_DATA, true);
  const expectedData = dataOffsetFor(subscribers, publishers, slots);
  if (data !== expectedData) return problem('data_offset', data, `${expectedData} (after ${slots} slot words)`);
  const total = view.getBigUint64(OFF_TOTAL_SIZE, true);
  const end = data + slots * size;
  if (total !== BigInt(end)) return problem('total_size', total, `${end} (data_offset + slots * msg_size)`);
  if (fileSize !== end) return problem('file size', fileSize, `${end} (total_size)`);
  return undefined;
}

/** Whether `bytes` (a segment's first bytes) start with a pub/sub header of this protocol version. */
export function isPubSubHeader(bytes: Uint8Array): boolean {
  if (bytes.length < OFF_VERSION + 4) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getBigUint64(OFF_MAGIC, true) === MAGIC && view.getUint32(OFF_VERSION, true) === VERSION;
}
