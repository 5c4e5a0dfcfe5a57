/**
 * Reads C declarations into schemas. The tree-sitter tree is walked in source order, the way a
 * compiler reads a translation unit: typedefs, struct/union/enum tags, enum constants, object-like
 * `#define`s and `#pragma pack` state are tracked; everything else a real header holds (functions,
 * variables, function-like macros, asm labels, attributes on declarations) is passed over. Member
 * types are resolved into a small C type model first; a struct becomes a schema only when it is
 * asked for, so that what a schema cannot carry (pointers, flexible arrays, ...) is refused only
 * where it matters, with the file, line and column that hold it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Parser } from 'web-tree-sitter';
import { SchemaError } from '../../errors.js';
import { type StructType, struct } from '../struct.js';
import {
  aligned,
  array,
  bits,
  bool,
  bytes,
  char,
  type EnumBase,
  type EnumType,
  enumOf,
  type FieldType,
  f32,
  f64,
  type IntType,
  i8,
  i16,
  i32,
  i64,
  u8,
  u16,
  u32,
  u64,
} from '../types.js';
import { type UnionType, union } from '../union.js';
import { preprocess } from './cpp.js';
import { loadParser, type Node } from './grammar.js';
import { type EnumExtras, normalise } from './lex.js';

/** Options of `fromCHeader`. */
export interface FromCHeaderOptions {
  /** The header's path: names it in errors and anchors `#include "..."`; default `<input>`. */
  readonly file?: string;
  /** Struct, union or typedef names to return (also from included headers); default: every struct of the file. */
  readonly structs?: readonly string[];
  /** Directories searched by `#include` (`-I`). */
  readonly includePaths?: readonly string[];
  /** Macros (`-D NAME=value`). */
  readonly defines?: Readonly<Record<string, string | number>>;
  /** Run the C preprocessor (`cc -E`) first: needed for system headers and function-like macros. */
  readonly cpp?: boolean;
  /** The compiler that preprocesses when `cpp` is set; default `cc`. */
  readonly compiler?: string;
}

/** Schemas read from a C header, keyed by struct tag and by typedef name. */
export type CSchemas = Record<string, StructType | UnionType>;

interface Where {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const at = (where: Where): string => `${where.file}:${where.line}:${where.column}`;

/** The C type model: what a declaration means on LP64 x86-64, before it becomes a schema type. */
type CType =
  | { readonly t: 'int'; readonly size: number; readonly signed: boolean; readonly spelling: 'char' | 'uchar' | 'int' }
  | { readonly t: 'bool' }
  | { readonly t: 'float'; readonly size: 4 | 8 }
  | { readonly t: 'record'; readonly rec: Rec }
  | { readonly t: 'enum'; readonly en: EnumDecl }
  | { readonly t: 'array'; readonly element: CType; readonly length: number }
  | { readonly t: 'aligned'; readonly inner: CType; readonly align: number; readonly where: Where }
  | { readonly t: 'pointer'; readonly to: string; readonly where: Where }
  | { readonly t: 'bad'; readonly why: string; readonly where: Where };

interface CField {
  /** The member's name; undefined for an anonymous struct/union member or an unnamed bitfield. */
  readonly name: string | undefined;
  readonly type: CType;
  readonly width: number | undefined;
  /** `_Alignas` or `__attribute__((aligned))` on the member. */
  readonly align: number | undefined;
  readonly packed: boolean;
  /** A trailing comment on the member's line (typed-ipc's cHeader writes `enum NAME` and `u8 array` there). */
  readonly note: string | undefined;
  readonly where: Where;
}

interface RecDef {
  readonly fields: readonly CField[];
  readonly pack: number | undefined;
  readonly packed: boolean;
  readonly align: number | undefined;
  readonly endian: 'little' | 'big';
  readonly where: Where;
  /** A syntax error inside the body: the struct cannot be read. */
  readonly broken: Where | undefined;
}

interface Rec {
  readonly tag: string | undefined;
  readonly union: boolean;
  def: RecDef | undefined;
  where: Where;
  readonly typedefs: string[];
  /** Set from the context for a struct with neither tag nor typedef (named after its parent's member). */
  contextName?: string;
  /** Defined at file scope of the header itself (not an included one, not nested anonymously). */
  top: boolean;
}

interface EnumDecl {
  readonly tag: string | undefined;
  readonly members: readonly (readonly [string, number])[];
  readonly base: EnumBase | undefined;
  readonly why: string | undefined;
  readonly where: Where;
  schema?: EnumType;
  /** The schema with the member names as typed-ipc's cHeader prefixed them, stripped (by annotation). */
  readonly annotated: Map<string, EnumType>;
}

const intTypes: Readonly<Record<string, IntType>> = {
  u8,
  u16,
  u32,
  u64,
  i8,
  i16,
  i32,
  i64,
};

const int = (size: number, signed: boolean, spelling: 'char' | 'uchar' | 'int' = 'int'): CType => ({
  t: 'int',
  size,
  signed,
  spelling,
});

/** Names tree-sitter's C grammar reads as primitive types, on LP64 x86-64. */
const primitives: Readonly<Record<string, CType>> = {
  char: int(1, true, 'char'),
  int: int(4, true),
  short: int(2, true),
  long: int(8, true),
  float: { t: 'float', size: 4 },
  double: { t: 'float', size: 8 },
  bool: { t: 'bool' },
  _Bool: { t: 'bool' },
  int8_t: int(1, true),
  int16_t: int(2, true),
  int32_t: int(4, true),
  int64_t: int(8, true),
  uint8_t: int(1, false, 'uchar'),
  uint16_t: int(2, false),
  uint32_t: int(4, false),
  uint64_t: int(8, false),
  size_t: int(8, false),
  ssize_t: int(8, true),
  ptrdiff_t: int(8, true),
  intptr_t: int(8, true),
  uintptr_t: int(8, false),
  char8_t: int(1, false, 'uchar'),
  char16_t: int(2, false),
  char32_t: int(4, false),
  wchar_t: int(4, true),
};

/** Reads one header (and what it includes) into the C type model, then into schemas. */
class Reader {
  readonly #parser: Parser;
  readonly #options: FromCHeaderOptions;
  readonly #typedefs = new Map<string, CType>();
  readonly #tags = new Map<string, Rec>();
  readonly #enumTags = new Map<string, EnumDecl>();
  readonly #constants = new Map<string, bigint>();
  readonly #macros = new Map<string, string>();
  readonly #records: Rec[] = [];
  readonly #schemas = new Map<Rec, StructType | UnionType>();
  readonly #converting = new Set<Rec>();
  readonly #included = new Set<string>();
  #pack: number | undefined;
  readonly #packStack: (number | undefined)[] = [];
  // Per parsed file: its name, line origins (cpp) and lifted enum extras.
  #file = '<input>';
  #origin: readonly (readonly [string, number])[] | undefined;
  #enumExtras: ReadonlyMap<number, EnumExtras> = new Map();
  #unionAttributes: ReadonlyMap<number, string> = new Map();
  readonly #mainFile: string;

