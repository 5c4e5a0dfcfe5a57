/** Array kind (`array(type, n)`): a JS array of exactly n elements, each read once, laid out at a fixed stride. */
import type { ArrayType } from '../types.js';
import { invalid } from '../values.js';
import { element, int, type Kind } from './kind.js';

/** The array kind. */
export const array: Kind<ArrayType> = {
  emitCheck(e, type, x, path, out) {
    out.push(`if (!Array.isArray(${x}) || ${x}.length !== ${int(type.length)}) ${e.fail(type, x, path)}`);
    const i = e.local('i');
    const item = e.local('e');
    const body: string[] = [];
    e.loop(() => e.check(type.element, item, [...path, { index: i }], body));
    out.push(`for (let ${i} = 0; ${i} < ${int(type.length)}; ${i}++) {`, `const ${item} = ${x}[${i}];`, ...body, '}');
  },
  emitWrite(e, type, offset, little, out) {
    const i = e.local('i');
    const body: string[] = [];
    e.loop(() => e.write(type.element, element(offset, i, type.element.size), little, body));
    out.push(`for (let ${i} = 0; ${i} < ${int(type.length)}; ${i}++) {`, ...body, '}');
  },
  emitRead(e, type, offset, little, path, out) {
    const a = e.local('a');
    const i = e.local('i');
    const body: string[] = [];
    const item = e.loop(() =>
      e.read(type.element, element(offset, i, type.element.size), little, [...path, { index: i }], body),
    );
    out.push(
      `const ${a} = [];`,
      `for (let ${i} = 0; ${i} < ${int(type.length)}; ${i}++) {`,
      ...body,
      `${a}.push(${item});`,
      '}',
    );
    return a;
  },
  check(w, type, x, path, snap) {
    if (!Array.isArray(x) || x.length !== type.length) throw invalid(path, type, x);
    for (let i = 0; i < type.length; i++) w.check(type.element, x[i], `${path}[${i}]`, snap);
  },
  write(w, type, snap, dv, u, o, little) {
    for (let i = 0; i < type.length; i++) w.write(type.element, snap, dv, u, o + i * type.element.size, little);
  },
  read(w, type, dv, u, o, little, path) {
    const items: unknown[] = [];
    for (let i = 0; i < type.length; i++) {
      items.push(w.read(type.element, dv, u, o + i * type.element.size, little, `${path}[${i}]`));
    }
    return items;
  },
};
