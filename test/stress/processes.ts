/** Starting stress peers (`peer.ts`) in child processes and draining a consumer into a checker. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Message, TimeoutError } from '../../src/index.js';
import { finished, repoRoot, spawnTs } from '../helpers.js';
import type { Sample, SequenceChecker } from './sample.js';
import type { Consumer, TransportEntry } from './transports.js';

/** A peer process and the promise of its end. */
export interface Peer {
  readonly child: ChildProcess;
  readonly done: ReturnType<typeof finished>;
}

/** The peer bundled into one file by the global setup (tsx's start-up costs ~1 s of CPU per process). */
export const peerBundle = join(repoRoot, 'test', 'stress', '.build', 'peer.mjs');

/** The `typed-ipc` command bundled by the global setup, for `typed-ipc ls` between fault rounds. */
export const cliBundle = join(repoRoot, 'test', 'stress', '.build', 'cli.mjs');

/** Starts `peer.ts` with these arguments, from the bundle when there is one. */
export function spawnPeer(args: readonly string[]): ChildProcess {
  if (!existsSync(peerBundle)) return spawnTs('test/stress/peer.ts', args);
  return spawn(process.execPath, [peerBundle, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts a producer process sending `count` samples as producer `id`. */
export function startProducer(
  entry: TransportEntry,
  url: string,
  id: number,
  count: number,
  resume = false,
  paceMs = 0,
): Peer {
  const args = ['produce', entry.name, url, String(id), String(count), resume ? 'resume' : 'once', String(paceMs)];
  const child = spawnPeer(args);
  return { child, done: finished(child, 1_800_000) };
}

/** Starts a consumer process that stops receiving after `pauseAfter` samples; resolves once it printed `ready`. */
export async function startConsumer(
  entry: TransportEntry,
  url: string,
  capacity: number,
  pauseAfter: number,
): Promise<Peer> {
  const child = spawnPeer(['consume', entry.name, url, String(capacity), String(pauseAfter)]);
  const done = finished(child, 1_800_000);
  await printed(child, done, 'ready');
  return { child, done };
}

/** Resolves once the child printed `line` (a whole line); rejects if it ends first. */
export function printed(child: ChildProcess, done: Peer['done'], line: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer | string) => {
      out += String(chunk);
      if (out.includes(`${line}\n`)) resolve();
    });
    void done.then((r) => reject(new Error(`peer ended before "${line}": ${r.code ?? r.signal} ${r.stderr}`)));
  });
}

/**
 * Receives into `checker` until `expected` samples arrived, or nothing arrived for `silenceMs`, or
 * nothing arrived for a second after `producersDone` settled (what is missing then never comes).
 * Errors other than a timeout are collected and returned (a transport reporting a DecodeError).
 */
export async function drain(
  consumer: Consumer<Sample>,
  checker: SequenceChecker,
  expected: number,
  silenceMs: number,
  producersDone?: Promise<unknown>,
  onSample?: (sample: Sample) => void,
): Promise<unknown[]> {
  const errors: unknown[] = [];
  let done = false;
  void producersDone?.then(
    () => (done = true),
    () => (done = true),
  );
  let quiet = 0;
  while (checker.received < expected && quiet < (done ? 1_000 : silenceMs)) {
    let message: Message<Sample>;
    try {
      message = await consumer.receive({ timeoutMs: 250 });
    } catch (error) {
      if (error instanceof TimeoutError || (error instanceof Error && /within \d+ ms/.test(error.message))) {
        quiet += 250;
        continue;
      }
      errors.push(error);
      if (errors.length > 100) break;
      continue;
    }
    quiet = 0;
    onSample?.(message.value);
    checker.add(message.value);
  }
  return errors;
}
