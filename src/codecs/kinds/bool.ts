/** Bool kind: `true`/`false` in, one byte 0/1 out; any other byte is refused on decode. */
import type { BoolType } from '../types.js';
import { badBool, invalid } from '../values.js';
import { at, type Kind, pathExpr } from './kind.js';

/** The bool kind. */
export const bool: Kind<BoolType> = {
  emitCheck(e, type, x, path, out) {
    out.push(`if (typeof ${x} !== 'boolean') ${e.fail(type, x, path)}`);
    e.keep(x, out);
  },
  emitWrite(e, _type, offset, _little, out) {
    out.push(`u[${at(offset)}] = ${e.take(out)} ? 1 : 0;`);
  },
  emitRead(e, _type, offset, _little, path, out) {
    const b = e.local('b');
    out.push(`const ${b} = u[${at(offset)}];`, `if (${b} > 1) throw badBool(${pathExpr(path)}, ${b});`);
    return `${b} === 1`;
  },
  check(_w, type, x, path, snap) {
    if (typeof x !== 'boolean') throw invalid(path, type, x);
    snap.push(x);
  },
  write(_w, _type, snap, _dv, u, o) {
    u[o] = snap.leaves[snap.k++] ? 1 : 0;
  },
  read(_w, _type, _dv, u, o, _little, path) {
    const b = u[o]!;
    if (b > 1) throw badBool(path, b);
    return b === 1;
  },
};
