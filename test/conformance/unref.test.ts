import { describe, expect, it } from 'vitest';
import { finished, spawnTs } from '../helpers.js';
import { rows } from './transports.js';

describe.each(rows)('$name: unref', (row) => {
  it.each(['method', 'option'])('lets the process exit while a receive and a send wait (%s)', async (how) => {
    const child = spawnTs('test/conformance/unref-child.ts', [row.name, how]);
    const result = await finished(child, 30_000);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('waiting\ndrained\n');
    expect(result.code).toBe(0);
  });
});
