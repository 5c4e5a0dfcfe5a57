/**
 * What a channel needs from a codec. Struct types (fixed size) and msgpack codecs (variable size,
 * bounded by `maxSize`) both implement it, so every transport works with either.
 */

/** A codec for the messages of a channel. */
export interface MessageCodec<T> {
  /** Name used in errors and in C headers. */
  readonly name: string;
  /** True when every message is exactly `size` bytes (a C struct); false for variable-size codecs. */
  readonly fixedSize: boolean;
  /** The size of every message (fixed) or the largest allowed encoding (variable). */
  readonly size: number;
  /** Stable hex string over the layout (or schema); equal layouts ⇔ equal fingerprints. */
  readonly fingerprint: string;
  /** Encodes a validated value into fresh bytes. */
  encode(value: T): Uint8Array;
  /** Encodes into `target` at `offset`; returns the number of bytes written. Nothing is written on error. */
  encodeInto(value: T, target: Uint8Array, offset?: number): number;
  /**
   * Decodes one message. Without `offset`, `bytes` must hold exactly one message (a fixed-size codec
   * refuses short and oversized input); with `offset`, a fixed-size codec reads `size` bytes there.
   * The value must not share memory with `bytes`: channels decode from buffers they reuse.
   */
  decode(bytes: Uint8Array, offset?: number): T;
  /**
   * As `decode`, but `bytes(n)` fields are views of `bytes` rather than copies (struct codecs have it).
   * Only for input that nothing writes again while the value lives: a transport whose every received
   * message is fresh memory of its own (NATS) uses it to save the copy.
   */
  readonly decodeViews?: (bytes: Uint8Array, offset?: number) => T;
  /** Checks a value against the schema; returns it typed, or throws ValidationError. */
  validate(value: unknown): T;
}

/** The value type a codec carries. */
export type CodecValue<C> = C extends MessageCodec<infer T> ? T : never;

/**
 * The functions a struct codec is made of, generated (`compile.ts`) or interpreted
 * (`interpret.ts`); a struct type installs them as its own methods.
 */
export interface CompiledCodec<T> {
  encode(value: T): Uint8Array;
  encodeInto(value: T, target: Uint8Array, offset?: number): number;
  decode(bytes: Uint8Array, offset?: number): T;
  /** `decode` with `bytes(n)` fields as views of the input (see `MessageCodec.decodeViews`). */
  decodeViews(bytes: Uint8Array, offset?: number): T;
  validate(value: unknown): T;
  /**
   * A decode of its own that copies each message into the next of `slots` regions of a buffer it
   * owns and returns `bytes(n)` fields as views of that copy (see `StructType.lending`).
   */
  lendingDecoder(slots: number): (bytes: Uint8Array, offset?: number) => T;
  /** The generated source, for debugging (a note that the codec is interpreted otherwise). */
  readonly source: string;
}
