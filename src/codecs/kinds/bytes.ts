/**
 * Bytes kind (`bytes(n)`): exactly n raw bytes, judged by the typed array's own length; decoded as a
 * copy, or as a view (of a lending decoder's own copy of the message, or of `decodeViews`' input).
 */
import type { BytesType } from '../types.js';
import { bytesLength, copyBytes, invalid } from '../values.js';
import { at, int, type Kind } from './kind.js';

/** The bytes kind. */
export const bytes: Kind<BytesType> = {
  emitCheck(e, type, x, path, out) {
    out.push(`if (bytesLength(${x}) !== ${int(type.length)}) ${e.fail(type, x, path)}`);
    e.keep(x, out);
  },
  emitWrite(e, _type, offset, _little, out) {
    // The codec lets go of the caller's array once it is copied.
    out.push(`u.set(${e.take(out, true)}, ${at(offset)});`);
  },
  emitRead(e, type, offset) {
    if (e.lending) return `u.subarray(${at(offset)}, ${at(offset, type.length)})`;
    return `copyBytes(u, ${at(offset)}, ${int(type.length)})`;
  },
  check(_w, type, x, path, snap) {
    if (bytesLength(x) !== type.length) throw invalid(path, type, x);
    snap.push(x);
  },
  write(_w, _type, snap, _dv, u, o) {
    u.set(snap.leaves[snap.k++] as Uint8Array, o);
  },
  read(w, type, _dv, u, o) {
    return w.lending ? u.subarray(o, o + type.length) : copyBytes(u, o, type.length);
  },
};
