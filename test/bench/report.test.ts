/** The benchmark report: ratios against same-run baselines, and the Markdown, SVG and README renderings. */
import { describe, expect, it } from 'vitest';
import {
  type BenchResult,
  type Report,
  rate,
  renderMarkdown,
  renderSummary,
  renderSvg,
  withSummary,
} from '../../bench/report.js';

const results: BenchResult[] = [
  { transport: 'mq', messageBytes: 24, variant: 'c mq_send/mq_receive', msgPerSec: 1_000_000, baseline: 'c' },
  { transport: 'mq', messageBytes: 24, variant: 'node process.send', msgPerSec: 100_000, baseline: 'node-ipc' },
  { transport: 'mq', messageBytes: 24, variant: 'node send/receive', msgPerSec: 600_000 },
  { transport: 'mq', messageBytes: 256, variant: 'node send/receive', msgPerSec: 500_000 },
  { transport: 'mq', messageBytes: 256, variant: 'c mq_send/mq_receive', msgPerSec: 800_000, baseline: 'c' },
  {
    transport: 'shm',
    messageBytes: 24,
    variant: 'node sendMany/receiveMany',
    msgPerSec: 12_000_000,
    notes: 'batch 256',
  },
];

function report(): Report {
  const conditions = {
    date: '2026-11-21T05:00:00.000Z',
    node: 'v20',
    kernel: 'Linux',
    cpus: '2 x CPU',
    load: [1, 2] as const,
    note: '',
  };
  return { conditions, results: rate(results), failures: [{ module: 'stream.bench.ts', error: 'boom' }] };
}

describe('bench report', () => {
  it('rates each row against the baselines of the same transport and message size only', () => {
    const rated = rate(results);
    expect(rated[2]!.ratios).toEqual({ c: 0.6, 'node-ipc': 6 });
    expect(rated[3]!.ratios).toEqual({ c: 0.625 });
    expect(rated[0]!.ratios).toEqual({ 'node-ipc': 10 }); // the C baseline against the other baseline
    expect(rated[5]!.ratios).toEqual({});
  });

  it('renders results.md with a table per transport, the baselines marked, and the failed modules', () => {
    const markdown = renderMarkdown(report());
    expect(markdown).toContain('| 24 B | node send/receive | 600,000 | 0.60x | 6.00x |  |');
    expect(markdown).toContain('| 24 B | *c mq_send/mq_receive* | 1,000,000 | baseline | 10.00x |  |');
    expect(markdown).toContain('| 24 B | node sendMany/receiveMany | 12,000,000 | batch 256 |');
    expect(markdown).toContain('- stream.bench.ts: boom');
  });

  it('renders an SVG with one bar per row, grouped by message size, on a log scale', () => {
    const svg = renderSvg(report());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect x="300"/g)).toHaveLength(results.length);
    expect(svg).toContain('>24 B messages<');
    expect(svg).toContain('>256 B messages<');
    expect(svg).toContain('600,000  0.60x of C<');
    // The 12 M bar is the longest; the 100 k bar is shorter than the 600 k bar (log scale, same axis).
    const widths = [...svg.matchAll(/<rect x="300" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.max(...widths)).toBeLessThanOrEqual(420);
  });

  it('puts the fastest typed-ipc variant of each transport and size in the README between the markers', () => {
    const summary = renderSummary(report());
    expect(summary).toContain('| mq | 24 B | node send/receive | 600,000 | 0.60x | 6.00x |');
    expect(summary).toContain('| mq | 256 B | node send/receive | 500,000 | 0.63x | — |');
    expect(summary).not.toContain('| shm |'); // no baseline measured: nothing to compare with
    const readme = 'intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\nrest';
    expect(withSummary(readme, 'new')).toBe('intro\n<!-- bench:start -->\nnew\n<!-- bench:end -->\nrest');
  });
});

describe('reference rows', () => {
  it('are shown with their ratios but never taken as the typed-ipc figure', () => {
    const rows: BenchResult[] = [
      {
        transport: 'fifo',
        messageBytes: 24,
        variant: 'c read/write, 1 record per call',
        msgPerSec: 1e6,
        baseline: 'c',
      },
      {
        transport: 'fifo',
        messageBytes: 24,
        variant: 'c read/write, 64 KiB per call',
        msgPerSec: 8e7,
        reference: true,
      },
      { transport: 'fifo', messageBytes: 24, variant: 'node sendMany/receiveMany', msgPerSec: 2e6 },
    ];
    const conditions = {
      date: '2026-11-21T06:00:00.000Z',
      node: 'v20',
      kernel: 'Linux',
      cpus: '2',
      load: [0, 0] as const,
      note: '',
    };
    const rated: Report = { conditions, results: rate(rows), failures: [] };
    const summary = renderSummary(rated);
    expect(summary).toContain('| fifo | 24 B | node sendMany/receiveMany | 2,000,000 | 2.00x | — |');
    expect(summary).not.toContain('64 KiB per call');
    expect(renderMarkdown(rated)).toContain('c read/write, 64 KiB per call (reference)');
  });
});

describe('latency rows (bench/latency.bench.ts)', () => {
  const latency: BenchResult[] = [
    ...results,
    {
      transport: 'mq ping-pong',
      messageBytes: 24,
      variant: 'c blocking calls',
      msgPerSec: 400_000,
      baseline: 'c',
      latency: { p50Us: 1, p99Us: 3 },
    },
    {
      transport: 'mq ping-pong',
      messageBytes: 24,
      variant: 'node, wait: { spinUs: 200 }',
      msgPerSec: 150_000,
      latency: { p50Us: 5, p99Us: 40 },
      notes: 'one-way p50 5.0 µs',
    },
  ];
  const withLatency = (): Report => ({ ...report(), results: rate(latency) });

  it('are rated against the C ping-pong only and listed in results.md with their notes', () => {
    const rated = rate(latency);
    expect(rated[7]!.ratios).toEqual({ c: 0.375 });
    expect(renderMarkdown(withLatency())).toContain(
      '| 24 B | node, wait: { spinUs: 200 } | 150,000 | 0.38x | one-way p50 5.0 µs |',
    );
  });

  it('stay out of the msg/s chart and the README summary (they measure latency, not throughput)', () => {
    expect(renderSvg(withLatency()).match(/<rect x="300"/g)).toHaveLength(results.length);
    expect(renderSvg(withLatency())).not.toContain('ping-pong');
    expect(renderSummary(withLatency())).not.toContain('ping-pong');
  });
});
