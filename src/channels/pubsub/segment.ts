/**
 * The pub/sub segment: creating one without ever exposing a half-built one, mapping and checking an existing one (a crafted header is a ValidationError, never
 * an access outside the mapping), taking an entry in the subscriber or publisher table, and unlinking
 * (docs/pubsub.md, "Creating and opening"). The file mechanics (mapping, building and publishing, the
 * open round, the claim of an entry), doorbells and liveness are the ring's modules.
 */
import { fstatSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { ValidationError } from '../../errors.js';
import { errnos, libc, systemError } from '../../native/index.js';
import type { Doorbell } from '../ring/doorbell.js';
import type { RegistryLayout } from '../ring/liveness.js';
import * as files from '../ring/segment-file.js';
import * as L from './layout.js';
import type { CheckedOptions, PubSubAddress } from './options.js';

/** Pub/sub segments, to the code they share with rings. */
export const pubsubKind: files.SegmentKind = {
  layout: L,
  bellIdAt: L.header.bell_id,
  scheme: 'shm+pubsub',
  noun: 'pub/sub segment',
  variableSize: (codec) =>
    `pub/sub segments carry fixed-size messages; codec '${codec.name}' is variable-size (use a struct codec)`,
  slot: 'a slot',
  temporary: '.tipc-pubsub',
  headerBytes: L.REGISTRY_OFFSET,
};

/** The subscriber table of a mapped segment of `subscribers` entries. */
export const subscriberTable = (subscribers: number): RegistryLayout => ({
  offset: L.REGISTRY_OFFSET,
  count: subscribers,
  entrySize: L.ENTRY_SIZE,
  pid: L.entry.pid,
  startTime: L.entry.start_time,
  clear: [L.entry.active],
});

/** The publisher table of a mapped segment, after the subscriber table. */
export const publisherTable = (subscribers: number, publishers: number): RegistryLayout => ({
  offset: L.REGISTRY_OFFSET + subscribers * L.ENTRY_SIZE,
  count: publishers,
  entrySize: L.ENTRY_SIZE,
  pid: L.entry.pid,
  startTime: L.entry.start_time,
  clear: [L.entry.count],
});

/** A new segment for `codec` with `options`: every slot a skip of the position one lap before its first (done, holding no message). */
function pubsubShape(codec: MessageCodec<unknown>, options: CheckedOptions): files.Shape {
  const { capacity, mode, subscribers, publishers } = options;
  return {
    codec,
    capacity,
    mode,
    seqOffset: L.seqOffsetFor(subscribers, publishers),
    dataOffset: (slots) => L.dataOffsetFor(subscribers, publishers, slots),
    firstWord: (i, slots) => L.slotWord(i - slots, L.SKIPPED),
    fill(view) {
      view.setUint32(L.header.policy, options.policy === 'overwrite' ? L.POLICY_OVERWRITE : L.POLICY_BLOCK, true);
      view.setUint32(L.header.subscribers, subscribers, true);
      view.setUint32(L.header.publishers, publishers, true);
      view.setUint32(L.header.mask_words, L.maskWordsFor(subscribers, publishers), true);
      view.setUint32(L.header.registry_offset, L.REGISTRY_OFFSET, true);
    },
  };
}

/** Checks a mapped segment against the protocol and the codec; throws the ValidationError that says what is wrong. */
function checkSegment(
  segment: files.Segment,
  url: string,
  codec: MessageCodec<unknown>,
  options: CheckedOptions,
): void {
  const magic = Atomics.load(segment.i64, L.header.magic >> 3);
  const version = segment.u32(L.header.version);
  if (segment.length < L.REGISTRY_OFFSET || magic !== L.MAGIC || version !== L.VERSION) {
    throw new ValidationError('url', 'a typed-ipc pub/sub segment', 'another kind of segment', {
      message: `${url} is not a typed-ipc pub/sub segment of protocol version ${L.VERSION} (magic 0x${magic.toString(16)}, version ${version}, ${segment.length} bytes); remove it with unlink('${url}') if it is left over`,
    });
  }
  const problem = L.headerProblem(segment.view, segment.length);
  if (problem !== undefined) {
    throw new ValidationError(`header.${problem.field}`, problem.expected, problem.value, {
      message:
        `${url} has a damaged pub/sub header: ${problem.field} is ${problem.value}, expected ${problem.expected}; ` +
        `it was not used: unlink('${url}') it if it is left over, and check who else writes it`,
    });
  }
  const incompatible = files.codecMismatch(pubsubKind, segment, url, codec);
  if (incompatible !== undefined) {
    throw new ValidationError('codec', 'the segment’s message layout', `codec '${codec.name}'`, {
      message: incompatible,
    });
  }
  const policy = segment.u32(L.header.policy) === L.POLICY_OVERWRITE ? 'overwrite' : 'block';
  if (options.policy !== undefined && options.policy !== policy) {
    throw new ValidationError('policy', `'${policy}' (the segment's)`, `'${options.policy}'`, {
      message: `${url} was created with policy '${policy}', not '${options.policy}'; leave policy out to join it, or unlink it and create it again`,
    });
  }
}

/** Opens (and with `create`, creates) a pub/sub segment, checked against the codec and the options, and maps it. */
export function attachSegment(
  address: PubSubAddress,
  codec: MessageCodec<unknown>,
  options: CheckedOptions,
): files.Segment {
  const { name, create, exclusive } = options;
  const url = address.url;
  const plan: files.OpenPlan = { name, url, create, exclusive, swept: false, shape: pubsubShape(codec, options) };
  for (let attempt = 0; attempt < L.OPEN_ATTEMPTS; attempt++) {
    const segment = files.openRound(pubsubKind, plan);
    if (segment === undefined) continue;
    try {
      checkSegment(segment, url, codec, options);
    } catch (error) {
      segment.unmap();
      throw error;
    }
    return segment;
  }
  throw systemError(errnos.EBUSY, 'open', name, 'the segment kept changing while opening it; try again');
}

/**
 * Takes a free entry of the table (or one a dead process left) after checking the doorbell directory,
 * and binds `bell` as doorbell `bellBase + entry`. Returns the entry; SystemError EUSERS when the table is full.
 */
export function registerHandle(
  segment: files.Segment,
  table: RegistryLayout,
  bellBase: number,
  bell: Doorbell,
  url: string,
  role: 'subscriber' | 'publisher',
): number {
  const id = segment.view.getBigUint64(L.header.bell_id, true);
  const entry = files.claimHandle(
    segment,
    table,
    { id, base: bellBase, doorbell: bell },
    url,
    () => `${url}: this process may not create its doorbell; the segment's owner grants its doorbells like its segment`,
  );
  if (entry >= 0) return entry;
  throw systemError(
    errnos.EUSERS,
    'open',
    url,
    `the ${role} table is full: all ${table.count} ${role} entries are held by live processes ` +
      `(the segment was created with ${role}s: ${table.count}); close one, or create the segment with more`,
  );
}

/** Removes a segment's name and the doorbells of its dead handles (live handles keep theirs until they close). */
export function unlinkSegment(name: string): void {
  const path = files.shmPath(name);
  let bells: { id: bigint; count: number; live: (bell: number) => boolean } | undefined;
  const fd = libc.open(path, libc.O_RDONLY | libc.O_CLOEXEC | libc.O_NOFOLLOW, 0);
  if (fd >= 0) {
    try {
      const bytes = new Uint8Array(L.REGISTRY_OFFSET);
      const { size } = fstatSync(fd);
      if (size >= L.REGISTRY_OFFSET && libc.read(fd, bytes, bytes.length) === bytes.length && L.isPubSubHeader(bytes)) {
        const view = new DataView(bytes.buffer);
        const subscribers = Math.min(view.getUint32(L.header.subscribers, true), L.MAX_SUBSCRIBERS);
        const publishers = Math.min(view.getUint32(L.header.publishers, true), L.MAX_PUBLISHERS);
        const count = subscribers + publishers;
        const registry = new Uint8Array(count * L.ENTRY_SIZE);
        const got = size >= L.REGISTRY_OFFSET + registry.length ? libc.read(fd, registry, registry.length) : 0;
        // An unreadable registry leaves every socket.
        const live =
          got === registry.length ? files.liveInCopy(registry, { ...subscriberTable(count), offset: 0 }) : () => true;
        bells = { id: view.getBigUint64(L.header.bell_id, true), count, live };
      }
    } finally {
      libc.close(fd);
    }
  }
  files.unlinkName(name, bells);
}
