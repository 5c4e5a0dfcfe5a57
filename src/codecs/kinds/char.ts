/** Char kind (`char(n)`): a UTF-8 string of at most n bytes without NUL, NUL-padded. */
import type { CharType } from '../types.js';
import { badChar, charFits, invalid, readChar, writeChar } from '../values.js';
import { at, int, type Kind, pathExpr } from './kind.js';

/** The char kind. */
export const char: Kind<CharType> = {
  emitCheck(e, type, x, path, out) {
    out.push(`if (typeof ${x} !== 'string' || !charFits(${x}, ${int(type.length)})) ${e.fail(type, x, path)}`);
    e.keep(x, out);
  },
  emitWrite(e, type, offset, _little, out) {
    out.push(`writeChar(u, ${at(offset)}, ${e.take(out)}, ${int(type.length)});`);
  },
  emitRead(e, type, offset, _little, path, out) {
    const s = e.local('s');
    out.push(
      `const ${s} = readChar(u, ${at(offset)}, ${int(type.length)});`,
      `if (${s} === undefined) throw badChar(${pathExpr(path)}, ${int(type.length)});`,
    );
    return s;
  },
  check(_w, type, x, path, snap) {
    if (typeof x !== 'string' || !charFits(x, type.length)) throw invalid(path, type, x);
    snap.push(x);
  },
  write(_w, type, snap, _dv, u, o) {
    writeChar(u, o, snap.leaves[snap.k++] as string, type.length);
  },
  read(_w, type, _dv, u, o, _little, path) {
    const s = readChar(u, o, type.length);
    if (s === undefined) throw badChar(path, type.length);
    return s;
  },
};
