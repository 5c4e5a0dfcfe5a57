/**
 * TypeScript source for schemas (`typed-ipc gen ts`): one `struct(...)`/`union(...)` constant per
 * type, nested ones first, with the public schema API only, so the file reads like one written by
 * hand and can be edited from there. Names are checked C identifiers already; those that would clash
 * with the API's imports or JS reserved words get a trailing `_`.
 */
import { SchemaError } from '../../errors.js';
import type { CompositeShape, FieldType } from '../types.js';

/** Options of `schemaSource`. */
export interface SchemaSourceOptions {
  /** The module the schema API is imported from; default `typed-ipc`. */
  readonly from?: string;
  /** A comment line at the top (e.g. the command that generated the file). */
  readonly comment?: string;
}

const reserved = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'yield let static implements interface package private protected public await arguments eval undefined NaN ' +
    'Infinity Object Array Function String Number Boolean Symbol BigInt Math JSON Date Error Map Set Promise'
  ).split(' '),
);

const api = ['aligned', 'array', 'bits', 'bool', 'bytes', 'char', 'enumOf', 'struct', 'union'];
const scalars = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'f32', 'f64'];

/** Composite types reachable from `roots`, nested first, each once. */
function ordered(roots: readonly CompositeShape[]): CompositeShape[] {
  const out: CompositeShape[] = [];
  const seen = new Set<CompositeShape>();
  const visit = (type: FieldType): void => {
    if (type.kind === 'array') visit(type.element);
    else if (type.kind === 'aligned') visit(type.inner);
    else if ((type.kind === 'struct' || type.kind === 'union') && !seen.has(type)) {
      seen.add(type);
      for (const field of type.fields) visit(field.type);
      out.push(type);
    }
  };
  for (const root of roots) visit(root);
  return out;
}

/** The TypeScript source declaring `schemas` (keyed as `fromCHeader` keys them: tags and typedef names). */
export function schemaSource(
  schemas: Readonly<Record<string, CompositeShape>>,
  options: SchemaSourceOptions = {},
): string {
  const types = ordered(Object.values(schemas));
  const used = new Set<string>();
  const names = new Map<CompositeShape, string>();
  const taken = new Set([...api, ...scalars, 'Infer']);
  const constName = (name: string): string => {
    let candidate = reserved.has(name) || taken.has(name) ? `${name}_` : name;
    while (taken.has(candidate)) candidate = `${candidate}_`;
    taken.add(candidate);
    return candidate;
  };
  for (const type of types) names.set(type, constName(type.name));

  const expr = (type: FieldType): string => {
    switch (type.kind) {
      case 'int':
      case 'float':
        used.add(type.name);
        return type.name;
      case 'bool':
        used.add('bool');
        return 'bool';
      case 'char':
      case 'bytes':
        used.add(type.kind);
        return `${type.kind}(${type.length})`;
      case 'array':
        used.add('array');
        return `array(${expr(type.element)}, ${type.length})`;
      case 'aligned':
        used.add('aligned');
        return `aligned(${expr(type.inner)}, ${type.alignment})`;
      case 'bits':
        used.add('bits');
        used.add(type.base.name);
        return `bits(${type.base.name}, ${type.width})`;
      case 'enum': {
        used.add('enumOf');
        used.add(type.base.name);
        const members = [...type.values].map(([name, value]) => `${name}: ${value}`).join(', ');
        return `enumOf(${type.base.name}, { ${members} }${type.allowUnknown ? ', { allowUnknown: true }' : ''})`;
      }
      case 'struct':
      case 'union': {
        const name = names.get(type);
        if (name === undefined) throw new SchemaError(`schemaSource: ${type.kind} ${type.name} was not collected`);
        return name;
      }
    }
  };

  const body: string[] = [];
  for (const type of types) {
    used.add(type.kind);
    const name = names.get(type)!;
    const fields = type.fields.map((field) => `  ${field.name}: ${expr(field.type)},`);
    const opts: string[] = [];
    if (type.pack !== undefined) opts.push(`pack: ${type.pack}`);
    if (type.packed) opts.push('packed: true');
    if (type.alignOption !== undefined) opts.push(`align: ${type.alignOption}`);
    if (type.endian === 'big') opts.push("endian: 'big'");
    if (type.kind === 'union' && type.decodeMember !== undefined) opts.push(`decode: '${type.decodeMember}'`);
    const optionText = opts.length === 0 ? '' : `, { ${opts.join(', ')} }`;
    const oneLine = `export const ${name} = ${type.kind}('${type.name}', { ${fields.map((f) => f.trim().replace(/,$/, '')).join(', ')} }${optionText});`;
    body.push(`/** \`${type.kind} ${type.name}\`: ${type.size} bytes, aligned to ${type.align}. */`);
    if (oneLine.length <= 120) body.push(oneLine);
    else {
      body.push(
        `export const ${name} = ${type.kind}(`,
        `  '${type.name}',`,
        '  {',
        ...fields.map((line) => `  ${line}`),
        `  },${opts.length === 0 ? '' : `\n  { ${opts.join(', ')} },`}`,
        ');',
      );
    }
    body.push(`/** A \`${type.kind} ${type.name}\` value. */`, `export type ${name} = Infer<typeof ${name}>;`, '');
  }
  // typedef names that are not the type's own name: aliases of the same schema.
  for (const [key, type] of Object.entries(schemas)) {
    const name = names.get(type)!;
    if (key === type.name || reserved.has(key) || taken.has(key)) continue;
    taken.add(key);
    body.push(`/** typedef \`${key}\`. */`, `export const ${key} = ${name};`, `export type ${key} = ${name};`, '');
  }
  const imports = [...api, ...scalars].filter((n) => used.has(n)).sort();
  const lines = [
    ...(options.comment === undefined ? [] : [`/* ${options.comment.replaceAll('*/', '* /')} */`]),
    '/* Generated by typed-ipc from C declarations: edit freely, or regenerate when the header changes. */',
    `import { ${[...imports, 'type Infer'].join(', ')} } from '${(options.from ?? 'typed-ipc').replace(/[\\']/g, '\\$&')}';`,
    '',
    ...body,
  ];
  return lines.join('\n');
}
