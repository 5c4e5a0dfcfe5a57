/** Codecs: schema types, C-ABI layout, generated encode/decode, validation, msgpack, C headers. */

export { type CHeaderOptions, cHeader } from './c-header.js';
export { type CSchemas, type FromCHeaderOptions, fromCHeader } from './c-import/index.js';
export type { CodecValue, MessageCodec } from './codec.js';
export {
  type BigintStyle,
  fromJsonValue,
  type JsonSchema,
  type JsonWriter,
  jsonSchemaOf,
  jsonWriter,
  structFields,
  toJson,
} from './json.js';
export type { StructOptions } from './layout.js';
export { type MsgpackCodec, type MsgpackOptions, msgpack, type SchemaValue } from './msgpack.js';
export {
  CompositeType,
  type FieldsDecl,
  type LendingCodec,
  type LendingOptions,
  StructType,
  type StructTypeOptions,
  type StructValue,
  struct,
} from './struct.js';
export {
  type AlignedType,
  type ArrayType,
  aligned,
  array,
  type BitsType,
  type BoolType,
  type BytesType,
  bits,
  bool,
  bytes,
  type CharType,
  type CompositeShape,
  char,
  type ElementType,
  type EnumOptions,
  type EnumType,
  enumOf,
  type FieldLayout,
  type FieldType,
  type FloatType,
  f32,
  f64,
  type Infer,
  type IntType,
  i8,
  i16,
  i32,
  i64,
  type StructShape,
  typeName,
  type UnionShape,
  u8,
  u16,
  u32,
  u64,
} from './types.js';
export { UnionType, type UnionTypeOptions, type UnionValue, union } from './union.js';
export type { StandardSchemaV1 } from './validators.js';
