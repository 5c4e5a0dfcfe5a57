/**
 * Schemas shared by the ring tests and the Node peer. `Sample` is the channel tests' measurement
 * sample (test/channels/sample.ts), the layout test/c/ring_peer.c uses; peers put their producer id
 * in `channel` and `id * 1e9 + timestamp` in `value`, so a consumer can check every message for
 * tearing and FIFO order per producer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { ringLayout } from '../../src/channels/ring.js';
import { f64, struct, u32, u64 } from '../../src/index.js';
import { type Cleanup, compileC, finished, repoRoot, spawnTs } from '../helpers.js';
import { Sample } from './sample.js';

export { Sample };

/** Same size as `Sample`, different layout (and fingerprint). */
export const Wide = struct('wide', { channel: u32, timestamp: u64, value: f64 });
/** A smaller struct (16 bytes). */
export const Small = struct('small', { timestamp: u64, value: f64 });

/** The sample producer `id` sends as its `i`-th message. */
export function sample(id: number, i: number): Sample {
  return { channel: id, timestamp: BigInt(i), value: id * 1e9 + i };
}

/**
 * Puts the ring `/dev/shm<name>` at `position`, as if `position` messages had passed through it:
 * tail = head = position, and each slot's word says it is free for its next position. Only for a
 * ring no peer has attached yet (or all have closed): it rewrites the counters under their feet.
 */
export function startRingAt(name: string, position: bigint): void {
  const { slots: OFF_SLOTS, seq_offset: OFF_SEQ, tail: OFF_TAIL, head: OFF_HEAD } = ringLayout.header;
  const fd = openSync(`/dev/shm${name}`, 'r+');
  try {
    const header = Buffer.alloc(OFF_SEQ + 4);
    readSync(fd, header, 0, header.length, 0);
    const slots = header.readUInt32LE(OFF_SLOTS);
    const seq = header.readUInt32LE(OFF_SEQ);
    const words = Buffer.alloc(4 * slots);
    for (let i = 0n; i < BigInt(slots); i++) {
      const p = position + i;
      words.writeUInt32LE(Number(p & 0xffffffffn), 4 * Number(p % BigInt(slots)));
    }
    writeSync(fd, words, 0, words.length, seq);
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64LE(position);
    writeSync(fd, counter, 0, 8, OFF_TAIL);
    writeSync(fd, counter, 0, 8, OFF_HEAD);
  } finally {
    closeSync(fd);
  }
}

/** A running peer; `done` is taken at spawn time so that an early exit is never missed. */
export interface Peer {
  readonly child: ChildProcess;
  readonly done: ReturnType<typeof finished>;
}

/** Spawners of C (test/c/ring_peer.c) and Node (ring-peer.ts) ring peers, killed by `cleanup` if still running. */
export function ringPeers(cleanup: Cleanup) {
  const env = { ...process.env, TIPC_FINGERPRINT: Sample.fingerprint };
  const track = (child: ChildProcess): Peer => {
    cleanup.add(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
    return { child, done: finished(child) };
  };
  return {
    track,
    cPeer: (...args: string[]): Peer =>
      track(spawn(compileC('ring_peer', [`${repoRoot}/test/c/ring_peer.c`]), args, { stdio: 'pipe', env })),
    nodePeer: (...args: string[]): Peer => track(spawnTs('test/channels/ring-peer.ts', args)),
  };
}

/** Sum over producers `ids` of what a consumer prints: count, sum of ids, sum of timestamps. */
export function expected(ids: readonly number[], perProducer: number): [number, number, bigint] {
  const stamps = BigInt((perProducer * (perProducer - 1)) / 2) * BigInt(ids.length);
  return [ids.length * perProducer, ids.reduce((a, b) => a + b, 0) * perProducer, stamps];
}

/** What a consumer peer printed: count, sum of ids, sum of timestamps. */
export function parseOk(stdout: string): [number, number, bigint] {
  const match = /^ok (\d+) (\d+) (\d+)$/m.exec(stdout);
  if (!match) throw new Error(`consumer did not report: ${stdout}`);
  return [Number(match[1]), Number(match[2]), BigInt(match[3]!)];
}
