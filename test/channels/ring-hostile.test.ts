/**
 * Damaged and hostile segments: a header whose fields disagree with each other or with the file is
 * refused by Node and by C (never a RangeError or a SIGSEGV), and a segment truncated under live
 * peers (real processes, Node and C, sleeping as consumers and as producers) makes them fail with an
 * error instead of dying of SIGBUS.
 */
import { closeSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ringLayout } from '../../src/channels/ring.js';
import { ValidationError } from '../../src/errors.js';
import { open, unlink } from '../../src/index.js';
import { Cleanup, uniqueName } from '../helpers.js';
import { ringAttacks } from './ring-attacks.js';
import { ringPeers, Sample, sample } from './ring-fixtures.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const { cPeer } = ringPeers(cleanup);
const attacks = ringAttacks(cleanup);
afterAll(() => attacks.dispose());

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
  ['seq offset 0x7ffffff0', 'seq_offset', (url) => patch(url, L.header.seq_offset, u32(0x7ffffff0))],
  ['data offset past the file', 'data_offset', (url) => patch(url, L.header.data_offset, u32(0x7fff0000))],
  ['data offset inside the seq words', 'data_offset', (url) => patch(url, L.header.data_offset, u32(L.SEQ_OFFSET))],
  ['slots not a power of two', 'slots', (url) => patch(url, L.header.slots, u32(12))],
  ['slots 2^30', 'slots', (url) => patch(url, L.header.slots, u32(2 ** 30))],
  ['capacity 0', 'capacity', (url) => patch(url, L.header.capacity, u32(0))],
  ['capacity above the slots', 'capacity', (url) => patch(url, L.header.capacity, u32(9))],
  ['message size 0', 'msg_size', (url) => patch(url, L.header.msg_size, u32(0))],
  ['message size 2 GiB', 'msg_size', (url) => patch(url, L.header.msg_size, u32(0x80000000))],
  ['message size that does not add up', 'total_size', (url) => patch(url, L.header.msg_size, u32(48))],
  ['max handles 65', 'max_handles', (url) => patch(url, L.header.max_handles, u32(65))],
  ['total size 2^63', 'total_size', (url) => patch(url, L.header.total_size, u64(2n ** 63n))],
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

describe('shm ring: a segment truncated under live peers', () => {
  it.each([0, L.SEQ_OFFSET + 64])(
    'to %i bytes: sleeping Node and C consumers and producers fail with an error, not SIGBUS',
    (size) => attacks.truncate(size),
  );
});
