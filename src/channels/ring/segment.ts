/**
 * The ring's segment: what its header holds and how it is checked against the protocol and the codec,
 * writing a new ring's header, replacing a stale ring, taking a handle in its registry, and reading its
 * header without joining it (docs/ring-protocol.md, "Creating, opening, stale segments" and "Trust
 * model"). The file mechanics it shares with pub/sub (mapping, building and publishing, the open round,
 * the claim of an entry) are segment-file.ts.
 */
import { fstatSync, statSync } from 'node:fs';
import type { MessageCodec } from '../../codecs/codec.js';
import { ValidationError } from '../../errors.js';
import { errnos, libc, systemError } from '../../native/index.js';
import { checkCreate, checkInteger, checkMode } from '../options.js';
import type { OpenOptions } from '../transport.js';
import type { Address } from '../url.js';
import { type Doorbell, removeBellDirectory } from './doorbell.js';
import { readHeaderBytes, ringFingerprintOf } from './header.js';
import * as L from './layout.js';
import { entryLive, type RegistryLayout, registryUnused } from './liveness.js';
import * as files from './segment-file.js';

const DEFAULT_CAPACITY = 1024;

/** Rings, to the code they share with pub/sub segments. */
const ringKind: files.SegmentKind = {
  layout: L,
  bellIdAt: L.header.ring_id,
  scheme: 'shm',
  noun: 'ring',
  variableSize: (codec) =>
    `shm rings carry fixed-size messages; codec '${codec.name}' is variable-size (use a struct codec, or a socket or message queue)`,
  slot: 'a ring slot',
  temporary: '.tipc-ring',
  headerBytes: L.SEQ_OFFSET,
};

/** The address of a ring (its scheme already checked). */
export type ShmAddress = Extract<Address, { scheme: 'mq' | 'shm' }>;

/** The ring's registry of handles: 64 entries from byte 512; a new owner clears the dead owner's intents. */
export const ringRegistry: RegistryLayout = {
  offset: L.OFF_REGISTRY,
  count: L.HANDLES,
  entrySize: L.ENTRY_SIZE,
  pid: L.entry.pid,
  startTime: L.entry.start_time,
  clear: [L.entry.prod_count, L.entry.cons_count],
};

/** The fingerprint a mapped ring was created with ('' when unknown). */
export function ringFingerprint(segment: files.Segment): string {
  return ringFingerprintOf(segment.u8);
}

/** Whether a live process holds registry entry `e` of a mapped ring. */
export function handleLive(segment: files.Segment, e: number): boolean {
  return entryLive(segment, ringRegistry, e);
}

/** Why an existing segment cannot be attached with this codec. */
interface Mismatch {
  readonly kind: 'foreign' | 'corrupt' | 'incompatible';
  readonly message: string;
  /** For a corrupt header: the field that is wrong, what it holds and what it must hold. */
  readonly field?: string;
  readonly value?: string;
  readonly expected?: string;
}

/** Checks a mapped header against the protocol and the codec; undefined when they match. */
function mismatch(segment: files.Segment, url: string, codec: MessageCodec<unknown>): Mismatch | undefined {
  const magic = Atomics.load(segment.i64, L.header.magic >> 3);
  const version = segment.u32(L.header.version);
  if (segment.length < L.SEQ_OFFSET || magic !== L.MAGIC || version !== L.VERSION) {
    return {
      kind: 'foreign',
      message: `${url} is not a typed-ipc ring of protocol version ${L.VERSION} (magic 0x${magic.toString(16)}, version ${version}); remove it with unlink('${url}') if it is left over`,
    };
  }
  const problem = L.headerProblem(segment.view, segment.length);
  if (problem !== undefined) {
    return {
      kind: 'corrupt',
      ...problem,
      message:
        `${url} has a damaged ring header: ${problem.field} is ${problem.value}, expected ${problem.expected}; ` +
        `it was not used (nor replaced): unlink('${url}') it if it is left over, and check who else writes it`,
    };
  }
  const incompatible = files.codecMismatch(ringKind, segment, url, codec);
  return incompatible === undefined ? undefined : { kind: 'incompatible', message: incompatible };
}

