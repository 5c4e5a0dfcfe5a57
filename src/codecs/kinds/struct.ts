/** Struct kind (a nested struct, or the message itself): an object of fields at their offsets, in its own byte order. */
import type { FieldLayout, StructShape } from '../types.js';
import { invalid } from '../values.js';
import { type Kind, key, prop, shifted } from './kind.js';

/** The fields that hold a value: all but zero-width bitfields. */
function valued(type: StructShape): readonly FieldLayout[] {
  return type.fields.filter((field) => field.type.kind !== 'bits' || field.type.width > 0);
}

/** The struct kind. */
export const struct: Kind<StructShape> = {
  emitCheck(e, type, x, path, out) {
    out.push(`if (typeof ${x} !== 'object' || ${x} === null) ${e.fail(type, x, path)}`);
    for (const field of valued(type)) {
      // Each field is read once, into a local the checks and the write both use.
      const f = e.local('x');
      out.push(`const ${f} = ${x}${prop(field.name)};`);
      e.check(field.type, f, [...path, `.${field.name}`], out);
    }
  },
  emitWrite(e, type, offset, _little, out) {
    const little = type.endian === 'little';
    for (const field of type.fields) e.write(field.type, shifted(offset, field.offset), little, out);
  },
  emitRead(e, type, offset, _little, path, out) {
    const little = type.endian === 'little';
    const props = valued(type).map((field) => {
      const value = e.read(field.type, shifted(offset, field.offset), little, [...path, `.${field.name}`], out);
      return `${key(field.name)}: ${value}`;
    });
    return `{ ${props.join(', ')} }`;
  },
  check(w, type, x, path, snap) {
    if (typeof x !== 'object' || x === null) throw invalid(path, type, x);
    for (const field of valued(type)) {
      w.check(field.type, (x as Record<string, unknown>)[field.name], `${path}.${field.name}`, snap);
    }
  },
  write(w, type, snap, dv, u, o) {
    for (const field of type.fields) w.write(field.type, snap, dv, u, o + field.offset, type.endian === 'little');
  },
  read(w, type, dv, u, o, _little, path) {
    const value: Record<string, unknown> = {};
    for (const field of valued(type)) {
      value[field.name] = w.read(
        field.type,
        dv,
        u,
        o + field.offset,
        type.endian === 'little',
        `${path}.${field.name}`,
      );
    }
    return value;
  },
};
