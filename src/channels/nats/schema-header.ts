/**
 * The schema header on the wire (`Typed-Ipc-Schema: <fingerprint>`): the header block every publish
 * of a channel carries, made once, and reading a received message's fingerprint without parsing its
 * headers when its block is byte for byte the one this schema writes.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { type Msg, type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import { NATS_SCHEMA_HEADER } from '../nats.js';

/**
 * The schema header, for every publish of a channel. The client turns a header object into text and
 * then bytes on each publish (a third of a core publish's cost); this one never changes, so its bytes
 * are made once and `encode()` hands them out (the client copies them into its write buffer). Nothing
 * may `set` on it afterwards: a publish that needs another header (a JetStream message id) gets its own.
 */
export function schemaHeaders(fingerprint: string, msgId?: string): MsgHdrs {
  const hdrs = natsHeaders();
  hdrs.set(NATS_SCHEMA_HEADER, fingerprint);
  if (msgId !== undefined) {
    hdrs.set('Nats-Msg-Id', msgId);
    return hdrs;
  }
  const block = new TextEncoder().encode(hdrs.toString());
  // The client's publish calls the header object's encode() (MsgHdrsImpl; not part of the MsgHdrs type).
  Object.defineProperty(hdrs, 'encode', { value: () => block });
  return hdrs;
}

/** Header bytes a message of this schema carries beyond its payload (for the max_payload check). */
export function headerBytes(fingerprint: string): number {
  return 16 + NATS_SCHEMA_HEADER.length + fingerprint.length;
}

/**
 * The schema header's value, or '' without one. Fast path: the client parses headers into a Map on
 * first access, which costs more than the rest of a receive; a message whose raw header block is
 * byte for byte `expected` (the block this channel's schema writes: every typed-ipc publisher's) is
 * `fingerprint` without parsing. The raw fields are nats.js internals (the version is pinned); when
 * they are not there, or the block differs (other headers, another writer), the parsed headers decide.
 */
export function fingerprintOf(msg: Msg | JsMsg, expected: Uint8Array, fingerprint: string): string {
  const core = ((msg as { msg?: Msg }).msg ?? msg) as { _msg?: { hdr?: number }; _rdata?: Uint8Array };
  const raw = core._rdata;
  if (core._msg?.hdr === expected.length && raw !== undefined && raw.length >= expected.length) {
    let same = true;
    for (let i = 0; i < expected.length; i++) {
      if (raw[i] !== expected[i]) {
        same = false;
        break;
      }
    }
    if (same) return fingerprint;
  }
  return msg.headers?.get(NATS_SCHEMA_HEADER) ?? '';
}
