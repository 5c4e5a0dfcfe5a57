import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { finished, repoRoot } from '../helpers.js';

describe('architecture check', () => {
  it('loading the native layer on another architecture is a clear UnsupportedError, not wrong constants', async () => {
    // The child pretends to be arm64 before the library (and so the native layer) loads.
    const script = [
      "Object.defineProperty(process, 'arch', { value: 'arm64' });",
      "const error = await import('./src/index.ts').then(() => undefined, (e) => e);",
      'console.log(JSON.stringify({ name: error?.name, code: error?.code, message: error?.message }));',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const result = await finished(child);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const error = JSON.parse(result.stdout) as { name: string; code: string; message: string };
    expect(error.name).toBe('UnsupportedError');
    expect(error.code).toBe('ERR_IPC_UNSUPPORTED');
    expect(error.message).toMatch(/Linux on x86_64 only .* this is linux on arm64: run it on a Linux x86_64 host/);
  });
});
