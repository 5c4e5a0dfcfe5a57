/** A big-endian (network byte order) message header, as a wire protocol would define it. */
import { aligned, bytes, enumOf, type Infer, struct, u8, u16, u32, u64 } from '../src/index.js';

/** A big-endian header: magic, version, kind, flags, length, a 64-bit id and a 16-byte key, aligned to 8. */
export const NetworkHeader = struct(
  'net_header',
  {
    magic: u32,
    version: u8,
    kind: enumOf(u8, { HELLO: 1, DATA: 2, ACK: 3, BYE: 4 }),
    flags: u16,
    length: u32,
    id: aligned(u64, 8),
    key: bytes(16),
  },
  { endian: 'big', align: 8 },
);
/** A network header value. */
export type NetworkHeader = Infer<typeof NetworkHeader>;
