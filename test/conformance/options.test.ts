import { describe, expect, it } from 'vitest';
import { UnsupportedError, ValidationError } from '../../src/errors.js';
import { defer } from './setup.js';
import { Rec, rec, rows } from './transports.js';

describe.each(rows)('$name: option validation', (row) => {
  it.each([-1, 1.5, Number.NaN, 1 << 20])(
    'a priority of %s is refused with a typed error, and nothing is sent',
    async (priority) => {
      const { tx, rx } = await row.pair(Rec, defer);
      expect(() => tx.trySend(rec(1), { priority })).toThrow(
        tx.info().transport === 'mq' ? ValidationError : UnsupportedError,
      );
      await expect(tx.send(rec(1), { priority })).rejects.toThrow(/priorit/);
      expect(rx.tryReceive()).toBeUndefined();
    },
  );

  it('receiveMany refuses a max that is not a positive integer', async () => {
    const { rx } = await row.pair(Rec, defer);
    for (const max of [0, -1, 1.5, Number.NaN]) {
      await expect(rx.receiveMany(max)).rejects.toBeInstanceOf(ValidationError);
    }
  });
});
