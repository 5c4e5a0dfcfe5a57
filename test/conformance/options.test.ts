import { describe, expect, it } from 'vitest';
import { UnsupportedError, ValidationError } from '../../src/errors.js';
import { defer } from './setup.js';
import { Rec, rec, refused, rows } from './transports.js';

describe.each(rows)('$name: option validation', (row) => {
  const limit = refused(row.priorities) ? 1 : row.priorities.limit;
  it.each([-1, 1.5, Number.NaN, limit])(
    'a priority of %s is refused with a typed error, and nothing is sent',
    async (priority) => {
      const { tx, rx } = await row.pair(Rec, defer);
      const expected = refused(row.priorities) ? UnsupportedError : ValidationError;
      expect(() => tx.trySend(rec(1), { priority })).toThrow(expected);
      await expect(tx.send(rec(1), { priority })).rejects.toBeInstanceOf(expected);
      await expect(tx.sendMany([rec(1)], { priority })).rejects.toBeInstanceOf(expected);
      expect(rx.tryReceive()).toBeUndefined();
    },
  );

  it('receiveMany refuses a max that is not a positive integer', async () => {
    const { rx } = await row.pair(Rec, defer);
    for (const max of [0, -1, 1.5, Number.NaN]) {
      await expect(rx.receiveMany(max)).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it.each([-1, 1.5, 0o1777, 0o4755, 0o10000, Number.NaN])(
    'a mode of %s is a ValidationError naming mode, and nothing is created',
    async (mode) => {
      if (refused(row.create)) {
        expect(row.create.refused).toMatch(/no file mode/);
        return;
      }
      const error = await row.create(defer, { mode }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path).toBe('mode');
    },
  );

  it('the modes every transport accepts: 0o600 and 0o660', async () => {
    if (refused(row.create)) {
      expect(row.create.refused).toMatch(/no file mode/);
      return;
    }
    await expect(row.create(defer, { mode: 0o600 })).resolves.toBeDefined();
    await expect(row.create(defer, { mode: 0o660 })).resolves.toBeDefined();
  });

  const exclusiveBug = row.knownBugs?.find((bug) => bug.startsWith('exclusive'));
  (exclusiveBug ? it.fails : it)(
    `exclusive without create is a ValidationError naming exclusive, and nothing is opened${exclusiveBug ? ` (known bug: ${exclusiveBug})` : ''}`,
    async () => {
      if (refused(row.exclusive)) {
        expect(row.exclusive.refused).toMatch(/claims its address/);
        return;
      }
      if (refused(row.create)) throw new Error(`${row.name} declares exclusive but cannot create`);
      const error = await row.create(defer, { create: false, exclusive: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path).toBe('exclusive');
    },
  );
});
