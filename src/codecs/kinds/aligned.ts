/** Aligned kind (`aligned(type, n)`): only the layout changes; values are the inner type's. */
import type { AlignedType } from '../types.js';
import type { Kind } from './kind.js';

/** The aligned kind. */
export const aligned: Kind<AlignedType> = {
  emitCheck: (e, type, x, path, out) => e.check(type.inner, x, path, out),
  emitWrite: (e, type, offset, little, out) => e.write(type.inner, offset, little, out),
  emitRead: (e, type, offset, little, path, out) => e.read(type.inner, offset, little, path, out),
  check: (w, type, x, path, snap) => w.check(type.inner, x, path, snap),
  write: (w, type, snap, dv, u, o, little) => w.write(type.inner, snap, dv, u, o, little),
  read: (w, type, dv, u, o, little, path) => w.read(type.inner, dv, u, o, little, path),
};
