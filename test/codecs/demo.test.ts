/** The README's demo runs and shows what it promises: the sample's bytes, layout table and C header. */
import { describe, expect, it } from 'vitest';
import { finished, spawnTs } from '../helpers.js';

describe('npm run demo', () => {
  it('prints the encoded sample, its layout and its C header', async () => {
    const { code, stdout, stderr } = await finished(spawnTs('examples/schema-demo.ts'));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('   0: 03 00 00 00 00 00 00 00   channel (2 bytes), then padding');
    expect(stdout).toContain('| timestamp | 8 | 8 | 8 | u64 |');
    expect(stdout).toContain('struct sample {\n  uint16_t channel;\n  uint64_t timestamp;\n  double value;\n};');
    expect(stdout).toContain('decoded back: { channel: 3, timestamp: 1700000000123456789n, value: 21.5 }');
  });
});
