/** Plots of recordings and live channels: SVG drawn by Vega-Lite, checked for what it shows. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { char, f64, plotChannels, plotRecording, record, struct, u16, u64 } from '../../src/index.js';
import { Cleanup } from '../helpers.js';
import { ringPair } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'typed-ipc-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const Reading = struct('reading', { channel: u16, timestamp: u64, value: f64, label: char(8) });

const ring = () => ringPair(cleanup, Reading, 256);

const texts = (svg: string): string[] => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

it('draws fields of a recording over time, one panel per field, with the topic in the legend', async () => {
  const { url, rx, tx } = await ring();
  const path = join(dir, 'plot.mcap');
  const recording = record(rx, { path, count: 40 });
  for (let i = 0; i < 40; i++) {
    await tx.send({ channel: i % 3, timestamp: BigInt(i), value: Math.sin(i / 5) * 100, label: 'x' });
  }
  await recording;
  const svg = await plotRecording(path, { fields: ['value', 'channel'], title: 'readings' });
  expect(svg.startsWith('<svg')).toBe(true);
  const labels = texts(svg);
  for (const label of ['readings', 'value', 'channel', url, 'seconds since the first message']) {
    expect(labels, labels.join('|')).toContain(label);
  }
  // The value axis spans the sine's range (Vega writes a real minus sign); 40 points on each line.
  expect(labels).toContain('100');
  expect(labels).toContain('\u2212100');
  expect((svg.match(/aria-roledescription="point"/g) ?? []).length).toBe(80);
  expect((svg.match(/aria-roledescription="line mark"/g) ?? []).length).toBe(2);
  await expect(plotRecording(path, { fields: ['label'] })).rejects.toThrow(
    /label of .* holds "x", which is not a number/,
  );
  await expect(plotRecording(path, { fields: ['nope'] })).rejects.toThrow(/no message holds nope/);
  await expect(plotRecording(path, { fields: ['a;b'] })).rejects.toThrow(/a field path such as value/);
});

it('draws what live channels deliver during a duration', async () => {
  const { rx, tx } = await ring();
  const drawing = plotChannels([rx], { fields: ['value'], durationMs: 1500 });
  for (let i = 0; i < 10; i++) await tx.send({ channel: 1, timestamp: 0n, value: i, label: '' });
  const svg = await drawing;
  expect(texts(svg), texts(svg).join('|')).toContain('value');
  expect(texts(svg)).toContain(rx.url);
  expect((svg.match(/aria-roledescription="point"/g) ?? []).length).toBe(10);
  expect((svg.match(/aria-roledescription="line mark"/g) ?? []).length).toBe(1);
});
