/**
 * Damaged and hostile segments: a header whose fields disagree with each other or with the file is
 * refused by Node and by C (never a RangeError or a SIGSEGV), and a segment truncated under live
 * peers (real processes, Node and C, sleeping as consumers and as producers) makes them fail with an
 * error instead of dying of SIGBUS.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ringLayout } from '../../src/channels/ring.js';
import { ValidationError } from '../../src/errors.js';
import { open, unlink } from '../../src/index.js';
import { Cleanup, uniqueName } from '../helpers.js';
import { type Peer, ringPeers, Sample, sample } from './ring-fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const { cPeer, nodePeer } = ringPeers(cleanup);

function ringUrl(tag: string): string {
  const url = `shm:/${uniqueName(tag)}`;
  cleanup.add(() => unlink(url));
  return url;
}

/** Creates a ring of `capacity` samples holding `messages`, with no handle left open on it. */
async function freshRing(tag: string, capacity = 8, messages = 0): Promise<string> {
  const url = ringUrl(tag);
  const channel = await open(url, Sample, { create: true, capacity });
  for (let i = 0; i < messages; i++) channel.trySend(sample(1, i));
  await channel.close();
  return url;
}

/** Overwrites `bytes` of the segment's file at `offset` (pwrite: the test never maps a hostile segment). */
function patch(url: string, offset: number, bytes: Buffer): void {
  const fd = openSync(`/dev/shm${url.slice(4)}`, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0);
  return bytes;
};
const u64 = (value: bigint): Buffer => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return bytes;
};

const L = ringLayout;
/** The fresh ring: 8 slots of 24 bytes. */
const DATA = L.dataOffsetFor(8);
const TOTAL = DATA + 8 * 24;

/** [what is damaged, the field Node and C must name, the change] */
const damages: readonly (readonly [string, string, (url: string) => void])[] = [
  ['seq offset 0x7ffffff0', 'seq_offset', (url) => patch(url, L.OFF_SEQ, u32(0x7ffffff0))],
  ['data offset past the file', 'data_offset', (url) => patch(url, L.OFF_DATA, u32(0x7fff0000))],
  ['data offset inside the seq words', 'data_offset', (url) => patch(url, L.OFF_DATA, u32(L.SEQ_OFFSET))],
  ['slots not a power of two', 'slots', (url) => patch(url, L.OFF_SLOTS, u32(12))],
  ['slots 2^30', 'slots', (url) => patch(url, L.OFF_SLOTS, u32(2 ** 30))],
  ['capacity 0', 'capacity', (url) => patch(url, L.OFF_CAPACITY, u32(0))],
  ['capacity above the slots', 'capacity', (url) => patch(url, L.OFF_CAPACITY, u32(9))],
  ['message size 0', 'msg_size', (url) => patch(url, L.OFF_MSG_SIZE, u32(0))],
  ['message size 2 GiB', 'msg_size', (url) => patch(url, L.OFF_MSG_SIZE, u32(0x80000000))],
  ['message size that does not add up', 'total_size', (url) => patch(url, L.OFF_MSG_SIZE, u32(48))],
  ['max handles 65', 'max_handles', (url) => patch(url, L.OFF_MAX_HANDLES, u32(65))],
  ['total size 2^63', 'total_size', (url) => patch(url, L.OFF_TOTAL_SIZE, u64(2n ** 63n))],
  ['file shorter than the ring', 'file size', (url) => truncateSync(`/dev/shm${url.slice(4)}`, TOTAL - 24)],
  ['file longer than the ring', 'file size', (url) => truncateSync(`/dev/shm${url.slice(4)}`, TOTAL + 4096)],
];

