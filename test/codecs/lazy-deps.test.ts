/**
 * `import 'typed-ipc'` loads neither zod, TypeBox nor msgpackr: they load on first use of `.zod`,
 * `.typebox` or `msgpack()`; nor the recording packages (MCAP, compression, Foxglove, ws, Vega), which
 * load on first use of record, replay, serveFoxglove or plot. Checked in a fresh Node process whose module resolution is watched
 * by a resolve hook (which also shows the watching works: touching `.zod` does resolve zod).
 */
import { describe, expect, it } from 'vitest';
import { loadedBy } from '../load-watch.js';

const optional =
  /^(zod|@sinclair\/typebox|msgpackr|@mcap\/core|@mcap\/nodejs|@foxglove\/ws-protocol|@foxglove\/wasm-zstd|lz4js|ws|vega|vega-lite)(\/|$)/;

/** The optional dependencies a fresh process resolved while running `body` after importing typed-ipc. */
function resolvedBy(body: string): string[] {
  return loadedBy(body).specifiers.filter((specifier) => optional.test(specifier));
}

describe('optional dependencies load on first use', () => {
  it('importing typed-ipc and using struct codecs loads none of them', () => {
    expect(
      resolvedBy("const S = m.struct('s', { a: m.u16 }); S.decode(S.encode({ a: 1 })); S.validate({ a: 2 });"),
    ).toEqual([]);
  });

  it('.zod loads zod, .typebox loads TypeBox', () => {
    expect(resolvedBy("m.struct('s', { a: m.u16 }).zod;")).toContain('zod');
    expect(resolvedBy("m.struct('s', { a: m.u16 }).typebox;")).toContain('@sinclair/typebox');
  });
});
