/**
 * How recordings end when they are not told a count: Ctrl-C (SIGINT to a real `typed-ipc record`
 * process) finishes a valid file; a full disk (a real tmpfs of 256 KiB, mounted for the test) is a
 * RecordingError that leaves the file a readable recording of what was written.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RecordingError, record } from '../../src/index.js';
import { Sample } from '../channels/sample.js';
import { Cleanup, finished, spawnTs } from '../helpers.js';
import { ringPair as ringOf } from './fixtures.js';
import { json, readIndexed, readStream } from './mcap.js';

const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-record-ends-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const sample = (i: number) => ({ channel: 1, timestamp: BigInt(i), value: i });

const ringPair = () => ringOf(cleanup, Sample, 1024);

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('ending a recording', () => {
  it('Ctrl-C (SIGINT) ends `typed-ipc record` with exit 0 and a whole, indexed file', async () => {
    const { url, rx, tx } = await ringPair();
    await rx.close(); // the child is the receiver
    const path = join(dir, 'interrupted.mcap');
    const child = spawnTs('src/cli/main.ts', ['record', url, '--schema', 'test/channels/sample.ts#Sample', '-o', path]);
    const done = finished(child, 180_000);
    for (let i = 0; i < 500; i++) await tx.send(sample(i));
    // Everything sent was taken by the recorder (the ring is empty), then the user presses Ctrl-C.
    await until(() => tx.info().pending === 0, 'the recorder to take every message');
    child.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/recorded 500 messages .* \(stopped\)/);
    const read = await readIndexed(path);
    expect(read.messages.map((m) => json(m).value.value)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  const canMount = process.getuid?.() === 0;
  it.skipIf(!canMount)('a full disk is a RecordingError (ENOSPC) and keeps what was written, readable', async () => {
    const mount = mkdtempSync(join(dir, 'tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
    cleanup.add(() => execFileSync('umount', [mount]));
    const { rx, tx } = await ringPair();
    const path = join(mount, 'full.mcap');
    let stopped = false;
    // The outcome is taken at once (the failure comes while the loop below still sends).
    const outcome = record(rx, { path, compression: 'none', chunkSize: 16 * 1024 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    void outcome.finally(() => {
      stopped = true;
    });
    // JSON samples are ~75 bytes each: 20 000 of them (1.5 MB) cannot fit in 256 KiB.
    let sent = 0;
    while (!stopped && sent < 20_000) {
      if (tx.trySend(sample(sent))) sent += 1;
      else await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const error = await outcome;
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as RecordingError).code).toBe('ERR_IPC_RECORDING');
    expect(((error as RecordingError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect((error as Error).message).toMatch(
      /the disk is full \(ENOSPC\); the \d+ bytes written before stay a readable recording/,
    );
    const kept = (error as RecordingError).keptBytes!;
    expect(kept).toBeGreaterThan(100 * 1024);
    expect(statSync(path).size).toBe(kept);
    // What it kept: whole chunks of the first messages, in order, and a footer (the file ends properly).
    const read = await readStream(path);
    expect(read.done).toBe(true);
    expect(read.messages.length).toBeGreaterThan(1000);
    expect(read.messages.map((m) => json(m).value.value)).toEqual(
      Array.from({ length: read.messages.length }, (_, i) => i),
    );
  });
});
