/**
 * What a typed-ipc recording holds besides MCAP itself: the JSON Schema of the message envelope (whose
 * text json-bytes.ts writes), and the keys of the channel and file metadata that carry the typed-ipc
 * schema. Readers and writers of recordings (record, replay, plot, the Foxglove server) share these names.
 */
import { createRequire } from 'node:module';
import type { JsonSchema } from '../codecs/index.js';

/** MCAP schema encoding of the embedded schemas. */
export const SCHEMA_ENCODING = 'jsonschema';
/** MCAP message encoding: one JSON object per message. */
export const MESSAGE_ENCODING = 'json';
/** Name of the MCAP metadata record written for every recorded channel. */
export const METADATA_NAME = 'typed-ipc.schema';

/** Keys of the channel metadata (and of the metadata record, which adds `topic` and `cHeader`). */
export const META = {
  topic: 'topic',
  url: 'typed-ipc.url',
  schema: 'typed-ipc.schema',
  fingerprint: 'typed-ipc.fingerprint',
  size: 'typed-ipc.size',
  fixedSize: 'typed-ipc.fixedSize',
  /** The schema's C header (cHeader): its source, readable by a C compiler and by fromCHeader. */
  cHeader: 'typed-ipc.cHeader',
} as const;

/** The JSON Schema of one recorded message: the value (the codec's schema), its priority and sender. */
export function envelopeSchema(value: JsonSchema): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: typeof value.title === 'string' ? value.title : 'message',
    type: 'object',
    properties: {
      value,
      priority: { type: 'integer', minimum: 0, description: 'the priority the message carried' },
      from: { type: 'string', description: 'the sender (datagram sockets, NATS subjects), when there is one' },
    },
    required: ['value', 'priority'],
  };
}

/** The MCAP header's library field: `typed-ipc <version>`. */
export function libraryName(): string {
  try {
    // By the package's own name: the same from src/ (a checkout) and dist/src/ (built or installed).
    const pkg = createRequire(import.meta.url)('typed-ipc/package.json') as { version: string };
    return `typed-ipc ${pkg.version}`;
  } catch {
    return 'typed-ipc';
  }
}