  constructor(parser: Parser, options: FromCHeaderOptions) {
    this.#parser = parser;
    this.#options = options;
    this.#mainFile = options.file ?? '<input>';
    for (const [name, value] of Object.entries(options.defines ?? {})) this.#macros.set(name, String(value));
  }

  /** Reads `source` as the header itself. */
  read(source: string): void {
    if (this.#options.cpp === true) {
      const defines = Object.fromEntries(Object.entries(this.#options.defines ?? {}).map(([k, v]) => [k, String(v)]));
      const output = preprocess(
        source,
        this.#mainFile,
        this.#options.includePaths ?? [],
        defines,
        this.#options.compiler,
      );
      this.#readText(output.text, this.#mainFile, output.origin);
    } else {
      if (this.#options.file !== undefined) this.#included.add(resolve(this.#options.file));
      this.#readText(source, this.#mainFile, undefined);
    }
  }

  #readText(source: string, file: string, origin: readonly (readonly [string, number])[] | undefined): void {
    const saved = [this.#file, this.#origin, this.#enumExtras, this.#unionAttributes] as const;
    const normalised = normalise(source);
    this.#file = file;
    this.#origin = origin;
    this.#enumExtras = normalised.enums;
    this.#unionAttributes = normalised.unions;
    const tree = this.#parser.parse(normalised.text);
    if (tree === null) throw new SchemaError(`fromCHeader: ${file}: the C parser returned no tree`);
    try {
      this.#items(tree.rootNode.namedChildren);
    } finally {
      tree.delete();
      [this.#file, this.#origin, this.#enumExtras, this.#unionAttributes] = saved;
    }
  }

  #where(node: Node): Where {
    const row = node.startPosition.row;
    const origin = this.#origin?.[row];
    if (origin !== undefined) return { file: origin[0], line: origin[1], column: node.startPosition.column + 1 };
    return { file: this.#file, line: row + 1, column: node.startPosition.column + 1 };
  }

  // ---- top level -------------------------------------------------------------------------------

  #items(nodes: readonly (Node | null)[]): void {
    for (const node of nodes) if (node !== null) this.#item(node);
  }

  #item(node: Node): void {
    switch (node.type) {
      case 'preproc_call':
        this.#directive(node);
        return;
      case 'preproc_def': {
        const name = node.childForFieldName('name')?.text;
        if (name !== undefined) this.#macros.set(name, node.childForFieldName('value')?.text.trim() ?? '');
        return;
      }
      case 'preproc_include':
        this.#include(node);
        return;
      case 'preproc_ifdef':
      case 'preproc_if':
        this.#items(this.#branch(node));
        return;
      case 'type_definition':
        this.#typedef(node);
        return;
      case 'declaration':
        this.#declarationType(node);
        return;
      case 'struct_specifier':
      case 'union_specifier':
      case 'enum_specifier':
        this.#specifier(node, [], true);
        return;
      case 'ERROR':
        // Error recovery may wrap good declarations; what a requested struct needs is checked later.
        this.#items(node.namedChildren);
        return;
      default:
        // Functions, variables' initialisers, expression statements, comments, linkage: not types.
        return;
    }
  }

  /** `#pragma pack(...)`, the only pragma that changes layout. */
  #directive(node: Node): void {
    if (node.childForFieldName('directive')?.text !== '#pragma') return;
    const text = node.childForFieldName('argument')?.text.trim() ?? '';
    const match = /^pack\s*\(([^)]*)\)/.exec(text);
    if (match === null) return;
    const args = match[1]!
      .split(',')
      .map((arg) => arg.trim())
      .filter((arg) => arg.length > 0);
    const numbers = args.filter((arg) => /^\d+$/.test(arg)).map(Number);
    const value = numbers[0];
    if (value !== undefined && ![1, 2, 4, 8, 16].includes(value)) {
      throw new SchemaError(`${at(this.#where(node))}: #pragma pack(${value}): expected 1, 2, 4, 8 or 16`);
    }
    if (args[0] === 'push') {
      this.#packStack.push(this.#pack);
      if (value !== undefined) this.#pack = value;
    } else if (args[0] === 'pop') {
      this.#pack = this.#packStack.pop();
    } else {
      this.#pack = value;
    }
  }

