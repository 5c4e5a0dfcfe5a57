/**
 * What the pub/sub tests and their peers (Node: pubsub-peer.ts, C: test/c/pubsub_peer.c) share: the
 * message (64 bytes: a torn one is caught by its words), how a subscriber checks what it receives, and
 * how to run peers as child processes and read their lines.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { array, cHeader, type Infer, struct, u16, u64 } from '../../src/codecs/index.js';
import { compileC, repoRoot } from '../helpers.js';

/** `struct ps_sample { uint16_t source; uint64_t seq; uint64_t words[6]; }`: words[i] = seq * (i + 1) + source. */
export const PsSample = struct('ps_sample', { source: u16, seq: u64, words: array(u64, 6) });
export type PsSample = Infer<typeof PsSample>;

/** The message `seq` of publisher `source`. */
export function psSample(source: number, seq: number | bigint): PsSample {
  const s = BigInt(seq);
  const words = Array.from({ length: 6 }, (_, i) => (s * BigInt(i + 1) + BigInt(source)) & 0xffffffffffffffffn);
  return { source, seq: s, words };
}

/** The source of the message that ends a subscriber peer's loop. */
export const STOP = 65535;

/** The C header of PsSample, for the C peer. */
export const psSampleHeader = (): string => cHeader([PsSample]);

/** Whether every word of a received sample agrees with its seq and source (a torn message does not). */
export function whole(value: PsSample): boolean {
  return value.words.every((w, i) => w === ((value.seq * BigInt(i + 1) + BigInt(value.source)) & 0xffffffffffffffffn));
}

/** The lines a child prints, as they come: `next(prefix)` resolves with the first line starting with it. */
export class Lines {
  readonly #seen: string[] = [];
  readonly #waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  stderr = '';

  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.#seen.push(line);
      for (const waiter of [...this.#waiters]) {
        if (line.startsWith(waiter.prefix)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  /** Every line so far. */
  get all(): readonly string[] {
    return this.#seen;
  }

  /** The first line (already seen or to come) that starts with `prefix`. */
  next(prefix: string): Promise<string> {
    const line = this.#seen.find((l) => l.startsWith(prefix));
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => this.#waiters.push({ prefix, resolve }));
  }
}

/** What a subscriber peer reports at the end: `ok <delivered> <missed> <skipped> <position>` and `s <source> <count> <first> <last>` lines. */
export interface Report {
  delivered: number;
  missed: number;
  skipped: number;
  position: number;
  sources: Map<number, { count: number; first: number; last: number }>;
}

/** Parses a subscriber peer's report from its lines. */
export function parseReport(lines: readonly string[]): Report {
  const ok = lines.find((l) => l.startsWith('ok '));
  if (ok === undefined) throw new Error(`no report in ${JSON.stringify(lines)}`);
  const [delivered, missed, skipped, position] = ok.split(' ').slice(1).map(Number) as [number, number, number, number];
  const sources = new Map<number, { count: number; first: number; last: number }>();
  for (const line of lines.filter((l) => l.startsWith('s '))) {
    const [source, count, first, last] = line.split(' ').slice(1).map(Number) as [number, number, number, number];
    sources.set(source, { count, first, last });
  }
  return { delivered, missed, skipped, position, sources };
}

/** The C peer (test/c/pubsub_peer.c with PsSample's generated header before it), compiled once per change. */
export function cPeerBinary(): string {
  const source = readFileSync(join(repoRoot, 'test', 'c', 'pubsub_peer.c'), 'utf8');
  return compileC('pubsub_peer', [`${psSampleHeader()}\n${source}`]);
}
