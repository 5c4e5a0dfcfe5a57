/** Enum kind (`enumOf`): member names in, the base integer out; unknown numbers only with `allowUnknown`. */
import type { EnumType } from '../types.js';
import { invalid, unknownEnum } from '../values.js';
import { emitLoad, emitStore, load, store } from './integers.js';
import { type Kind, pathExpr } from './kind.js';

/** The enum kind. */
export const enumeration: Kind<EnumType> = {
  emitCheck(e, type, x, path, out) {
    const fail = e.fail(type, x, path);
    const values = e.ref(type.values);
    const base = type.base;
    const known = `(typeof ${x} === 'string' && ${values}.has(${x}))`;
    if (type.allowUnknown) {
      out.push(
        `if (!${known} && (typeof ${x} !== 'number' || !Number.isInteger(${x}) || ${x} < ${base.min} || ${x} > ${base.max})) ${fail}`,
      );
    } else out.push(`if (!${known}) ${fail}`);
    e.keep(x, out);
  },
  emitWrite(e, type, offset, little, out) {
    const x = e.take(out);
    const n = e.local('n');
    out.push(`const ${n} = typeof ${x} === 'string' ? ${e.ref(type.values)}.get(${x}) : ${x};`);
    emitStore(type.base, n, offset, little, out);
  },
  emitRead(e, type, offset, little, path, out) {
    const n = e.local('n');
    const s = e.local('s');
    out.push(`const ${n} = ${emitLoad(type.base, offset, little)};`, `const ${s} = ${e.ref(type.names)}.get(${n});`);
    if (type.allowUnknown) return `(${s} === undefined ? ${n} : ${s})`;
    out.push(`if (${s} === undefined) throw unknownEnum(${pathExpr(path)}, ${e.ref(type)}, ${n});`);
    return s;
  },
  check(_w, type, x, path, snap) {
    const base = type.base;
    const known = typeof x === 'string' && type.values.has(x);
    if (
      !known &&
      !(type.allowUnknown && typeof x === 'number' && Number.isInteger(x) && x >= base.min && x <= base.max)
    ) {
      throw invalid(path, type, x);
    }
    snap.push(x);
  },
  write(_w, type, snap, dv, u, o, little) {
    const x = snap.leaves[snap.k++];
    store(type.base, typeof x === 'string' ? type.values.get(x) : x, dv, u, o, little);
  },
  read(_w, type, dv, u, o, little, path) {
    const n = load(type.base, dv, u, o, little) as number;
    const name = type.names.get(n);
    if (name !== undefined) return name;
    if (type.allowUnknown) return n;
    throw unknownEnum(path, type, n);
  },
};