describe('shm ring: damaged headers are refused, naming the field', () => {
  it.each(damages)('%s: Node throws a ValidationError, C gets -EBADMSG', async (_, field, damage) => {
    const url = await freshRing('hdr');
    damage(url);
    const before = readFileSync(`/dev/shm${url.slice(4)}`);
    const error = await open(url, Sample).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).path).toBe(`header.${field}`);
    expect((error as Error).message).toContain(`${field} is `);
    // Not replaced either, even with create: a damaged ring is not ours to throw away.
    await expect(open(url, Sample, { create: true })).rejects.toThrow(`${field} is `);
    const c = await cPeer('consume', url.slice(4), '1', '1').done;
    expect(c.signal).toBeNull();
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('open: Bad message: damaged ring header');
    expect(c.stderr).toContain(`${field} is `);
    expect(readFileSync(`/dev/shm${url.slice(4)}`).equals(before)).toBe(true);
  });

  it('the undamaged control opens in Node and in C', async () => {
    const url = await freshRing('hdr', 8, 1);
    const c = await cPeer('consume', url.slice(4), '1', '1').done;
    expect(c).toMatchObject({ code: 0, signal: null });
    await (await open(url, Sample)).close();
  });
});

/** Waits until the header's sleeper mask at `offset` has `count` bits set (read with read(2), not mapped). */
async function sleepers(url: string, offset: number, count: number): Promise<void> {
  const path = `/dev/shm${url.slice(4)}`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    const header = readFileSync(path).subarray(offset, offset + 8);
    let bits = 0;
    for (const byte of header) for (let b = byte; b !== 0; b &= b - 1) bits++;
    if (bits >= count) return;
    if (performance.now() > deadline) throw new Error(`only ${bits} of ${count} peers went to sleep on ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The doorbell directory of a ring, named by the ring id in its header. */
function bellDirectoryOf(url: string): string {
  const id = readFileSync(`/dev/shm${url.slice(4)}`).readBigUInt64LE(L.OFF_RING_ID);
  return `/dev/shm/.tipc-bells.${id.toString(16).padStart(16, '0')}`;
}

/** A peer that must end with an error message, not a signal. */
async function failedCleanly(peer: Peer, message: RegExp): Promise<void> {
  const result = await peer.done;
  expect(result.signal).toBeNull();
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(message);
}

describe('shm ring: a segment truncated under live peers', () => {
  it.each([0, L.SEQ_OFFSET + 64])(
    'to %i bytes: sleeping Node and C consumers and producers fail with an error, not SIGBUS',
    async (size) => {
      const empty = await freshRing('trunc');
      const full = await freshRing('trunc', 4, 4);
      const consumers = [cPeer('consume', empty.slice(4), '1', '1'), nodePeer('consume', empty, '1', '1')];
      const producers = [cPeer('produce', full.slice(4), '5', '1', '1'), nodePeer('produce', full, '6', '1', '1')];
      await sleepers(empty, 256, 2);
      await sleepers(full, 264, 2);
      // Truncated, a ring no longer says which doorbell directory is its own: the test removes them itself.
      for (const url of [empty, full]) {
        const directory = bellDirectoryOf(url);
        cleanup.add(() => rmSync(directory, { recursive: true, force: true }));
      }
      truncateSync(`/dev/shm${empty.slice(4)}`, size);
      const fd = openSync(`/dev/shm${full.slice(4)}`, 'r+');
      ftruncateSync(fd, size);
      closeSync(fd);
      const c = /Input\/output error/;
      const node = /ChannelClosedError: .*the segment was truncated to \d+ bytes under this channel/;
      await Promise.all([
        failedCleanly(consumers[0]!, c),
        failedCleanly(consumers[1]!, node),
        failedCleanly(producers[0]!, c),
        failedCleanly(producers[1]!, node),
      ]);
      // Opening it now is refused by its size, in both languages.
      await expect(open(empty, Sample)).rejects.toThrow(size === 0 ? /not a typed-ipc ring/ : /file size is 4672/);
      const late = await cPeer('consume', full.slice(4), '1', '1').done;
      expect(late).toMatchObject({ code: 2, signal: null });
    },
  );
});
