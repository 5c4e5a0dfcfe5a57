/** Codecs: schema types, C-ABI layout, generated encode/decode, validation, msgpack, C headers. */
export type { CodecValue, MessageCodec } from './codec.js';
