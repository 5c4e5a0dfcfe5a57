/**
 * Union kind (`union(name, fields)`): a value names exactly one member (`{ asFloat: 1.5 }`), which
 * is written at offset 0 after the union's bytes are zeroed; any other count of members present is
 * refused, so two members can never be written over each other unnoticed. Decoding gives every
 * member's view that the bytes hold (a bool member over a byte 7 is left out), or only the member
 * named by the union's `decode` option.
 */
import type { FieldLayout, UnionShape } from '../types.js';
import { invalid, isDecodeError, unionCount, unionUnreadable } from '../values.js';
import { at, int, type Kind, pathExpr, prop } from './kind.js';

function viewed(type: UnionShape): readonly FieldLayout[] {
  return type.decodeMember === undefined ? type.fields : type.fields.filter((f) => f.name === type.decodeMember);
}

/** The union kind. */
export const union: Kind<UnionShape> = {
  emitCheck(e, type, x, path, out) {
    out.push(`if (typeof ${x} !== 'object' || ${x} === null) ${e.fail(type, x, path)}`);
    const n = e.local('n');
    const m = e.local('m');
    out.push(`let ${n} = 0;`, `let ${m} = -1;`);
    const locals = type.fields.map((field, i) => {
      const f = e.local('x');
      out.push(`const ${f} = ${x}${prop(field.name)};`, `if (${f} !== undefined) { ${n}++; ${m} = ${int(i)}; }`);
      return f;
    });
    out.push(`if (${n} !== 1) throw unionCount(${pathExpr(path)}, ${e.ref(type)}, ${x});`);
    e.keep(m, out);
    out.push(`switch (${m}) {`);
    // Each member is checked in a switch case of its own: through `block`, so its leaves outlive the case.
    type.fields.forEach((field, i) => {
      const body: string[] = [];
      e.block(() => e.check(field.type, locals[i]!, [...path, `.${field.name}`], body));
      out.push(`case ${int(i)}: {`, ...body, 'break;', '}');
    });
    out.push('}');
  },
  emitWrite(e, type, offset, _little, out) {
    const little = type.endian === 'little';
    const m = e.take(out);
    out.push(`u.fill(0, ${at(offset)}, ${at(offset, type.size)});`, `switch (${m}) {`);
    type.fields.forEach((field, i) => {
      const body: string[] = [];
      e.block(() => e.write(field.type, offset, little, body));
      out.push(`case ${int(i)}: {`, ...body, 'break;', '}');
    });
    out.push('}');
  },
  emitRead(e, type, offset, _little, path, out) {
    const little = type.endian === 'little';
    const r = e.local('r');
    const first = e.local('f');
    out.push(`const ${r} = {};`, `let ${first};`);
    const members = viewed(type);
    for (const field of members) {
      const body: string[] = [];
      const value = e.read(field.type, offset, little, [...path, `.${field.name}`], body);
      if (members.length === 1) {
        out.push(...body, `${r}${prop(field.name)} = ${value};`);
        continue;
      }
      out.push(
        'try {',
        ...body,
        `${r}${prop(field.name)} = ${value};`,
        `} catch (error) { if (!isDecodeError(error)) throw error; ${first} ??= error; }`,
      );
    }
    if (members.length > 1) {
      out.push(
        `if (${first} !== undefined && Object.keys(${r}).length === 0) throw unionUnreadable(${pathExpr(path)}, ${e.ref(type)}, ${first});`,
      );
    }
    return r;
  },
  check(w, type, x, path, snap) {
    if (typeof x !== 'object' || x === null) throw invalid(path, type, x);
    let n = 0;
    let m = -1;
    const values = type.fields.map((field, i) => {
      const value = (x as Record<string, unknown>)[field.name];
      if (value !== undefined) {
        n++;
        m = i;
      }
      return value;
    });
    if (n !== 1) throw unionCount(path, type, x);
    snap.push(m);
    const field = type.fields[m]!;
    w.check(field.type, values[m], `${path}.${field.name}`, snap);
  },
  write(w, type, snap, dv, u, o) {
    const m = snap.leaves[snap.k++] as number;
    u.fill(0, o, o + type.size);
    w.write(type.fields[m]!.type, snap, dv, u, o, type.endian === 'little');
  },
  read(w, type, dv, u, o, _little, path) {
    const value: Record<string, unknown> = {};
    const members = viewed(type);
    let first: unknown;
    for (const field of members) {
      try {
        value[field.name] = w.read(field.type, dv, u, o, type.endian === 'little', `${path}.${field.name}`);
      } catch (error) {
        if (members.length === 1 || !isDecodeError(error)) throw error;
        first ??= error;
      }
    }
    if (first !== undefined && Object.keys(value).length === 0) throw unionUnreadable(path, type, first);
    return value;
  },
};