  #include(node: Node): void {
    if (this.#options.cpp === true) return;
    const path = node.childForFieldName('path');
    if (path === null) return;
    const quoted = path.type === 'string_literal';
    const name = path.text.slice(1, -1);
    const dirs = [
      ...(quoted && this.#file !== '<input>' ? [dirname(this.#file)] : []),
      ...(this.#options.includePaths ?? []),
    ];
    const found = dirs.map((dir) => join(dir, name)).find((candidate) => existsSync(candidate));
    if (found === undefined) {
      // <stdint.h> and friends: their types are built in. A missing own header is an error.
      if (quoted) {
        throw new SchemaError(
          `${at(this.#where(node))}: #include "${name}": not found in ${dirs.join(', ') || 'no directory'}; add its directory with -I (includePaths) or use --cpp`,
        );
      }
      return;
    }
    const full = resolve(found);
    if (this.#included.has(full)) return;
    this.#included.add(full);
    this.#readText(readFileSync(full, 'utf8'), found, undefined);
  }

  /** The nodes of the branch of `#if`/`#ifdef` that the preprocessor would keep. */
  #branch(node: Node): Node[] {
    let current: Node | null = node;
    while (current !== null) {
      const type: string = current.type;
      let taken: boolean;
      if (type === 'preproc_ifdef' || type === 'preproc_elifdef') {
        const name = current.childForFieldName('name')?.text ?? '';
        const negated = /^#\s*(ifndef|elifndef)/.test(current.text);
        taken = this.#macros.has(name) !== negated;
      } else if (type === 'preproc_if' || type === 'preproc_elif') {
        const condition = current.childForFieldName('condition');
        taken = condition !== null && this.#evaluate(condition, true) !== 0n;
      } else {
        taken = true; // #else
      }
      const alternative = current.childForFieldName('alternative');
      if (taken) {
        const skip = new Set([current.childForFieldName('name')?.id, current.childForFieldName('condition')?.id]);
        return current.namedChildren.filter(
          (child): child is Node => child !== null && child.id !== alternative?.id && !skip.has(child.id),
        );
      }
      current = alternative;
    }
    return [];
  }

  #typedef(node: Node): void {
    const typeNode = node.childForFieldName('type');
    if (typeNode === null) return;
    const base = this.#specifier(typeNode, [], true);
    const trailing = this.#attributes(node.children.filter((c): c is Node => c?.type === 'attribute_specifier'));
    for (const declarator of node.childrenForFieldName('declarator')) {
      if (declarator === null) continue;
      const { name, type } = this.#declarator(declarator, base);
      if (name === undefined) continue;
      let aliased = type;
      const align = trailing.align ?? this.#attributes(attributesIn(declarator)).align;
      if (align !== undefined) aliased = { t: 'aligned', inner: type, align, where: this.#where(declarator) };
      this.#typedefs.set(name, aliased);
      if (type.t === 'record' && type.rec.tag === undefined) type.rec.typedefs.push(name);
      if (type.t === 'record' && type.rec.tag !== undefined && !type.rec.typedefs.includes(name)) {
        type.rec.typedefs.push(name);
      }
    }
  }

  #declarationType(node: Node): void {
    const typeNode = node.childForFieldName('type');
    if (typeNode !== null) this.#specifier(typeNode, [], true);
  }

  // ---- types -----------------------------------------------------------------------------------

  /** The C type a type specifier names; struct/union/enum definitions in it are recorded. */
  #specifier(node: Node, extraAttributes: readonly Node[], top: boolean): CType {
    const where = this.#where(node);
    switch (node.type) {
      case 'primitive_type': {
        const known = primitives[node.text];
        if (known !== undefined) return known;
        if (node.text === 'void') return { t: 'bad', why: 'void has no size', where };
        return { t: 'bad', why: `${node.text} has no fixed-width schema type`, where };
      }
      case 'sized_type_specifier':
        return sized(node.text, where);
      case 'type_identifier': {
        const known = this.#typedefs.get(node.text);
        if (known !== undefined) return known;
        const builtin = primitives[node.text];
        if (builtin !== undefined) return builtin;
        return {
          t: 'bad',
          why: `unknown type name ${node.text}; declare it before use, include its header with -I, or preprocess with --cpp`,
          where,
        };
      }
      case 'struct_specifier':
      case 'union_specifier':
        return { t: 'record', rec: this.#record(node, extraAttributes, top) };
      case 'enum_specifier':
        return { t: 'enum', en: this.#enum(node) };
      default:
        return { t: 'bad', why: `${node.text.slice(0, 40)} is not a type a schema can hold`, where };
    }
  }

  #record(node: Node, extraAttributes: readonly Node[], top: boolean): Rec {
    const union = node.type === 'union_specifier';
    const tag = node.childForFieldName('name')?.text;
    const body = node.childForFieldName('body');
    const where = this.#where(node);
    let rec = tag === undefined ? undefined : this.#tags.get(`${union ? 'union' : 'struct'} ${tag}`);
    if (rec === undefined || (body !== null && rec.def !== undefined)) {
      rec = { tag, union, def: undefined, where, typedefs: [], top: false };
      if (tag !== undefined) this.#tags.set(`${union ? 'union' : 'struct'} ${tag}`, rec);
    }
    if (body === null) return rec;
    let attributes = this.#attributes([
      ...node.children.filter((c): c is Node => c?.type === 'attribute_specifier'),
      ...extraAttributes,
    ]);
    const lifted = union ? this.#unionAttributes.get(node.startIndex) : undefined;
    if (lifted !== undefined) {
      // Parsed where the grammar takes them (after `struct`), then merged.
      const tree = this.#parser.parse(`struct ${lifted} tipc_lifted;`);
      try {
        const more = this.#attributes(
          tree?.rootNode.descendantsOfType('attribute_specifier').filter((n): n is Node => n !== null) ?? [],
        );
        attributes = {
          packed: attributes.packed || more.packed,
          align: maxDefined(attributes.align, more.align),
          endian: attributes.endian ?? more.endian,
        };
      } finally {
        tree?.delete();
      }
    }
    const fields: CField[] = [];
    const broken = this.#fields(body.namedChildren, fields);
    rec.def = {
      fields,
      pack: this.#pack,
      packed: attributes.packed,
      align: attributes.align,
      endian: attributes.endian ?? 'little',
      where,
      broken,
    };
    rec.where = where;
    rec.top = top && (tag !== undefined || true) && where.file === this.#mainFile;
    this.#records.push(rec);
    return rec;
  }

  /** Collects the members of a struct body (following `#if` branches); returns where a syntax error is. */
  #fields(nodes: readonly (Node | null)[], out: CField[]): Where | undefined {
    let broken: Where | undefined;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i];
      if (node === null || node === undefined) continue;
      if (node.type === 'preproc_ifdef' || node.type === 'preproc_if') {
        broken ??= this.#fields(this.#branch(node), out);
        continue;
      }
      if (node.type === 'ERROR') {
        broken ??= this.#where(node);
        continue;
      }
      if (node.type !== 'field_declaration') continue;
      const next = nodes[i + 1];
      const note =
        next?.type === 'comment' && next.startPosition.row === node.endPosition.row
          ? next.text.replace(/^\/\*|\*\/$|^\/\//g, '').trim()
          : undefined;
      broken ??= this.#field(node, out, note);
    }
    return broken;
  }

  #field(node: Node, out: CField[], note: string | undefined): Where | undefined {
    const typeNode = node.childForFieldName('type');
    if (typeNode === null) return this.#where(node);
    let broken: Where | undefined;
    const own = this.#attributes(node.children.filter((c): c is Node => c?.type === 'attribute_specifier'));
    let alignas: number | undefined;
    for (const qualifier of node.children) {
      if (qualifier?.type !== 'type_qualifier') continue;
      const alignasNode = qualifier.namedChildren.find((c) => c?.type === 'alignas_qualifier');
      const argument = alignasNode?.namedChildren[0];
      if (argument === null || argument === undefined) continue;
      const value =
        argument.type === 'type_descriptor'
          ? this.#alignOf(this.#typeDescriptor(argument))
          : Number(this.#evaluate(argument, false));
      alignas = Math.max(alignas ?? 0, value);
    }
    const base = this.#specifier(typeNode, [], false);
    const children = node.children.filter((c): c is Node => c !== null);
    let declared = false;
    for (let k = 0; k < children.length; k++) {
      const child = children[k]!;
      if (child.type === 'ERROR') broken ??= this.#where(child);
      if (node.childrenForFieldName('declarator').every((d) => d?.id !== child.id)) continue;
      declared = true;
      const clause = children[k + 1]?.type === 'bitfield_clause' ? children[k + 1] : undefined;
      const { name, type, attributes } = this.#declarator(child, base);
      const declAttrs = this.#attributes(attributes);
      const align = maxDefined(alignas, own.align, declAttrs.align);
      const width = clause === undefined ? undefined : Number(this.#evaluate(clause.namedChildren[0]!, false));
      out.push({
        name: child.isMissing ? undefined : name,
        type,
        width,
        align,
        packed: own.packed || declAttrs.packed,
        note,
        where: this.#where(child),
      });
    }
    if (!declared && base.t === 'record' && base.rec.tag === undefined) {
      // C11 anonymous struct or union member.
      out.push({
        name: undefined,
        type: base,
        width: undefined,
        align: maxDefined(alignas, own.align),
        packed: own.packed,
        note,
        where: this.#where(node),
      });
    }
    return broken;
  }

  /** Applies a declarator (`x`, `x[2][3]`, `*p`, `(*f)(int)`) to a base type. */
  #declarator(node: Node, base: CType): { name: string | undefined; type: CType; attributes: Node[] } {
    const attributes: Node[] = [];
    let type = base;
    let current: Node | null = node;
    while (current !== null) {
      switch (current.type) {
        case 'field_identifier':
        case 'type_identifier':
        case 'identifier':
          return { name: current.isMissing ? undefined : current.text, type, attributes };
        case 'array_declarator': {
          const size = current.childForFieldName('size');
          const where = this.#where(current);
          if (size === null) {
            type = { t: 'bad', why: 'a flexible array member has no fixed size; a schema is fixed-size', where };
          } else {
            const length = this.#tryEvaluate(size);
            if (typeof length === 'string') type = { t: 'bad', why: length, where };
            else if (length <= 0n) {
              type = {
                t: 'bad',
                why: `an array of ${length} elements (zero-length or flexible) has no fixed size`,
                where,
              };
            } else type = { t: 'array', element: type, length: Number(length) };
          }
          current = current.childForFieldName('declarator');
          break;
        }
        case 'pointer_declarator':
          type = { t: 'pointer', to: 'a pointer', where: this.#where(current) };
          current = current.childForFieldName('declarator');
          break;
        case 'function_declarator':
          type = { t: 'pointer', to: 'a function', where: this.#where(current) };
          current = current.childForFieldName('declarator');
          if (current?.type === 'parenthesized_declarator') {
            const inner: Node | null | undefined = current.namedChildren[0];
            if (inner?.type === 'pointer_declarator') {
              type = { t: 'pointer', to: 'a function pointer', where: this.#where(inner) };
              current = inner.childForFieldName('declarator');
            }
          }
          break;
        case 'parenthesized_declarator':
          current = current.namedChildren.find((c) => c !== null && c.type !== 'attribute_specifier') ?? null;
          break;
        case 'attributed_declarator':
          attributes.push(...current.namedChildren.filter((c): c is Node => c?.type === 'attribute_specifier'));
          current = current.namedChildren.find((c) => c !== null && c.type !== 'attribute_specifier') ?? null;
          break;
        default:
          return {
            name: undefined,
            type: { t: 'bad', why: `cannot read declarator ${current.text}`, where: this.#where(current) },
            attributes,
          };
      }
    }
    return { name: undefined, type, attributes };
  }

  #enum(node: Node): EnumDecl {
    const tag = node.childForFieldName('name')?.text;
    const body = node.childForFieldName('body');
    const where = this.#where(node);
    if (body === null) {
      const known = tag === undefined ? undefined : this.#enumTags.get(tag);
      if (known !== undefined) return known;
      return {
        tag,
        members: [],
        base: undefined,
        why: `enum ${tag} is used before it is defined`,
        where,
        annotated: new Map(),
      };
    }
    const extras = this.#enumExtras.get(node.startIndex);
    const attrs = this.#attributes(node.children.filter((c): c is Node => c?.type === 'attribute_specifier'));
    const members: [string, number][] = [];
    let next = 0n;
    let why: string | undefined;
    for (const enumerator of body.namedChildren) {
      if (enumerator?.type !== 'enumerator') continue;
      const name = enumerator.childForFieldName('name')!.text;
      const valueNode = enumerator.childForFieldName('value');
      if (valueNode !== null) {
        const value = this.#tryEvaluate(valueNode);
        if (typeof value === 'string') {
          why = value;
          break;
        }
        next = value;
      }
      this.#constants.set(name, next);
      members.push([name, Number(next)]);
      next += 1n;
    }
    let base: EnumBase | undefined;
    if (why === undefined && extras?.underlying !== undefined) {
      const fixed = sized(extras.underlying, where);
      const named = primitives[extras.underlying] ?? this.#typedefs.get(extras.underlying);
      const resolved = fixed.t === 'int' ? fixed : named;
      if (resolved?.t === 'int' && resolved.size <= 4)
        base = intTypes[`${resolved.signed ? 'i' : 'u'}${resolved.size * 8}`] as EnumBase;
      else why = `enum underlying type ${extras.underlying} is not an integer type of at most 32 bits`;
    } else if (why === undefined) {
      base = enumBase(members, extras?.packed === true || attrs.packed);
      if (base === undefined) why = 'enum values exceed 32 bits; enumOf bases are at most 32 bits wide';
    }
    const decl: EnumDecl = { tag, members, base, why, where, annotated: new Map() };
    if (tag !== undefined) this.#enumTags.set(tag, decl);
    return decl;
  }

  #typeDescriptor(node: Node): CType {
    const typeNode = node.childForFieldName('type');
    if (typeNode === null) return { t: 'bad', why: 'no type', where: this.#where(node) };
    let type = this.#specifier(typeNode, [], false);
    const declarator = node.childForFieldName('declarator');
    // Abstract declarators: `int[4]`, `int *`.
    let current: Node | null = declarator;
    const sizes: bigint[] = [];
    while (current !== null) {
      if (current.type === 'abstract_pointer_declarator') {
        type = { t: 'pointer', to: 'a pointer', where: this.#where(current) };
        break;
      }
      if (current.type === 'abstract_array_declarator') {
        const size = current.childForFieldName('size');
        sizes.push(size === null ? 0n : this.#evaluate(size, false));
        current = current.childForFieldName('declarator');
        continue;
      }
      break;
    }
    for (const size of sizes) type = { t: 'array', element: type, length: Number(size) };
    return type;
  }

  #attributes(nodes: readonly Node[]): {
    packed: boolean;
    align: number | undefined;
    endian: 'little' | 'big' | undefined;
  } {
    let packed = false;
    let align: number | undefined;
    let endian: 'little' | 'big' | undefined;
    for (const node of nodes) {
      const list = node.namedChildren.find((c) => c?.type === 'argument_list');
      for (const attribute of list?.namedChildren ?? []) {
        if (attribute === null) continue;
        const isCall = attribute.type === 'call_expression';
        const name = (isCall ? attribute.childForFieldName('function')?.text : attribute.text)?.replace(
          /^__(.*)__$/,
          '$1',
        );
        const args = isCall ? (attribute.childForFieldName('arguments')?.namedChildren ?? []) : [];
        if (name === 'packed') packed = true;
        else if (name === 'aligned') {
          // Bare `aligned` is the target's biggest alignment: __BIGGEST_ALIGNMENT__ is 16 on x86-64.
          const value = args[0] == null ? 16 : Number(this.#evaluate(args[0], false));
          align = Math.max(align ?? 0, value);
        } else if (name === 'scalar_storage_order') {
          const order = args[0]?.text.replaceAll('"', '');
          endian = order === 'big-endian' ? 'big' : 'little';
        }
      }
    }
    return { packed, align, endian };
  }

  // ---- constant expressions --------------------------------------------------------------------

  /** A constant's value, or why it is not a constant. */
  #tryEvaluate(node: Node): bigint | string {
    try {
      return this.#evaluate(node, false);
    } catch (error) {
      if (error instanceof NotConstant) return error.message;
      throw error;
    }
  }

  #evaluate(node: Node, preprocessor: boolean, depth = 0): bigint {
    const recurse = (child: Node | null): bigint => {
      if (child === null) throw new NotConstant(`incomplete expression ${node.text}`);
      return this.#evaluate(child, preprocessor, depth);
    };
    switch (node.type) {
      case 'number_literal':
        return integerLiteral(node.text);
      case 'char_literal':
        return charLiteral(node.text);
      case 'true':
        return 1n;
      case 'false':
        return 0n;
      case 'parenthesized_expression':
        return recurse(node.namedChildren[0] ?? null);
      case 'preproc_defined':
        return this.#macros.has(node.namedChildren[0]?.text ?? '') ? 1n : 0n;
      case 'identifier': {
        const constant = this.#constants.get(node.text);
        if (constant !== undefined) return constant;
        const macro = this.#macros.get(node.text);
        if (macro !== undefined && depth < 32) return this.#macroValue(node.text, macro, preprocessor, depth + 1);
        if (preprocessor) return 0n; // #if: an unknown identifier is 0
        throw new NotConstant(
          `array size ${node.text} is not a known constant; define it (-D ${node.text}=value), include its header, or use --cpp`,
        );
      }
      case 'unary_expression': {
        const value = recurse(node.childForFieldName('argument'));
        const op = node.childForFieldName('operator')?.text;
        if (op === '-') return -value;
        if (op === '+') return value;
        if (op === '~') return ~value;
        if (op === '!') return value === 0n ? 1n : 0n;
        break;
      }
      case 'binary_expression': {
        const op = node.childForFieldName('operator')?.text;
        const left = recurse(node.childForFieldName('left'));
        if (op === '&&') return left !== 0n && recurse(node.childForFieldName('right')) !== 0n ? 1n : 0n;
        if (op === '||') return left !== 0n || recurse(node.childForFieldName('right')) !== 0n ? 1n : 0n;
        const right = recurse(node.childForFieldName('right'));
        switch (op) {
          case '+':
            return left + right;
          case '-':
            return left - right;
          case '*':
            return left * right;
          case '/':
          case '%':
            if (right === 0n) throw new NotConstant(`division by zero in ${node.text}`);
            return op === '/' ? left / right : left % right;
          case '<<':
            return left << right;
          case '>>':
            return left >> right;
          case '&':
            return left & right;
          case '|':
            return left | right;
          case '^':
            return left ^ right;
          case '<':
            return left < right ? 1n : 0n;
          case '>':
            return left > right ? 1n : 0n;
          case '<=':
            return left <= right ? 1n : 0n;
          case '>=':
            return left >= right ? 1n : 0n;
          case '==':
            return left === right ? 1n : 0n;
          case '!=':
            return left !== right ? 1n : 0n;
        }
        break;
      }
      case 'conditional_expression':
        return recurse(node.childForFieldName('condition')) !== 0n
          ? recurse(node.childForFieldName('consequence'))
          : recurse(node.childForFieldName('alternative'));
      case 'cast_expression': {
        const value = recurse(node.childForFieldName('value'));
        const type = this.#typeDescriptor(node.childForFieldName('type')!);
        if (type.t === 'int')
          return type.signed ? BigInt.asIntN(type.size * 8, value) : BigInt.asUintN(type.size * 8, value);
        return value;
      }
      case 'sizeof_expression': {
        const typeNode = node.childForFieldName('type');
        if (typeNode !== null) return BigInt(this.#sizeOf(this.#typeDescriptor(typeNode)));
        // `sizeof (in_port_t)`: the grammar cannot tell a typedef name from a variable and reads an expression.
        const value = node.childForFieldName('value');
        const name = value?.type === 'parenthesized_expression' ? value.namedChildren[0] : value;
        const typedef = name?.type === 'identifier' ? this.#typedefs.get(name.text) : undefined;
        if (typedef !== undefined) return BigInt(this.#sizeOf(typedef));
        break;
      }
      case 'alignof_expression': {
        const typeNode = node.childForFieldName('type');
        if (typeNode !== null) return BigInt(this.#alignOf(this.#typeDescriptor(typeNode)));
        break;
      }
    }
    throw new NotConstant(`${node.text.slice(0, 60)} is not an integer constant expression typed-ipc can evaluate`);
  }

  /** The value of an object-like macro, parsed as C (`enum { v = (TEXT) };`) and evaluated. */
  #macroValue(name: string, text: string, preprocessor: boolean, depth: number): bigint {
    const tree = this.#parser.parse(`enum { tipc_macro_value = (${text}) };`);
    try {
      const value = tree?.rootNode.descendantsOfType('enumerator')[0]?.childForFieldName('value');
      if (value == null || tree?.rootNode.hasError)
        throw new NotConstant(`macro ${name} (${text}) is not an integer constant`);
      return this.#evaluate(value, preprocessor, depth);
    } finally {
      tree?.delete();
    }
  }

  #sizeOf(type: CType): number {
    if (type.t === 'pointer') return 8;
    return this.#schemaOf(type, 'sizeof', undefined).size;
  }

  #alignOf(type: CType): number {
    if (type.t === 'pointer') return 8;
    return this.#schemaOf(type, '_Alignof', undefined).align;
  }

  // ---- schemas ---------------------------------------------------------------------------------

  /** The schemas asked for, keyed by tag and typedef name. */
  result(): CSchemas {
    const out: CSchemas = {};
    const wanted = this.#options.structs;
    if (wanted === undefined) {
      for (const rec of this.#records) {
        if (!rec.top || (rec.tag === undefined && rec.typedefs.length === 0)) continue;
        this.#export(rec, out);
      }
      return out;
    }
    for (const name of wanted) {
      const rec = this.#tags.get(`struct ${name}`) ?? this.#tags.get(`union ${name}`) ?? this.#typedefRecord(name);
      if (rec === undefined) {
        const known = [...this.#tags.keys()].map((k) => k.split(' ')[1]).filter((k) => k !== undefined);
        throw new SchemaError(
          `fromCHeader: no struct, union or typedef named ${name} in ${this.#mainFile}${known.length > 0 ? `; structs found: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''}` : ''}`,
        );
      }
      this.#export(rec, out);
    }
    return out;
  }

  #typedefRecord(name: string): Rec | undefined {
    let type = this.#typedefs.get(name);
    while (type?.t === 'aligned') type = type.inner;
    return type?.t === 'record' ? type.rec : undefined;
  }

  #export(rec: Rec, out: CSchemas): void {
    const schema = this.#convert(rec, undefined);
    if (rec.tag !== undefined) out[rec.tag] = schema;
    for (const name of rec.typedefs) out[name] = schema;
  }

  #convert(rec: Rec, contextName: string | undefined): StructType | UnionType {
    const known = this.#schemas.get(rec);
    if (known !== undefined) return known;
    const name = rec.tag ?? rec.typedefs[0] ?? rec.contextName ?? contextName;
    const def = rec.def;
    const kind = rec.union ? 'union' : 'struct';
    if (def === undefined) {
      throw new SchemaError(
        `${at(rec.where)}: ${kind} ${name}: declared but not defined here, so its layout is unknown`,
      );
    }
    if (name === undefined) throw new SchemaError(`${at(rec.where)}: an anonymous ${kind} needs a name`);
    if (def.broken !== undefined) {
      throw new SchemaError(
        `${at(def.broken)}: ${kind} ${name}: the C parser could not read this member; if the header needs macros or other headers, use --cpp`,
      );
    }
    if (this.#converting.has(rec)) throw new SchemaError(`${at(def.where)}: ${kind} ${name} contains itself`);
    this.#converting.add(rec);
    try {
      const entries: [string, FieldType][] = [];
      let anonymous = 0;
      let zeroWidth = 0;
      for (const field of def.fields) {
        if (field.width !== undefined) {
          entries.push(this.#bitfield(field, kind, name, () => zeroWidth++));
          continue;
        }
        const fieldName = field.name ?? `anon${anonymous++}`;
        const path = `${kind} ${name}: field ${fieldName}`;
        let type = this.#schemaOf(field.type, path, `${name}_${fieldName}`, field.note);
        // _Alignas and aligned(n) on a member: C cannot lower alignment there, so a smaller n is ignored, as GCC does.
        if (field.align !== undefined && field.align >= type.align && type.kind !== 'bits') {
          type = aligned(type.kind === 'aligned' ? type.inner : type, Math.max(field.align, type.align));
        }
        if (field.packed && !def.packed && type.align > 1) {
          throw new SchemaError(
            `${at(field.where)}: ${path}: __attribute__((packed)) on one member is not representable; pack the whole ${kind} (packed or #pragma pack)`,
          );
        }
        entries.push([fieldName, type]);
      }
      const options = {
        ...(def.pack === undefined ? {} : { pack: def.pack as 1 | 2 | 4 | 8 | 16 }),
        ...(def.packed ? { packed: true } : {}),
        ...(def.align === undefined ? {} : { align: def.align }),
        endian: def.endian,
      };
      const schema = rec.union ? union(name, entries, options) : struct(name, entries, options);
      this.#schemas.set(rec, schema);
      return schema;
    } catch (error) {
      if (error instanceof SchemaError && !/^[^\s:]+:\d+:\d+: /.test(error.message)) {
        throw new SchemaError(`${at(def.where)}: ${kind} ${name}: ${error.message}`, { cause: error });
      }
      throw error;
    } finally {
      this.#converting.delete(rec);
    }
  }

  /** A bitfield member: `bits(base, width)` on an integer base; unnamed ones only of width 0. */
  #bitfield(field: CField, kind: string, name: string, nextZero: () => number): [string, FieldType] {
    const where = at(field.where);
    let base = field.type;
    while (base.t === 'aligned') base = base.inner;
    const path = `${kind} ${name}: bitfield ${field.name ?? '(unnamed)'}`;
    if (base.t === 'enum') {
      const decl = base.en;
      if (decl.base === undefined)
        throw new SchemaError(`${where}: ${path}: ${decl.why ?? 'enum without a base type'}`);
      base = { t: 'int', size: decl.base.size, signed: decl.base.signed, spelling: 'int' };
    }
    if (base.t === 'bad') throw new SchemaError(`${at(base.where)}: ${path}: ${base.why}`);
    if (base.t !== 'int') {
      throw new SchemaError(
        `${where}: ${path}: a bitfield of ${base.t === 'bool' ? '_Bool' : 'this type'} is not supported; declare it on an integer type`,
      );
    }
    const width = field.width ?? 0;
    if (field.name === undefined && width !== 0) {
      throw new SchemaError(
        `${where}: ${path}: an unnamed bitfield of width ${width} is not supported (it pads without aligning the ${kind}); name it`,
      );
    }
    if (width > base.size * 8 || width < 0) {
      throw new SchemaError(`${where}: ${path}: width ${width} exceeds the ${base.size * 8} bits of its type`);
    }
    const fieldName = field.name ?? `zero${nextZero()}`;
    return [fieldName, bits(intTypes[`${base.signed ? 'i' : 'u'}${base.size * 8}`]!, width)];
  }

  #schemaOf(type: CType, path: string, contextName: string | undefined, note?: string): FieldType {
    switch (type.t) {
      case 'int': {
        const int = intTypes[`${type.signed ? 'i' : 'u'}${type.size * 8}`]!;
        const annotation = note === undefined ? null : /^enum ([A-Za-z_]\w*)(, allowUnknown)?$/.exec(note);
        const decl = annotation === null ? undefined : this.#enumTags.get(annotation[1]!);
        if (decl === undefined || type.size > 4) return int;
        return this.#annotatedEnum(decl, int as EnumBase, annotation![2] !== undefined, path);
      }
      case 'bool':
        return bool;
      case 'float':
        return type.size === 4 ? f32 : f64;
      case 'enum':
        return this.#enumSchema(type.en, path, note);
      case 'record':
        return this.#convert(type.rec, contextName);
      case 'array': {
        const element = type.element;
        if (element.t === 'int' && element.spelling === 'char') return char(type.length);
        // typed-ipc's cHeader notes arrays of u8 numbers (`u8 array`) and of enums: those are no bytes.
        const numbers = note === 'u8 array' || note?.startsWith('enum ') === true;
        if (element.t === 'int' && element.spelling === 'uchar' && !numbers) return bytes(type.length);
        const inner = this.#schemaOf(element, path, contextName, note);
        if (inner.kind === 'aligned' || inner.kind === 'bits') {
          throw new SchemaError(`${path}: an array of over-aligned elements is not representable`);
        }
        return array(inner, type.length);
      }
      case 'aligned': {
        const inner = this.#schemaOf(type.inner, path, contextName, note);
        if (type.align < inner.align) {
          throw new SchemaError(
            `${at(type.where)}: ${path}: a typedef that lowers alignment (${type.align} < ${inner.align}) is not representable`,
          );
        }
        if (inner.kind === 'bits') throw new SchemaError(`${path}: an aligned bitfield is not representable`);
        if (inner.kind === 'aligned') return aligned(inner.inner, Math.max(type.align, inner.alignment));
        return aligned(inner, type.align);
      }
      case 'pointer':
        throw new SchemaError(
          `${at(type.where)}: ${path}: is ${type.to}; an address means nothing in another process, so a schema cannot carry it (send an index or an offset instead)`,
        );
      case 'bad':
        throw new SchemaError(`${at(type.where)}: ${path}: ${type.why}`);
    }
  }

  /**
   * The enum of a member that typed-ipc's cHeader wrote as `int32_t x; /* enum NAME *\/`: stored as
   * that integer, with the members named as the schema named them (the header prefixes them NAME_).
   */
  #annotatedEnum(decl: EnumDecl, base: EnumBase, allowUnknown: boolean, path: string): EnumType {
    const key = `${base.name}/${allowUnknown}`;
    const known = decl.annotated.get(key);
    if (known !== undefined) return known;
    if (decl.why !== undefined) throw new SchemaError(`${at(decl.where)}: ${path}: ${decl.why}`);
    const prefix = `${(decl.tag ?? '').toUpperCase()}_`;
    const strip = decl.members.every(([member]) => member.startsWith(prefix) && member.length > prefix.length);
    const members = Object.fromEntries(
      decl.members.map(([member, value]) => [strip ? member.slice(prefix.length) : member, value]),
    );
    const schema = enumOf(base, members, { allowUnknown });
    decl.annotated.set(key, schema);
    return schema;
  }

  #enumSchema(decl: EnumDecl, path: string, _note: string | undefined): EnumType {
    if (decl.why !== undefined || decl.base === undefined) {
      throw new SchemaError(`${at(decl.where)}: ${path}: ${decl.why ?? 'enum without a base type'}`);
    }
    if (decl.members.length === 0) throw new SchemaError(`${at(decl.where)}: ${path}: an enum without members`);
    decl.schema ??= enumOf(decl.base, Object.fromEntries(decl.members));
    return decl.schema;
  }
}

