/** Starting stress peers (`peer.ts`) in child processes and draining a consumer into a checker. */
import type { ChildProcess } from 'node:child_process';
import { type Message, TimeoutError } from '../../src/index.js';
import { finished, spawnTs } from '../helpers.js';
import type { Sample, SequenceChecker } from './sample.js';
import type { Consumer, TransportEntry } from './transports.js';

/** A peer process and the promise of its end. */
export interface Peer {
  readonly child: ChildProcess;
  readonly done: ReturnType<typeof finished>;
}

/** Starts a producer process sending `count` samples as producer `id`. */
export function startProducer(entry: TransportEntry, url: string, id: number, count: number, resume = false): Peer {
  const child = spawnTs(
    'test/stress/peer.ts',
    ['produce', entry.name, url, String(id), String(count)].concat(resume ? ['resume'] : []),
  );
  return { child, done: finished(child, 1_800_000) };
}

/** Starts a consumer process; resolves once it printed `ready` (its end exists). */
export async function startConsumer(entry: TransportEntry, url: string, capacity: number): Promise<Peer> {
  const child = spawnTs('test/stress/peer.ts', ['consume', entry.name, url, String(capacity)]);
  const done = finished(child, 1_800_000);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer | string) => {
      out += String(chunk);
      if (out.includes('ready\n')) resolve();
    });
    void done.then((r) => reject(new Error(`consumer ended before ready: ${r.code ?? r.signal} ${r.stderr}`)));
  });
  return { child, done };
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
    checker.add(message.value);
  }
  return errors;
}
