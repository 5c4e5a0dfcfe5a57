/**
 * Bits kind (`bits(base, width)`, a C bitfield): range-checked like an integer of `width` bits, stored
 * by OR-ing into bytes that the codec zeroed first (padding and bitfield bytes are zeroed together),
 * read back with sign extension for signed bases. Zero-width bitfields hold no value.
 */
import type { BitsType } from '../types.js';
import { invalid, readBits, writeBits } from '../values.js';
import { at, int, type Kind } from './kind.js';

/** The bits kind. */
export const bits: Kind<BitsType> = {
  emitCheck(e, type, x, path, out) {
    if (type.width === 0) return;
    const fail = e.fail(type, x, path);
    if (type.big) {
      out.push(`if (typeof ${x} !== 'bigint' || ${x} < ${type.min}n || ${x} > ${type.max}n) ${fail}`);
    } else {
      out.push(
        `if (typeof ${x} !== 'number' || !Number.isInteger(${x}) || ${x} < ${type.min} || ${x} > ${type.max}) ${fail}`,
      );
    }
    e.keep(x, out);
  },
  emitWrite(e, type, offset, _little, out) {
    if (type.width === 0) return;
    out.push(`writeBits(u, ${at(offset)}, ${int(type.shift)}, ${int(type.width)}, ${e.take(out)});`);
  },
  emitRead(_e, type, offset) {
    if (type.width === 0) return 'undefined';
    return `readBits(u, ${at(offset)}, ${int(type.shift)}, ${int(type.width)}, ${type.signed}, ${type.big})`;
  },
  check(_w, type, x, path, snap) {
    if (type.width === 0) return;
    const ok = type.big
      ? typeof x === 'bigint' && x >= (type.min as bigint) && x <= (type.max as bigint)
      : typeof x === 'number' && Number.isInteger(x) && x >= (type.min as number) && x <= (type.max as number);
    if (!ok) throw invalid(path, type, x);
    snap.push(x);
  },
  write(_w, type, snap, _dv, u, o) {
    if (type.width === 0) return;
    writeBits(u, o, type.shift, type.width, snap.leaves[snap.k++] as number | bigint);
  },
  read(_w, type, _dv, u, o) {
    if (type.width === 0) return undefined;
    return readBits(u, o, type.shift, type.width, type.signed, type.big);
  },
};
