import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SystemError } from '../../src/errors.js';
import { errnoName, systemError } from '../../src/native/errors.js';

/** glibc's own names for every errno this machine defines, from Python's errno module (a second source). */
function systemNames(): Map<number, string> {
  const script = 'import errno,json;print(json.dumps({k:v for k,v in errno.errorcode.items()}))';
  const table = JSON.parse(execFileSync('python3', ['-c', script], { encoding: 'utf8' })) as Record<string, string>;
  return new Map(Object.entries(table).map(([errno, name]) => [Number(errno), name]));
}

// Aliases: two names for one number; either is the number's name.
const aliases: Record<string, readonly string[]> = {
  EAGAIN: ['EWOULDBLOCK'],
  EDEADLK: ['EDEADLOCK'],
  EOPNOTSUPP: ['ENOTSUP'],
};

describe('errno names', () => {
  it('every errno the system defines prints its name, never E<number>', () => {
    const names = systemNames();
    expect(names.size).toBeGreaterThan(120);
    for (const [errno, name] of names) {
      const printed = errnoName(errno);
      expect([
        name,
        ...(aliases[name] ?? []),
        ...Object.keys(aliases).filter((k) => aliases[k]?.includes(name)),
      ]).toContain(printed);
    }
  });

  it('EUSERS (the ring has 64 live handles) has its name and description in the SystemError', () => {
    const error = systemError(87, 'open', '/ring');
    expect(error).toBeInstanceOf(SystemError);
    expect(error.code).toBe('EUSERS');
    expect(error.message).toContain('EUSERS (too many users)');
  });

  it('a number no errno has still prints as E<number>', () => {
    expect(errnoName(4000)).toBe('E4000');
  });
});