/** A new ring for `codec` of `capacity` messages: every slot free for its first lap. */
function ringShape(codec: MessageCodec<unknown>, capacity: number, mode: number): files.Shape {
  return {
    codec,
    capacity,
    mode,
    seqOffset: L.SEQ_OFFSET,
    dataOffset: L.dataOffsetFor,
    firstWord: (i) => i,
    fill: (view) => view.setUint32(L.header.max_handles, L.HANDLES, true),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Tries to replace an incompatible ring nobody uses; false when it is in use. */
async function replaceStale(name: string, codec: MessageCodec<unknown>, capacity: number, mode: number) {
  const fd = libc.shmOpen(name, libc.O_RDWR | libc.O_CLOEXEC, 0);
  if (fd < 0) return true; // gone meanwhile: start over
  try {
    // Whoever replaces a segment holds its lock and checks that the name still points at it.
    if (libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB) !== 0) {
      await sleep(1);
      return true;
    }
    const before = fstatSync(fd);
    let now: ReturnType<typeof statSync>;
    try {
      now = statSync(files.shmPath(name));
    } catch {
      return true;
    }
    // Changed meanwhile, or no longer a ring: start over (the opener reports what it finds).
    if (before.ino !== now.ino || before.size < L.SEQ_OFFSET) return true;
    const segment = new files.Segment(fd, before.size, name);
    const unused = registryUnused(segment, ringRegistry);
    const oldId = segment.view.getBigUint64(L.header.ring_id, true);
    segment.unmap();
    if (!unused) return false;
    const { temporary, bellId } = files.buildSegment(ringKind, name, ringShape(codec, capacity, mode));
    if (libc.rename(temporary, files.shmPath(name)) !== 0) {
      const errno = libc.errno();
      libc.unlink(temporary);
      removeBellDirectory(bellId, 0);
      throw systemError(errno, 'rename', name);
    }
    // Only a ring of this protocol has a doorbell directory to remove; a foreign segment is never replaced.
    removeBellDirectory(oldId, L.HANDLES);
    return true;
  } finally {
    libc.close(fd);
  }
}

/** Checks the URL, the codec and the options of an open; returns the name, capacity and mode. */
function validateOptions(address: ShmAddress, codec: MessageCodec<unknown>, options: OpenOptions) {
  files.checkNameAndCodec(ringKind, address, codec);
  const { name } = address;
  const capacity = checkInteger(
    'capacity',
    options.capacity ?? DEFAULT_CAPACITY,
    1,
    L.MAX_CAPACITY,
    `an integer in [1, ${L.MAX_CAPACITY}] (messages)`,
  );
  const { create, exclusive } = checkCreate(options);
  return { name, capacity, mode: checkMode(options.mode), create, exclusive };
}

/** Opens (and with `create`, creates or recovers) a ring's segment, checked against the codec, and maps it. */
export async function attachSegment(
  address: ShmAddress,
  codec: MessageCodec<unknown>,
  options: OpenOptions,
): Promise<files.Segment> {
  const { name, capacity, mode, create, exclusive } = validateOptions(address, codec, options);
  const url = address.url;
  // `exclusive` must create the segment itself; once it did, the loop opens what it created.
  const plan: files.OpenPlan = { name, url, create, exclusive, swept: false, shape: ringShape(codec, capacity, mode) };
  for (let attempt = 0; attempt < L.OPEN_ATTEMPTS; attempt++) {
    const segment = files.openRound(ringKind, plan);
    if (segment === undefined) continue;
    const found = mismatch(segment, url, codec);
    if (found === undefined) return segment;
    segment.unmap();
    if (found.kind === 'foreign') {
      throw new ValidationError('url', 'a typed-ipc ring', 'another kind of segment', { message: found.message });
    }
    if (found.kind === 'corrupt') {
      throw new ValidationError(`header.${found.field}`, found.expected ?? '', found.value ?? '', {
        message: found.message,
      });
    }
    if (!create) {
      throw new ValidationError('codec', 'the ring’s message layout', `codec '${codec.name}'`, {
        message: found.message,
      });
    }
    if (!(await replaceStale(name, codec, capacity, mode))) {
      throw new ValidationError('codec', 'the ring’s message layout', `codec '${codec.name}'`, {
        message: `${found.message} (it is in use by a live process, so it was not replaced)`,
      });
    }
  }
  throw systemError(errnos.EBUSY, 'open', name, 'the segment kept being replaced while opening it; try again');
}

/**
 * Takes a free registry entry of the mapped ring, or one left by a dead process, after checking its
 * doorbell directory, and binds `bell` as that entry's doorbell. Returns the entry.
 */
export function registerHandle(segment: files.Segment, bell: Doorbell, url: string): number {
  const id = segment.view.getBigUint64(L.header.ring_id, true);
  const entry = files.claimHandle(
    segment,
    ringRegistry,
    { id, base: 0, doorbell: bell },
    url,
    (path) =>
      `${url}: this process may not create its doorbell in ${path.replace(/\/\d+$/, '')}; the ring's ` +
      'owner grants its doorbells like its segment (write access to the segment gives access to the directory)',
  );
  if (entry >= 0) return entry;
  throw systemError(
    errnos.EUSERS,
    'open',
    url,
    `all ${L.HANDLES} handles of the ring are held by live processes; close some channels on it`,
  );
}

/** The ring id and the live entries of the ring in `path`, read from the file (not mapped); undefined if not a ring. */
function readRegistry(path: string): { ringId: bigint; live: (entry: number) => boolean } | undefined {
  let header: Buffer | undefined;
  try {
    header = readHeaderBytes(path, L.SEQ_OFFSET);
  } catch {
    return undefined;
  }
  if (header === undefined || !L.isRingHeader(header)) return undefined;
  return { ringId: header.readBigUInt64LE(L.header.ring_id), live: files.liveInCopy(header, ringRegistry) };
}

/** Removes a ring's name and the doorbells of its dead handles (live handles keep theirs until they close). */
export function unlinkSegment(name: string): void {
  const registry = readRegistry(files.shmPath(name));
  files.unlinkName(name, registry && { id: registry.ringId, count: L.HANDLES, live: registry.live });
}
