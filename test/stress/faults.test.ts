/**
 * Faults: producers and consumers SIGKILLed at random moments. Survivors keep working, no torn
 * sample is ever delivered, a killed producer's samples arrive as a whole prefix, and a consumer
 * that replaces a killed one (same URL: reopened queue or ring, rebound socket over the stale file)
 * gets the producers' later samples in order.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ringLayout } from '../../src/channels/ring.js';
import { ringAttacks } from '../channels/ring-attacks.js';
import { Rng } from '../codecs/random-schemas.js';
import { Cleanup, finished, repoRoot, spawnTs } from '../helpers.js';
import { record } from './figures.js';
import { cliBundle, drain, type Peer, printed, startConsumer, startProducer } from './processes.js';
import { Sample, SequenceChecker } from './sample.js';
import { sizes } from './sizes.js';
import { allTransports, type Consumer, isAvailable, type TransportEntry } from './transports.js';

const table = await Promise.all(
  allTransports.map(async (entry) => ({ entry, available: await isAvailable(entry, Sample) })),
);
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Seeded PRNG (mulberry32, shared with the codec tests) so a failing round can be replayed with STRESS_SEEDS. */
function random(seedValue: number): () => number {
  const rng = new Rng(seedValue);
  return () => rng.float();
}

/** The one command that replays a test of this file with the seed it ran with (`-t` matches its name). */
function replay(seed: number, transport: string, kind: string): string {
  const pattern = `faults: '${transport}' .* ${kind} SIGKILLed .*\\(seed ${seed}\\)`.replace(/\+/g, '\\+');
  return (
    `STRESS_SEEDS=${seed} STRESS_FAULT_ROUNDS=${sizes.faultRounds} STRESS_FAULT_SAMPLES=${sizes.faultSamples} ` +
    `npx vitest run -c vitest.stress.config.ts test/stress/faults.test.ts -t "${pattern}"`
  );
}

/** With STRESS_DEBUG=<file>, the steps of every round are appended there (vitest holds console output). */
function step(text: string): void {
  if (process.env.STRESS_DEBUG) appendFileSync(process.env.STRESS_DEBUG, `${new Date().toISOString()} ${text}\n`);
}

