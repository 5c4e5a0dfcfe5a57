/**
 * The interpreted twin of the generated codecs: the same rules, walked over the type tree at run
 * time through each kind module's `check`/`write`/`read`. It serves where `new Function` is not
 * allowed and as the reference the differential test holds the generated code to (identical bytes,
 * values and errors).
 */
import type { CompiledCodec } from './codec.js';
import { kindOf, type Walk } from './kinds/index.js';
import { paddingRanges } from './layout.js';
import type { CompositeShape } from './types.js';
import { inputError, targetError } from './values.js';

/** The walk over contained types that kind modules recurse through (`lending` for the reads that may return views). */
function walker(lending: boolean): Walk {
  const walk: Walk = {
    lending,
    check: (type, x, path, snap) => kindOf(type).check(walk, type, x, path, snap),
    write: (type, snap, dv, u, o, little) => kindOf(type).write(walk, type, snap, dv, u, o, little),
    read: (type, dv, u, o, little, path) => kindOf(type).read(walk, type, dv, u, o, little, path),
  };
  return walk;
}

const walk = walker(false);
const lendingWalk = walker(true);

/** Refuses decode input that is not `size` bytes (without offset) or has no `size` bytes at `offset`. */
function checkInput(type: CompositeShape, bytes: Uint8Array, offset: number | undefined): void {
  if (offset === undefined) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== type.size) throw inputError(type, bytes, offset);
  } else if (!(bytes instanceof Uint8Array) || !validOffset(offset) || offset + type.size > bytes.length) {
    throw inputError(type, bytes, offset);
  }
}

function validOffset(o: unknown): o is number {
  return typeof o === 'number' && Number.isInteger(o) && o >= 0;
}

/** Builds the interpreted codec functions of a struct (same contract as the generated ones). */
export function interpretStruct<T>(type: CompositeShape<T>): CompiledCodec<T> {
  const little = type.endian === 'little';
  // A union zeroes its own bytes before writing the member (see kinds/union.ts).
  const padding = type.kind === 'union' ? [] : paddingRanges(type.size, type.fields);
  return {
    source: `/* interpreted codec of ${type.kind} ${type.name} */`,
    validate(value: unknown): T {
      walk.check(type, value, type.name, []);
      return value as T;
    },
    encode(value: T): Uint8Array {
      const leaves: unknown[] = [];
      walk.check(type, value, type.name, leaves);
      const u = new Uint8Array(type.size);
      walk.write(type, { leaves, k: 0 }, new DataView(u.buffer), u, 0, little);
      return u;
    },
    encodeInto(value: T, target: Uint8Array, offset = 0): number {
      if (!(target instanceof Uint8Array) || !validOffset(offset) || offset + type.size > target.length) {
        throw targetError(type, target, offset);
      }
      const leaves: unknown[] = [];
      walk.check(type, value, type.name, leaves);
      for (const [start, end] of padding) target.fill(0, offset + start, offset + end);
      const dv = new DataView(target.buffer, target.byteOffset, target.byteLength);
      walk.write(type, { leaves, k: 0 }, dv, target, offset, little);
      return type.size;
    },
    decode(bytes: Uint8Array, offset?: number): T {
      checkInput(type, bytes, offset);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return walk.read(type, dv, bytes, offset ?? 0, little, type.name) as T;
    },
    decodeViews(bytes: Uint8Array, offset?: number): T {
      checkInput(type, bytes, offset);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return lendingWalk.read(type, dv, bytes, offset ?? 0, little, type.name) as T;
    },
    lendingDecoder(slots: number): (bytes: Uint8Array, offset?: number) => T {
      const own = new Uint8Array(slots * type.size);
      const view = new DataView(own.buffer);
      let slot = 0;
      return (bytes, offset) => {
        checkInput(type, bytes, offset);
        const o = slot * type.size;
        slot = (slot + 1) % slots;
        const start = offset ?? 0;
        own.set(bytes.subarray(start, start + type.size), o);
        return lendingWalk.read(type, view, own, o, little, type.name) as T;
      };
    },
  };
}
