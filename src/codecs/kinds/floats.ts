/** Float kind (`f32`, `f64`): any number (NaN and ±Infinity included), f32 refusing what would overflow. */
import type { FloatType } from '../types.js';
import { F32_OVERFLOW, invalid } from '../values.js';
import { dvAt, type Kind, littleArg } from './kind.js';

/** The float kind. */
export const floats: Kind<FloatType> = {
  emitCheck(e, type, x, path, out) {
    const fail = e.fail(type, x, path);
    if (type.name === 'f64') out.push(`if (typeof ${x} !== 'number') ${fail}`);
    // A finite number beyond f32's range would silently become Infinity.
    else
      out.push(
        `if (typeof ${x} !== 'number' || (Math.abs(${x}) >= ${F32_OVERFLOW} && Math.abs(${x}) !== Infinity)) ${fail}`,
      );
    e.keep(x, out);
  },
  emitWrite(e, type, offset, little, out) {
    out.push(`dv.setFloat${type.name === 'f32' ? 32 : 64}(${dvAt(offset)}, ${e.take(out)}, ${littleArg(little)});`);
  },
  emitRead(_e, type, offset, little) {
    return `dv.getFloat${type.name === 'f32' ? 32 : 64}(${dvAt(offset)}, ${littleArg(little)})`;
  },
  check(_w, type, x, path, snap) {
    if (typeof x !== 'number') throw invalid(path, type, x);
    if (type.name === 'f32' && Math.abs(x) >= F32_OVERFLOW && Math.abs(x) !== Infinity) throw invalid(path, type, x);
    snap.push(x);
  },
  write(_w, type, snap, dv, _u, o, little) {
    const x = snap.leaves[snap.k++] as number;
    if (type.name === 'f32') dv.setFloat32(o, x, little);
    else dv.setFloat64(o, x, little);
  },
  read(_w, type, dv, _u, o, little) {
    return type.name === 'f32' ? dv.getFloat32(o, little) : dv.getFloat64(o, little);
  },
};