/** What `typed-ipc ls` lists. */
async function listed(): Promise<string> {
  const child = existsSync(cliBundle)
    ? spawn(process.execPath, [cliBundle, 'ls'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawnTs(join(repoRoot, 'src', 'cli', 'main.ts'), ['ls']);
  // A guard, not a measure: a loaded machine may take long to start a process.
  const r = await finished(child, 120_000);
  return r.stdout;
}

/** Receives until `predicate` holds for the checker (or `ms` pass); returns the errors seen. */
async function receiveUntil(
  consumer: Consumer<Sample>,
  checker: SequenceChecker,
  predicate: () => boolean,
  ms: number,
): Promise<unknown[]> {
  const errors: unknown[] = [];
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) {
    try {
      checker.add((await consumer.receive({ timeoutMs: 250 })).value);
    } catch (error) {
      if (!(error instanceof Error && /timed out|within \d+ ms/.test(error.message))) errors.push(error);
    }
  }
  return errors;
}

/** Round of a killed producer: the survivor and the consumer go on, and a new producer can join. */
async function producerKilled(entry: TransportEntry, next: () => number): Promise<string[]> {
  const n = sizes.faultSamples;
  const url = await entry.url('fault');
  cleanup.add(() => entry.remove(url));
  const consumer = await entry.consumer(url, Sample, { capacity: 10 });
  cleanup.add(() => consumer.close());
  step(`${entry.name} producer round ${url}`);
  // The victim is paced (its n samples take about 2 s), so it is still sending when the consumer has
  // seen `killAt` of them: unpaced, a FIFO's 64 KiB or a socket's buffer takes all 1 000 samples at
  // once and the victim may be done before the kill (then the round kills nothing).
  const victim = startProducer(entry, url, 0, n, false, Math.max(1, Math.round(2_000 / (n / 32))));
  const survivor = startProducer(entry, url, 1, n);
  for (const p of [victim, survivor]) cleanup.add(() => p.child.kill('SIGKILL'));
  const checker = new SequenceChecker();
  // Kill once the victim is somewhere in the middle of its stream.
  const killAt = 1 + Math.floor(next() * (n / 2));
  const errors = await receiveUntil(consumer, checker, () => (checker.delivered.get(0) ?? 0) >= killAt, 60_000);
  step(`kill victim at ${killAt}, errors ${errors.length}`);
  victim.child.kill('SIGKILL');
  // Keep receiving while the survivor finishes: it waits for room (backpressure) otherwise.
  const both = Promise.all([victim.done, survivor.done]);
  errors.push(...(await drain(consumer, checker, Number.POSITIVE_INFINITY, 60_000, both)));
  const [v, s] = await both;
  step(`drained ${JSON.stringify([...checker.delivered])}`);
  // Reconnecting works: a new producer joins the same consumer.
  const late = startProducer(entry, url, 2, 100);
  cleanup.add(() => late.child.kill('SIGKILL'));
  await receiveUntil(consumer, checker, () => (checker.delivered.get(2) ?? 0) >= 100, 30_000);
  const l = await late.done;
  step('late producer done');
  const problems: string[] = [];
  // On UDP the consumer may never see `killAt` of the victim's samples (dropped), so it can finish first.
  if (v.signal !== 'SIGKILL' && entry.reliable) {
    problems.push(`victim was not killed mid-stream (exit ${v.code}, signal ${v.signal})`);
  }
  if (s.code !== 0) problems.push(`survivor failed: ${s.code} ${s.signal} ${s.stderr.trim()}`);
  if (l.code !== 0) problems.push(`late producer failed: ${l.code} ${l.signal} ${l.stderr.trim()}`);
  // A killed stream producer may leave half a record; reporting it (DecodeError) is fine, delivering it is not.
  const unexpected = errors.filter((e) => !(e instanceof Error && e.name === 'DecodeError'));
  if (unexpected.length > 0) problems.push(`errors: ${unexpected.map(String).join('; ')}`);
  if (checker.torn > 0) problems.push(`${checker.torn} torn samples delivered`);
  if (checker.duplicated + checker.late > 0)
    problems.push(`${checker.duplicated} duplicated, ${checker.late} reordered`);
  const got = (id: number) => checker.delivered.get(id) ?? 0;
  // Lost: what the survivor and the late producer sent that never arrived, and holes in the victim's
  // prefix (what it sent after its last delivered sample died with it, which is no loss).
  lostInRounds += n - got(1) + 100 - got(2) + (checker.next.get(0) ?? 0) - got(0);
  // UDP drops under load by design (see load.test.ts); elsewhere every survivor sample must arrive.
  if (entry.reliable && got(1) !== n) problems.push(`survivor: ${got(1)}/${n} arrived`);
  if (entry.reliable && got(2) !== 100) problems.push(`late producer: ${got(2)}/100 arrived`);
  if (!entry.reliable && got(1) + got(2) === 0) problems.push('nothing arrived from the survivors');
  if (entry.reliable && got(0) !== (checker.next.get(0) ?? 0)) {
    problems.push(`victim: ${got(0)} arrived but up to seq ${(checker.next.get(0) ?? 0) - 1} (a gap)`);
  }
  return problems;
}

/**
 * Round of a killed consumer: it stops receiving after a random number of samples (producers are then
 * mid-stream, held by backpressure) and is killed; a new consumer on the same URL must get, from each
 * producer, an unbroken run of samples up to its last one, and everything from where a producer that
 * had to reconnect resumed.
 */
async function consumerKilled(entry: TransportEntry, next: () => number): Promise<string[]> {
  const n = sizes.faultSamples * 10;
  const url = await entry.url('fault');
  cleanup.add(() => entry.remove(url));
  const pauseAfter = 1 + Math.floor(next() * (n / 10));
  const old = await startConsumer(entry, url, 10, pauseAfter);
  cleanup.add(() => old.child.kill('SIGKILL'));
  // 32 samples per batch, then a pause: n samples last about 2 s, well past the kill (at most
  // pauseAfter samples plus 300 ms in) and the replacement consumer's start. Every transport is paced:
  // unpaced, a whole round can fit in kernel buffers (UDP never waits, loopback TCP and UNIX stream
  // sockets buffer hundreds of KiB), and a producer with nothing left to send proves nothing about
  // the replacement. Backpressure still builds: the old consumer stops reading early.
  const pace = Math.max(1, Math.round(2_000 / (n / 32)));
  const producers: Peer[] = [0, 1].map((id) => startProducer(entry, url, id, n, true, pace));
  for (const p of producers) cleanup.add(() => p.child.kill('SIGKILL'));
  // A producer that finished before the kill has no later samples for the replacement consumer.
  const finishedEarly = new Set<number>();
  for (const [id, p] of producers.entries()) void p.done.then(() => finishedEarly.add(id));
  await Promise.race([printed(old.child, old.done, 'paused'), new Promise((r) => setTimeout(r, 60_000))]);
  // Let backpressure build up a little, then kill.
  await new Promise((resolve) => setTimeout(resolve, next() * 300));
  old.child.kill('SIGKILL');
  const midStream = [0, 1].filter((id) => !finishedEarly.has(id));
  const o = await old.done;
  step(`old consumer killed after ${pauseAfter}`);
  const problems: string[] = [];
  if (o.stdout.includes('torn')) problems.push(`old consumer saw a torn sample: ${o.stdout}`);
  // The killed consumer created the object: `typed-ipc ls` lists what it left (queues and rings).
  const file = entry.file(url);
  if (lsCovers(entry) && file !== undefined && existsSync(file)) {
    const ls = await listed();
    const name = url.slice(url.lastIndexOf('/') + 1);
    if (!ls.includes(name)) problems.push(`typed-ipc ls does not list ${name}`);
    lsChecked += 1;
  }
  const consumer = await entry.consumer(url, Sample, { capacity: 10 });
  cleanup.add(() => consumer.close());
  const checker = new SequenceChecker();
  const first = new Map<number, number>();
  const all = Promise.all(producers.map((p) => p.done));
  const errors = await drain(consumer, checker, Number.POSITIVE_INFINITY, 60_000, all, (s) => {
    if (!first.has(s.producer)) first.set(s.producer, s.seq);
  });
  const results = await all;
  step(`drained ${JSON.stringify([...checker.next])} first ${JSON.stringify([...first])}`);
  await consumer.close();
  // A socket file the killed consumer left was taken over by the new one, which removes it on close.
  if (entry.style !== 'open' && file !== undefined && existsSync(file))
    problems.push(`${file} left behind after close`);
  for (const r of results) if (r.code !== 0) problems.push(`producer failed: ${r.code} ${r.signal} ${r.stderr.trim()}`);
  const unexpected = errors.filter((e) => !(e instanceof Error && e.name === 'DecodeError'));
  if (unexpected.length > 0) problems.push(`errors: ${unexpected.map(String).join('; ')}`);
  if (checker.torn > 0) problems.push(`${checker.torn} torn samples delivered`);
  if (checker.duplicated + checker.late > 0)
    problems.push(`${checker.duplicated} duplicated, ${checker.late} reordered`);
  // The replacement consumer is what these rounds are about: a round in which it received nothing
  // proves nothing, and every producer still sending at the kill must reach it (UDP: may drop some).
  if (first.size === 0)
    problems.push(`the replacement consumer received nothing (mid-stream at the kill: ${midStream})`);
  for (const [id, r] of results.entries()) {
    const resumed = [...r.stdout.matchAll(/resumed (\d+)/g)].map((m) => Number(m[1]));
    const from = first.get(id);
    const got = checker.delivered.get(id) ?? 0;
    if (resumed.length > 0) resumedRounds += 1;
    if (from !== undefined) reachedNew += 1;
    // What the old consumer took (or held in its buffers) is gone with it; from the first sample the
    // new consumer sees, nothing may be missing, up to the producer's last.
    if (from !== undefined) lostInRounds += n - from - got;
    if (!entry.reliable) continue;
    if (from === undefined && midStream.includes(id)) {
      problems.push(`producer ${id} was still sending at the kill, but nothing of it reached the replacement consumer`);
    }
    if (from !== undefined && got !== n - from)
      problems.push(`producer ${id}: ${got} of seq ${from}..${n - 1} arrived`);
    const resume = resumed.at(-1);
    if (resume !== undefined && (from === undefined || from > resume)) {
      problems.push(`producer ${id} resumed at ${resume} but the new consumer's first sample was ${from ?? 'none'}`);
    }
  }
  return problems;
}

/** Which objects `typed-ipc ls` lists: queues (when /dev/mqueue is mounted) and shared-memory rings. */
function lsCovers(entry: TransportEntry): boolean {
  return entry.name === 'mq' || entry.name === 'shm';
}

let lostInRounds = 0;
let lsChecked = 0;
/** Producers that had to reconnect, and producers whose samples reached a replacement consumer. */
let resumedRounds = 0;
let reachedNew = 0;

describe.each(table)('faults: $entry.name', ({ entry, available }) => {
  const half = Math.max(1, Math.floor(sizes.faultRounds / 2));
  for (const seed of sizes.seeds) {
    for (const kind of ['producers', 'consumers'] as const) {
      it.skipIf(!available)(`${half} rounds with ${kind} SIGKILLed at random moments (seed ${seed})`, async () => {
        const next = random(seed ^ (entry.name.length * 7919) ^ (kind === 'producers' ? 1 : 2));
        const failures: string[] = [];
        lostInRounds = 0;
        lsChecked = 0;
        resumedRounds = 0;
        reachedNew = 0;
        for (let round = 0; round < half; round++) {
          let problems: string[];
          try {
            problems = kind === 'consumers' ? await consumerKilled(entry, next) : await producerKilled(entry, next);
          } catch (error) {
            problems = [`threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`];
          }
          await cleanup.run();
          if (problems.length > 0) {
            failures.push(`round ${round}: ${problems.join(', ')}`);
            // Shown at once: the assertion below reports them only when all rounds are over.
            console.error(`faults: ${entry.name} ${kind} seed ${seed} round ${round}: ${problems.join(', ')}`);
          }
        }
        const ls = kind === 'consumers' && lsCovers(entry) ? `, typed-ipc ls checked ${lsChecked} times` : '';
        const reach =
          kind === 'consumers'
            ? `, ${reachedNew} producers reached the new consumer, ${resumedRounds} reconnected`
            : '';
        record({
          section: 'faults',
          transport: entry.name,
          survived: half - failures.length,
          rounds: half,
          lost: lostInRounds,
          seed,
          note:
            `${kind} killed: ${half - failures.length}/${half} rounds survived, seed ${seed}${ls}${reach}, ` +
            `${lostInRounds} lost` +
            (entry.reliable ? '' : ' (UDP drops datagrams under load)'),
        });
        const again = replay(seed, entry.name, kind);
        if (failures.length > 0)
          console.error(`faults: ${entry.name} failed with seed ${seed}; replay with\n  ${again}`);
        expect(failures, `replay with: ${again}`).toEqual([]);
        if (entry.reliable) expect(lostInRounds, `replay with: ${again}`).toBe(0);
      });
    }
  }
});

/**
 * The shared-memory ring's segment truncated under live peers (scenario in
 * test/channels/ring-attacks.ts): C and Node consumers asleep on an empty ring and producers asleep
 * on a full one end with an error, never by SIGBUS; to nothing, and to a size that keeps the header.
 */
describe('faults: shm segment truncated under live peers', () => {
  const attacks = ringAttacks(cleanup);
  const shm = table.find(({ entry }) => entry.name === 'shm');
  const truncations = [0, ringLayout.SEQ_OFFSET + 64];
  let survived = 0;
  afterAll(() => {
    attacks.dispose();
    if (survived === 0) return;
    const note = `segment truncated under 2 sleeping consumers and 2 sleeping producers (C, Node): ${survived}/${truncations.length} rounds ended with errors, none by a signal`;
    record({ section: 'faults', transport: 'shm', survived, rounds: truncations.length, lost: 0, note });
  });
  it.skipIf(!shm?.available).each(truncations)(
    'to %i bytes: every peer fails with an error, none by SIGBUS',
    async (size) => {
      await attacks.truncate(size);
      survived++;
    },
  );
});
