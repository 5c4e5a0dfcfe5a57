/**
 * A long recording: 1 000 000 samples from a producer process through a shared-memory ring into one
 * MCAP file, every one read back by @mcap/core's indexed reader. `CI=true` records 100 000 (like the
 * stress suite's bounded sizes); `RECORD_MESSAGES=n` sets the figure, the full 1 000 000 is the default.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { open, record, unlink } from '../../src/index.js';
import { Sample } from '../channels/sample.js';
import { finished, repoRoot, spawnTs, uniqueName } from '../helpers.js';
import { json, readIndexed } from './mcap.js';

const count = Number(process.env.RECORD_MESSAGES ?? (process.env.CI === 'true' ? 100_000 : 1_000_000));
const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-record-million-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it(`records ${count} messages from a ring, and the MCAP reader reads every one back in order`, async () => {
  const url = `shm:/${uniqueName('rec')}`;
  const rx = await open(url, Sample, { create: true, capacity: 8192 });
  try {
    const path = join(dir, 'long.mcap');
    const recording = record(rx, { path, count });
    // The bench's producer: sendMany in batches of 1024, timestamps 0..1023 in every batch.
    const producer = finished(
      spawnTs(join(repoRoot, 'bench', 'peers', 'ring-peer.ts'), ['produce', url, String(count), '1024', '24']),
      600_000,
    );
    const summary = await recording;
    const produced = await producer;
    expect(produced.code, produced.stderr).toBe(0);
    expect(summary).toMatchObject({ messages: count, stoppedBy: 'count', decodeErrors: 0 });
    const read = await readIndexed(path);
    expect(read.statistics?.messageCount).toBe(BigInt(count));
    expect(read.messages).toHaveLength(count);
    expect(read.chunks).toBeGreaterThan(1);
    let inOrder = 0;
    for (const [i, message] of read.messages.entries()) {
      const { value } = json(message);
      if (value.timestamp === String(i % 1024) && value.value === i % 1024 && message.sequence === i) inOrder += 1;
    }
    expect(inOrder).toBe(count);
  } finally {
    await rx.close();
    await unlink(url);
  }
});
