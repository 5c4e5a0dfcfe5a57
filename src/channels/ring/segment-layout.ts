/**
 * What a shared-memory segment's layout is, whichever protocol it serves: C structs given as tables
 * of fields (each field's C name, type and byte offset, checked as the table is built) and the checks
 * of a mapped header that the ring's and pub/sub's share. Each protocol's layout.ts builds its own
 * structs and constants from these (ring/layout.ts, pubsub/layout.ts); this file changes only when what
 * a layout can say changes.
 */

/** The C type of a layout field (little-endian). */
export type FieldType = 'u32' | 'i32' | 'u64' | `u32[${number}]` | `char[${number}]`;

/** One field of a struct: its C name, byte offset and type. */
export interface LayoutField {
  readonly name: string;
  readonly offset: number;
  readonly type: FieldType;
}

/** Bytes of a field of `type`. */
export function fieldSize(type: FieldType): number {
  const array = /^(\w+)\[(\d+)\]$/.exec(type);
  if (array) return Number(array[2]) * (array[1] === 'char' ? 1 : 4);
  return type === 'u64' ? 8 : 4;
}

/** A C struct of a segment, field by field in order: C name -> [type, byte offset]. */
export type StructSpec = Readonly<Record<string, readonly [FieldType, number]>>;

/** A C struct of a segment: the byte offset of every field by its C name, and the fields in order. */
export interface StructLayout<S extends StructSpec> {
  readonly offset: { readonly [K in keyof S]: number };
  readonly fields: readonly LayoutField[];
}

/**
 * The layout of the C struct `spec`, checked as it is built: the fields ascend without overlapping and
 * each stands at its natural alignment (a u64 on 8 bytes, where the C header's `uint64_t` and Atomics'
 * BigInt64Array need it). A table that breaks these fails at import, not in a peer reading wrong bytes.
 */
export function struct<const S extends StructSpec>(spec: S): StructLayout<S> {
  const fields: LayoutField[] = [];
  let end = 0;
  for (const [name, [type, offset]] of Object.entries(spec)) {
    const align = type === 'u64' ? 8 : type.startsWith('char') ? 1 : 4;
    if (offset < end || offset % align !== 0) {
      throw new RangeError(`layout field ${name} at ${offset}: must be ${align}-aligned and at or after ${end}`);
    }
    fields.push({ name, offset, type });
    end = offset + fieldSize(type);
  }
  const offset = Object.fromEntries(fields.map((f) => [f.name, f.offset])) as { [K in keyof S]: number };
  return { offset, fields };
}

/** A header field that disagrees with the protocol, the other fields or the file's size. */
export interface HeaderProblem {
  readonly field: string;
  readonly value: string;
  readonly expected: string;
}

/** The problem of header field `name`, which holds `value` and should hold what `expected` says. */
export const problem = (name: string, value: number | bigint, expected: string): HeaderProblem => ({
  field: name,
  value: String(value),
  expected,
});

/** The offsets of the header fields whose checks every kind of segment shares. */
export interface CheckedFields {
  readonly msg_size: number;
  readonly slots: number;
  readonly capacity: number;
  readonly data_offset: number;
  readonly total_size: number;
}

/**
 * The slot geometry of a header: `msg_size` in 1..`maxSize`, `slots` a power of two in 2..`maxSlots`,
 * `capacity` in 1..slots. A peer indexes the mapping with these numbers.
 */
export function geometryProblem(
  view: DataView,
  at: CheckedFields,
  maxSize: number,
  maxSlots: number,
): HeaderProblem | undefined {
  const size = view.getUint32(at.msg_size, true);
  if (size < 1 || size > maxSize) return problem('msg_size', size, `1..${maxSize}`);
  const slots = view.getUint32(at.slots, true);
  if (slots < 2 || slots > maxSlots || (slots & (slots - 1)) !== 0) {
    return problem('slots', slots, `a power of two in 2..${maxSlots}`);
  }
  const capacity = view.getUint32(at.capacity, true);
  if (capacity < 1 || capacity > slots) return problem('capacity', capacity, `1..${slots} (the slots)`);
  return undefined;
}

/**
 * The extent of a segment whose geometry was checked: `data_offset` where the protocol puts the slots
 * (`data`, `why` saying after what), `total_size` the end of the last slot, and the file that long.
 */
export function extentProblem(
  view: DataView,
  at: CheckedFields,
  fileSize: number,
  data: number,
  why: string,
): HeaderProblem | undefined {
  const found = view.getUint32(at.data_offset, true);
  if (found !== data) return problem('data_offset', found, `${data} (${why})`);
  const end = data + view.getUint32(at.slots, true) * view.getUint32(at.msg_size, true);
  const total = view.getBigUint64(at.total_size, true);
  if (total !== BigInt(end)) return problem('total_size', total, `${end} (data_offset + slots * msg_size)`);
  if (fileSize !== end) return problem('file size', fileSize, `${end} (total_size)`);
  return undefined;
}

/** Whether `bytes` (a segment's first bytes) start with `magic` (u64 at 0) and `version` (u32 at `versionAt`). */
export function startsWith(bytes: Uint8Array, magic: bigint, versionAt: number, version: number): boolean {
  if (bytes.length < versionAt + 4) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getBigUint64(0, true) === magic && view.getUint32(versionAt, true) === version;
}
