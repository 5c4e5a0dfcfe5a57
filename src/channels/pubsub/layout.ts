/**
 * The pub/sub segment's layout descriptor (docs/pubsub.md, "Memory layout"): every field's offset and
 * type, the protocol's constants, the slot-word encoding and the validation of a mapped header, in one
 * place. The channel (channel.ts), the segment code (segment.ts) and the tests read the segment through
 * these numbers; include/typed_ipc_pubsub.h declares the same layout, and test/channels/pubsub-layout.test.ts
 * compiles it with `cc` and compares every offset, size and constant.
 */
import {
  extentProblem,
  geometryProblem,
  type HeaderProblem,
  problem,
  startsWith,
  struct,
} from '../ring/segment-layout.js';

export { type FieldType, fieldSize, type HeaderProblem, type LayoutField } from '../ring/segment-layout.js';

/** The magic number at offset 0: the bytes "TIPCPUBS". */
export const MAGIC = 0x5342555043504954n;
/** Protocol version of the segment. */
export const VERSION = 1;
/** `policy`: publishers wait for the slowest live subscriber (nothing is lost). */
export const POLICY_BLOCK = 0;
/** `policy`: publishers never wait for subscribers; a subscriber that falls behind misses messages, counted. */
export const POLICY_OVERWRITE = 1;

/** Bytes of the fingerprint field. */
export const FINGERPRINT_MAX = 64;
/** Byte offset of the registry: the subscriber table, then the publisher table. */
export const REGISTRY_OFFSET = 1024;
/** Bytes per registry entry. */
export const ENTRY_SIZE = 64;
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

// biome-ignore format: the struct reads as C declares it, several fields a line
/**
 * struct tipc_ps_header: every field by its C name, [type, byte offset]. `policy` is POLICY_BLOCK or
 * POLICY_OVERWRITE; `capacity` is how far a publisher may run ahead of the slowest subscriber in block
 * mode; `bell_id` names the doorbell directory; `subscribers` and `publishers` count the entries of the
 * two registry tables, `mask_words` the words of each sleeper mask in use; `tail` (own cache line) is the
 * next position to claim; `sub_sleepers` and `pub_sleepers` are the sleeper masks, a bit per doorbell
 * (u32[MAX_MASK_WORDS]); `recovered` counts claims of dead publishers turned into skips, `retired` dead
 * subscribers no longer waited for.
 */
const psHeader = struct({
  magic: ['u64', 0], version: ['u32', 8], policy: ['u32', 12], msg_size: ['u32', 16], slots: ['u32', 20],
  creator_pid: ['i32', 24], capacity: ['u32', 28], bell_id: ['u64', 32], subscribers: ['u32', 40],
  publishers: ['u32', 44], mask_words: ['u32', 48], registry_offset: ['u32', 52], seq_offset: ['u32', 56],
  data_offset: ['u32', 60], total_size: ['u64', 64], fingerprint: [`char[${FINGERPRINT_MAX}]`, 128],
  tail: ['u64', 192], sub_sleepers: [`u32[${MAX_MASK_WORDS}]`, 256], pub_sleepers: [`u32[${MAX_MASK_WORDS}]`, 448],
  recovered: ['u64', 640], retired: ['u64', 648],
});
/** Byte offset of every header field, by its C name (`header.tail`). */
export const header = psHeader.offset;
/** The header fields in order, with their C names (struct tipc_ps_header). */
export const headerFields = psHeader.fields;

// biome-ignore format: the struct reads as C declares it
/**
 * struct tipc_ps_entry, a subscriber's or a publisher's registry entry: its owner (`pid`, `start_time`);
 * a subscriber's `active` (its owner's pid while its cursor holds publishers back, else 0) and `pos`, its
 * cursor (the next position it reads); a publisher's claim: `pos` its first position, `count` how many
 * (0: none).
 */
const psEntry = struct({
  pid: ['u32', 0], active: ['u32', 4], start_time: ['u64', 8], pos: ['u64', 16], count: ['u32', 24],
});
/** Offset of every entry field within an entry, by its C name (`entry.pos`). */
export const entry = psEntry.offset;
/** The fields of a registry entry (struct tipc_ps_entry), offsets within the entry. */
export const entryFields = psEntry.fields;

/**
 * Checks every layout field of a pub/sub header (magic and version already matched) against the
 * protocol, each other and the file's size. A peer indexes the mapping with these numbers: one out of
 * range would make it read or write outside the segment.
 */
export function headerProblem(view: DataView, fileSize: number): HeaderProblem | undefined {
  const policy = view.getUint32(header.policy, true);
  if (policy !== POLICY_BLOCK && policy !== POLICY_OVERWRITE)
    return problem('policy', policy, '0 (block) or 1 (overwrite)');
  const geometry = geometryProblem(view, header, MAX_MSG_SIZE, MAX_SLOTS);
  if (geometry !== undefined) return geometry;
  const subscribers = view.getUint32(header.subscribers, true);
  if (subscribers < 1 || subscribers > MAX_SUBSCRIBERS)
    return problem('subscribers', subscribers, `1..${MAX_SUBSCRIBERS}`);
  const publishers = view.getUint32(header.publishers, true);
  if (publishers < 1 || publishers > MAX_PUBLISHERS) return problem('publishers', publishers, `1..${MAX_PUBLISHERS}`);
  const words = view.getUint32(header.mask_words, true);
  if (words !== maskWordsFor(subscribers, publishers)) {
    return problem(
      'mask_words',
      words,
      `${maskWordsFor(subscribers, publishers)} (for ${subscribers + publishers} handles)`,
    );
  }
  const registry = view.getUint32(header.registry_offset, true);
  if (registry !== REGISTRY_OFFSET) return problem('registry_offset', registry, String(REGISTRY_OFFSET));
  const seq = view.getUint32(header.seq_offset, true);
  if (seq !== seqOffsetFor(subscribers, publishers)) {
    return problem('seq_offset', seq, `${seqOffsetFor(subscribers, publishers)} (after the registry)`);
  }
  const slots = view.getUint32(header.slots, true);
  return extentProblem(
    view,
    header,
    fileSize,
    dataOffsetFor(subscribers, publishers, slots),
    `after ${slots} slot words`,
  );
}

/** Whether `bytes` (a segment's first bytes) start with a pub/sub header of this protocol version. */
export const isPubSubHeader = (bytes: Uint8Array): boolean => startsWith(bytes, MAGIC, header.version, VERSION);