class NotConstant extends Error {}

function maxDefined(...values: (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.max(...defined);
}

function attributesIn(node: Node): Node[] {
  return node.descendantsOfType('attribute_specifier').filter((n): n is Node => n !== null);
}

/** `unsigned long long int`, `short`, `signed char`, `long double` on LP64. */
function sized(text: string, where: Where): CType {
  const words = text.split(/\s+/).filter((w) => w.length > 0 && w !== 'int' && w !== 'const' && w !== 'volatile');
  const unsigned = words.includes('unsigned');
  const longs = words.filter((w) => w === 'long').length;
  if (words.includes('double')) {
    if (longs > 0) return { t: 'bad', why: 'long double (80-bit x87) has no schema type', where };
    return { t: 'float', size: 8 };
  }
  if (words.includes('char')) {
    if (unsigned) return int(1, false, 'uchar');
    return words.includes('signed') ? int(1, true) : int(1, true, 'char');
  }
  const other = words.filter((w) => !['unsigned', 'signed', 'long', 'short'].includes(w));
  if (other.length > 0) return { t: 'bad', why: `${text} has no fixed-width schema type`, where };
  if (words.includes('short')) return int(2, !unsigned);
  if (longs > 0) return int(8, !unsigned);
  return int(4, !unsigned);
}

function integerLiteral(text: string): bigint {
  // tree-sitter reads `-49` as one number literal.
  if (text.startsWith('-')) return -integerLiteral(text.slice(1).trimStart());
  const digits = text.replace(/[uUlL]+$/, '').replaceAll("'", '');
  if (/^0[xX][0-9a-fA-F]+$/.test(digits) || /^0[bB][01]+$/.test(digits) || /^[1-9][0-9]*$|^0$/.test(digits)) {
    return BigInt(digits);
  }
  if (/^0[0-7]+$/.test(digits)) return BigInt(`0o${digits.slice(1)}`);
  throw new NotConstant(`${text} is not an integer constant`);
}

const escapes: Readonly<Record<string, number>> = {
  n: 10,
  t: 9,
  r: 13,
  '0': 0,
  a: 7,
  b: 8,
  f: 12,
  v: 11,
  '\\': 92,
  "'": 39,
  '"': 34,
  '?': 63,
};

function charLiteral(text: string): bigint {
  const body = text.slice(1, -1);
  if (text[0] !== "'") throw new NotConstant(`${text}: wide character constants are not supported`);
  if (body.length === 1) return BigInt(body.charCodeAt(0));
  if (body[0] === '\\') {
    const rest = body.slice(1);
    if (/^x[0-9a-fA-F]+$/.test(rest)) return BigInt(`0x${rest.slice(1)}`);
    if (/^[0-7]{1,3}$/.test(rest)) return BigInt(`0o${rest}`);
    const escaped = escapes[rest];
    if (escaped !== undefined) return BigInt(escaped);
  }
  throw new NotConstant(`${text} is not a character constant typed-ipc can evaluate`);
}

/** GCC's enum type: `unsigned int` if no value is negative, else `int`; packed: the smallest that fits. */
function enumBase(members: readonly (readonly [string, number])[], packed: boolean): EnumBase | undefined {
  const values = members.map(([, v]) => v);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const candidates: EnumBase[] = packed ? (lo < 0 ? [i8, i16, i32] : [u8, u16, u32]) : lo < 0 ? [i32] : [u32];
  const fit = candidates.find((base) => lo >= base.min && hi <= base.max);
  if (fit !== undefined) return fit;
  // GCC gives a non-negative enum with a value above INT_MAX type unsigned int; enumOf holds C ints only.
  return undefined;
}

/** Reads the struct declarations of a C header into schemas. */
export async function readCHeader(source: string, options: FromCHeaderOptions = {}): Promise<CSchemas> {
  const parser = await loadParser();
  const reader = new Reader(parser, options);
  reader.read(source);
  return reader.result();
}
