/**
 * nats:// channels against a real nats-server (one per test, on ports it picks, its own store): core
 * publish/subscribe, wildcards, queue groups, slow consumers, the schema header, JetStream acks and
 * limits, authentication, and the failures a user meets (wrong password, no server, server gone).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type NatsChannel, NatsError, type NatsOptions, open, parseUrl } from '../../src/channels/index.js';
import type { MessageCodec } from '../../src/codecs/codec.js';
import { bytes, f64, msgpack, struct, u16, u32, u64 } from '../../src/codecs/index.js';
import {
  ChannelClosedError,
  DecodeError,
  MessageSizeError,
  TimeoutError,
  UnsupportedError,
  ValidationError,
} from '../../src/errors.js';
import { Cleanup, finished, spawnTs } from '../helpers.js';
import { loadedBy } from '../load-watch.js';
import { freePort, NatsServer, type NatsServerConfig } from './nats-server.js';
import { blob, Sample } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function server(config: NatsServerConfig = {}): Promise<NatsServer> {
  const s = await NatsServer.start(config);
  cleanup.add(() => s.stop());
  return s;
}

async function channel<T>(url: string, codec: MessageCodec<T>, options: NatsOptions = {}): Promise<NatsChannel<T>> {
  const c = await open(url as `nats://${string}`, codec, options);
  cleanup.add(() => c.close());
  return c;
}

const sample = (i: number) => ({ channel: i % 65536, timestamp: BigInt(i), value: i / 2 });

/** What the server reports of a stream, through a raw client connection of its own. */
async function streamInfo(s: NatsServer, name: string) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const raw = await connect({ servers: s.address });
  cleanup.add(() => raw.close());
  return (await jetstreamManager(raw)).streams.info(name);
}

/** Waits until `condition` holds (a server-side effect with no event to wait on), at most `ms`. */
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('core NATS', () => {
  it('publishes and subscribes the codec bytes, with the subject as from', async () => {
    const s = await server();
    const rx = await channel(s.url('samples.*'), Sample);
    const tx = await channel(s.url('samples.left'), Sample, { access: 'send' });
    for (let i = 0; i < 100; i++) await tx.send(sample(i));
    for (let i = 0; i < 100; i++) {
      const message = await rx.receive({ timeoutMs: 5000 });
      expect(message).toEqual({ value: sample(i), priority: 0, from: 'samples.left' });
    }
    expect(rx.info()).toMatchObject({ transport: 'nats', mode: 'core', subject: 'samples.*', pending: 0, dropped: 0 });
  });

  it('carries variable-size msgpack messages, each its own length', async () => {
    const Event = msgpack(z.object({ kind: z.string(), tags: z.array(z.number()) }), { maxSize: 64, name: 'event' });
    const s = await server();
    const rx = await channel(s.url('events'), Event);
    const tx = await channel(s.url('events'), Event, { access: 'send' });
    const events = Array.from({ length: 50 }, (_, i) => ({ kind: 'k'.repeat(i % 20), tags: [i, i + 1] }));
    for (const event of events) await tx.send(event);
    for (const event of events) expect((await rx.receive({ timeoutMs: 5000 })).value).toEqual(event);
  });

  it('matches * and > wildcards on receive, and refuses them on send', async () => {
    const s = await server();
    const star = await channel(s.url('a.*.c'), Sample);
    const tail = await channel(s.url('a.>'), Sample);
    const tx1 = await channel(s.url('a.b.c'), Sample, { access: 'send' });
    const tx2 = await channel(s.url('a.b.d.e'), Sample, { access: 'send' });
    await tx1.send(sample(1));
    await tx2.send(sample(2));
    expect((await star.receive({ timeoutMs: 5000 })).from).toBe('a.b.c');
    const seen = [await tail.receive({ timeoutMs: 5000 }), await tail.receive({ timeoutMs: 5000 })];
    expect(seen.map((m) => m.from).sort()).toEqual(['a.b.c', 'a.b.d.e']);
    expect(star.tryReceive()).toBeUndefined();
    await expect(tail.send(sample(3))).rejects.toThrow(ValidationError);
    await expect(tail.send(sample(3))).rejects.toThrow(/wildcard >/);
  });

  it('splits a queue group: every message to exactly one member', async () => {
    const s = await server();
    const members = [
      await channel(s.url('jobs'), Sample, { queue: 'workers' }),
      await channel(s.url('jobs', '?queue=workers'), Sample),
    ];
    const tx = await channel(s.url('jobs'), Sample, { access: 'send' });
    await tx.sendMany(Array.from({ length: 200 }, (_, i) => sample(i)));
    await until(() => members.reduce((n, m) => n + m.info().pending, 0) === 200);
    const got = members.map((m) => {
      const values: number[] = [];
      for (let next = m.tryReceive(); next !== undefined; next = m.tryReceive())
        values.push(Number(next.value.timestamp));
      return values;
    });
    expect(got.every((values) => values.length > 0)).toBe(true);
    expect(got.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(members[0]?.info().queue).toBe('workers');
  });

  it('drops what exceeds maxPending and counts it in info() (slow consumer)', async () => {
    const s = await server();
    const rx = await channel(s.url('fast'), Sample, { maxPending: 10 });
    const tx = await channel(s.url('fast'), Sample, { access: 'send' });
    await tx.sendMany(Array.from({ length: 100 }, (_, i) => sample(i)));
    await until(() => rx.info().pending + rx.info().dropped === 100);
    expect(rx.info()).toMatchObject({ pending: 10, dropped: 90 });
    expect(rx.info().slowConsumerEvents).toBe(1);
    // The oldest are kept: the ones that arrived while there was room.
    expect((await rx.receive()).value).toEqual(sample(0));
  });

  it('refuses priorities, oversized messages and sends on a receive-only channel before sending anything', async () => {
    const s = await server({ extra: 'max_payload: 1024' });
    const rx = await channel(s.url('big'), blob(2000));
    const tx = await channel(s.url('big'), blob(2000), { access: 'send' });
    const small = await channel(s.url('small'), Sample, { access: 'receive' });
    await expect(tx.send({ data: new Uint8Array(2000) })).rejects.toThrow(MessageSizeError);
    await expect(tx.send({ data: new Uint8Array(2000) })).rejects.toThrow(/max_payload \(1024 bytes/);
    await expect(channel(s.url('p'), Sample).then((c) => c.send(sample(1), { priority: 2 }))).rejects.toThrow(
      UnsupportedError,
    );
    await expect(small.send(sample(1))).rejects.toThrow(/access: 'receive'/);
    await expect(rx.receive({ timeoutMs: 200 })).rejects.toThrow(TimeoutError);
  });

  it('closes idempotently: waiting receives end with ChannelClosedError, iteration ends', async () => {
    const s = await server();
    const rx = await channel(s.url('closing'), Sample);
    const waiting = rx.receive().catch((e: unknown) => e);
    const iterated = (async () => {
      let n = 0;
      for await (const _ of rx) n += 1;
      return n;
    })();
    await rx.close();
    await rx.close();
    expect(await waiting).toBeInstanceOf(ChannelClosedError);
    expect(await iterated).toBe(0);
    expect(rx.closed).toBe(true);
    await expect(rx.receive()).rejects.toThrow(ChannelClosedError);
  });
});

describe('received bytes(n) fields: views of each message, never overwritten', () => {
  const Page = struct('page', { id: u32, data: bytes(3000) });
  const page = (i: number) => ({ id: i, data: new Uint8Array(3000).map((_, k) => (k * 31 + i * 7) & 0xff) });

  it.each(['core', 'JetStream'])('%s: every kept value stays whole while hundreds more arrive', async (mode) => {
    const s = await server();
    const query = mode === 'core' ? '' : '?stream=PAGES';
    const tx = await channel(s.url('pages', query), Page, { access: 'send', create: true });
    const rx = await channel(s.url('pages', mode === 'core' ? '' : '?stream=PAGES&durable=reader'), Page);
    const total = 300;
    await tx.sendMany(Array.from({ length: total }, (_, i) => page(i)));
    const kept = [];
    for (let i = 0; i < total; i++) {
      const message = await rx.receive({ timeoutMs: 10_000 });
      await message.ack?.({ confirm: false });
      kept.push(message.value);
    }
    // Some 900 KB arrived in many socket reads after the first value was decoded; none was written over.
    // (Compared as Buffers: a deep toEqual walks 900 000 bytes one by one, for minutes on a loaded machine.)
    const whole = kept.filter((value, i) => value.id === i && Buffer.from(value.data).equals(page(i).data));
    expect(whole.length).toBe(total);
    // No copy: the field is a view of the memory the message arrived in, just after its schema header.
    const first = kept[0] as { data: Uint8Array };
    const before = new TextDecoder().decode(new Uint8Array(first.data.buffer, 0, first.data.byteOffset));
    expect(before).toContain(`Typed-Ipc-Schema: ${Page.fingerprint}`);
  });
});

describe('core publishes: encode slabs reused once a flush proves them sent', () => {
  it('3.6 MB of sends (slabs reused many times over) arrive every one whole', async () => {
    const Page = struct('page', { id: u32, data: bytes(3000) });
    const page = (i: number) => ({ id: i, data: new Uint8Array(3000).map((_, k) => (k * 13 + i * 3) & 0xff) });
    const s = await server();
    const rx = await channel(s.url('slabs'), Page);
    const tx = await channel(s.url('slabs'), Page, { access: 'send' });
    const total = 1200;
    let whole = 0;
    const reading = (async () => {
      for (let i = 0; i < total; i++) {
        const { value } = await rx.receive({ timeoutMs: 10_000 });
        if (value.id === i && Buffer.from(value.data).equals(page(i).data)) whole += 1;
      }
    })();
    // One send at a time: each encodes into the slab in use, so full slabs come round again (a 64 KiB
    // slab holds 21 pages; 1200 pages are 14 flush windows of 256 KiB).
    for (let i = 0; i < total; i++) await tx.send(page(i));
    await reading;
    expect(whole).toBe(total);
  });

  it('sends through a server restart: what arrives is whole (no slab reused while the client still held it)', async () => {
    const Page = struct('page', { id: u32, data: bytes(3000) });
    const page = (i: number) => ({ id: i, data: new Uint8Array(3000).map((_, k) => (k * 17 + i * 5) & 0xff) });
    const s = await server();
    const again: NatsOptions = { maxReconnectAttempts: -1, reconnectTimeWaitMs: 50 };
    const rx = await channel(s.url('restart'), Page, again);
    const tx = await channel(s.url('restart'), Page, { ...again, access: 'send' });
    const received: { id: number; whole: boolean }[] = [];
    const total = 1500;
    const reading = (async () => {
      for await (const { value } of rx) {
        received.push({ id: value.id, whole: Buffer.from(value.data).equals(page(value.id).data) });
        if (value.id === total - 1) return;
      }
    })();
    // While the server is gone the client holds what is published (unsent) and the flushes fail:
    // sends go on without waiting, so many slabs fill while their bytes are still the client's.
    for (let i = 0; i < total; i++) {
      if (i === 400) await s.kill();
      if (i === 800) await s.restart();
      if (i === 800) await until(() => rx.info().reconnects >= 1 && tx.info().reconnects >= 1, 30_000);
      await tx.send(page(i)).catch(() => {});
    }
    await reading;
    expect(received.filter((r) => !r.whole)).toEqual([]);
    expect(received.some((r) => r.id < 400)).toBe(true);
    expect(received.some((r) => r.id >= 800)).toBe(true);
  });
});

describe('unref', () => {
  it.each(['option', 'method'])(
    "a JetStream durable receiver and publisher unref'd (%s) let the process exit while a receive waits",
    async (how) => {
      const child = spawnTs('test/channels/nats-unref-child.ts', [how]);
      const result = await finished(child, 60_000);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe('waiting\ndrained\n');
      expect(result.code).toBe(0);
    },
  );
});

describe('schema fingerprint header', () => {
  it('turns a message of another schema into a DecodeError naming both fingerprints, and goes on', async () => {
    const s = await server();
    // Same size (24 bytes), different layout: only the header tells them apart.
    const Other = struct('other', { a: u64, b: u64, c: f64 });
    const rx = await channel(s.url('mixed'), Sample);
    const wrong = await channel(s.url('mixed'), Other, { access: 'send' });
    const right = await channel(s.url('mixed'), Sample, { access: 'send' });
    await wrong.send({ a: 1n, b: 2n, c: 3 });
    await right.send(sample(7));
    // Two publishers, two connections: the server may see either first.
    const results = [
      await rx.receive({ timeoutMs: 5000 }).catch((e: unknown) => e),
      await rx.receive({ timeoutMs: 5000 }).catch((e: unknown) => e),
    ];
    const error = results.find((r) => r instanceof Error);
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as Error).message).toContain(Other.fingerprint);
    expect((error as Error).message).toContain(Sample.fingerprint);
    expect(results.find((r) => !(r instanceof Error))).toMatchObject({ value: sample(7) });
  });

  it("iterate({ decodeErrors: 'yield' }) hands the foreign message over as a DecodeError and goes on; destroy() ends it", async () => {
    const s = await server();
    const Other = struct('other', { a: u64, b: u64, c: f64 });
    const rx = await channel(s.url('loop'), Sample);
    const wrong = await channel(s.url('loop'), Other, { access: 'send' });
    const right = await channel(s.url('loop'), Sample, { access: 'send' });
    await right.send(sample(1));
    await wrong.send({ a: 1n, b: 2n, c: 3 });
    await right.send(sample(2));
    const seen: unknown[] = [];
    for await (const item of rx.iterate({ decodeErrors: 'yield' })) {
      seen.push(item instanceof DecodeError ? 'decode-error' : item.value.channel);
      if (seen.length === 3) rx.destroy();
    }
    expect(seen.filter((x) => x === 'decode-error')).toHaveLength(1);
    expect(seen.filter((x) => typeof x === 'number').sort()).toEqual([1, 2]);
    expect(rx.closed).toBe(true);
    await expect(rx.receive()).rejects.toThrow(ChannelClosedError);
  });

  it('with requireSchemaHeader, refuses a message without the header', async () => {
    const s = await server();
    const rx = await channel(s.url('bare'), Sample, { requireSchemaHeader: true });
    const { connect } = await import('@nats-io/transport-node');
    const raw = await connect({ servers: s.address });
    cleanup.add(() => raw.close());
    raw.publish('bare', Sample.encode(sample(1)));
    await raw.flush();
    await expect(rx.receive({ timeoutMs: 5000 })).rejects.toThrow(/no Typed-Ipc-Schema header/);
  });
});

describe('JetStream', () => {
  it('publishes with the server ack and delivers through a durable consumer, at least once until acked', async () => {
    const s = await server();
    const url = s.url('orders.new', '?stream=ORDERS&durable=billing');
    const tx = await channel(url, Sample, { create: true, access: 'send' });
    for (let i = 0; i < 10; i++) await tx.send(sample(i));
    const rx1 = await channel(url, Sample, { ackWaitMs: 1000 });
    for (let i = 0; i < 5; i++) {
      const message = await rx1.receive({ timeoutMs: 5000 });
      expect(message.value).toEqual(sample(i));
      expect(message.sequence).toBe(i + 1);
      await message.ack?.();
    }
    // Taken but not acked: the server delivers it again once ack_wait has passed.
    const unacked = await rx1.receive({ timeoutMs: 5000 });
    expect(unacked.sequence).toBe(6);
    await rx1.close();
    const rx2 = await channel(url, Sample, { ackWaitMs: 1000 });
    const seen = new Map<number, number>();
    while (seen.size < 5) {
      const message = await rx2.receive({ timeoutMs: 10_000 });
      seen.set(message.sequence as number, message.deliveries as number);
      await message.ack?.();
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([6, 7, 8, 9, 10]);
    expect(seen.get(6)).toBeGreaterThanOrEqual(2);
    expect(rx2.info()).toMatchObject({ mode: 'jetstream', stream: 'ORDERS', durable: 'billing' });
  });

  it('creates the stream with the limits set, and a full stream refuses the publish (nothing dropped silently)', async () => {
    const s = await server();
    const tx = await channel(s.url('capped', '?stream=CAPPED'), Sample, {
      create: true,
      limits: { maxMsgs: 3, storage: 'memory' },
    });
    for (let i = 0; i < 3; i++) await tx.send(sample(i));
    const error = await tx.send(sample(3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).message).toMatch(/maximum messages/i);
    const info = await streamInfo(s, 'CAPPED');
    expect(info.config.max_msgs).toBe(3);
    expect(info.state.messages).toBe(3);
  });

  it('deduplicates on msgId, and a message id never sticks to the sends after it', async () => {
    const s = await server();
    const tx = await channel(s.url('dedup', '?stream=DEDUP'), Sample, { create: true, access: 'send' });
    await tx.send(sample(1), { msgId: 'first' });
    await tx.send(sample(1), { msgId: 'first' });
    // Once the client kept the id on the shared header object: these two were stored as duplicates of 'first'.
    await tx.send(sample(2));
    await tx.send(sample(3));
    await expect(tx.send(sample(4), { msgId: 'bad\r\nid' })).rejects.toThrow(ValidationError);
    const info = await streamInfo(s, 'DEDUP');
    expect(info.state.messages).toBe(3);
  });

  it('explains a publish to a subject no stream stores', async () => {
    const s = await server();
    const tx = await channel(s.url('nowhere', '?stream=MISSING'), Sample, { access: 'send' });
    await expect(tx.send(sample(1))).rejects.toThrow(/no JetStream stream stores subject nowhere/);
    expect(() => tx.trySend(sample(1))).toThrow(UnsupportedError);
  });

  it('terminates a message of another schema instead of redelivering it forever', async () => {
    const s = await server();
    const url = s.url('typed', '?stream=TYPED&durable=d');
    const Other = struct('other', { a: u16, b: u64, c: f64, d: u16 });
    const wrong = await channel(s.url('typed', '?stream=TYPED'), Other, { create: true, access: 'send' });
    await wrong.send({ a: 1, b: 2n, c: 3, d: 4 });
    const right = await channel(s.url('typed', '?stream=TYPED'), Sample, { access: 'send' });
    await right.send(sample(5));
    const rx = await channel(url, Sample, { ackWaitMs: 500 });
    await expect(rx.receive({ timeoutMs: 5000 })).rejects.toThrow(DecodeError);
    const good = await rx.receive({ timeoutMs: 5000 });
    expect(good.sequence).toBe(2);
    await good.ack?.();
    const after = await rx.receive({ timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(TimeoutError);
  });
});

const base64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

/** RFC 4648 base32 without padding (the encoding of a NATS JWT's jti). */
function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + alphabet[(value << (5 - bits)) & 31] : out;
}

/**
 * A NATS v2 JWT (what nsc writes): claims about `subject` signed by `issuer`'s ed25519 nkey, the jti
 * being the SHA-512/256 of the claims without it, as the Go jwt library computes it.
 */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = {
    jti: '',
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats,
  };
  claims.jti = base32(createHash('sha512-256').update(JSON.stringify(claims)).digest());
  const signed = `${base64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${base64url(JSON.stringify(claims))}`;
  return `${signed}.${base64url(issuer.sign(new TextEncoder().encode(signed)))}`;
}

/** The text of a `.creds` file, laid out as nsc writes it. */
const credsText = (jwt: string, seed: string) =>
  `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
  '************************* IMPORTANT *************************\n' +
  'NKEY Seed printed below can be used to sign and prove identity.\n\n' +
  `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;

/** An operator, an account it signed and preloaded into a MEMORY resolver, and a user's creds for it. */
function operatorSetup() {
  const operator = createOperator();
  const account = createAccount();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const accountJwt = natsJwt(operator, account.getPublicKey(), 'TIPC', {
    limits: unlimited,
    default_permissions: { pub: {}, sub: {} },
    type: 'account',
    version: 2,
  });
  const userCreds = (signer: KeyPair, user = createUser()) => {
    const jwt = natsJwt(signer, user.getPublicKey(), 'alice', {
      pub: {},
      sub: {},
      subs: -1,
      data: -1,
      payload: -1,
      issuer_account: account.getPublicKey(),
      type: 'user',
      version: 2,
    });
    return { jwt, seed: new TextDecoder().decode(user.getSeed()), user };
  };
  const config =
    `operator: "${natsJwt(operator, operator.getPublicKey(), 'OP', { type: 'operator', version: 2 })}"\n` +
    `resolver: MEMORY\nresolver_preload: { ${account.getPublicKey()}: "${accountJwt}" }`;
  return { account, config, userCreds };
}

describe('authentication', () => {
  it('user/password: a wrong password is ERR_IPC_NATS_AUTH without the password anywhere', async () => {
    const s = await server({ extra: 'authorization { user: "alice", password: "s3cret-pw" }' });
    const error = await open(s.url('x') as `nats://${string}`, Sample, { user: 'alice', pass: 'wrong-pw-123' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).code).toBe('ERR_IPC_NATS_AUTH');
    expect((error as NatsError).message).toContain(s.url('x'));
    expect(inspect(error, { depth: 10 })).not.toContain('wrong-pw-123');
    // Credentials in the URL work and never show in url, errors or info().
    const rx = await channel(`nats://alice:s3cret-pw@${s.address}/x`, Sample);
    const tx = await channel(s.url('x'), Sample, { user: 'alice', pass: 's3cret-pw', access: 'send' });
    await tx.send(sample(1));
    expect((await rx.receive({ timeoutMs: 5000 })).value).toEqual(sample(1));
    expect(rx.url).toBe(s.url('x'));
    expect(JSON.stringify(rx.info())).not.toContain('s3cret');
    const bad = await open(`nats://alice:nope-77@${s.address}/x`, Sample).catch((e: unknown) => e);
    expect((bad as NatsError).url).toBe(s.url('x'));
    expect(inspect(bad, { depth: 10 })).not.toContain('nope-77');
  });

  it('token and nkey', async () => {
    const token = await server({ extra: 'authorization { token: "tok-abc-987" }' });
    const rx = await channel(`nats://tok-abc-987@${token.address}/t`, Sample);
    expect(rx.url).toBe(token.url('t'));
    const denied = await open(token.url('t') as `nats://${string}`, Sample, { token: 'tok-bad-555' }).catch(
      (e: unknown) => e,
    );
    expect((denied as NatsError).code).toBe('ERR_IPC_NATS_AUTH');
    expect(inspect(denied, { depth: 10 })).not.toContain('tok-bad-555');

    const user = createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const nkey = await server({ extra: `authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }` });
    const nrx = await channel(nkey.url('n'), Sample, { nkeySeed: seed });
    const ntx = await channel(nkey.url('n'), Sample, { nkeySeed: seed, access: 'send' });
    await ntx.send(sample(2));
    expect((await nrx.receive({ timeoutMs: 5000 })).value).toEqual(sample(2));
    const other = new TextDecoder().decode(createUser().getSeed());
    const refused = await open(nkey.url('n') as `nats://${string}`, Sample, { nkeySeed: other }).catch((e) => e);
    expect((refused as NatsError).code).toBe('ERR_IPC_NATS_AUTH');
    expect(inspect(refused, { depth: 10 })).not.toContain(other);
  });

  it('creds: an operator/account/user JWT chain, as text and as a file; refused and malformed creds name no secret', async () => {
    const { account, config, userCreds } = operatorSetup();
    const s = await server({ jetstream: false, extra: config });
    const { jwt, seed } = userCreds(account);
    const creds = credsText(jwt, seed);
    const file = join(s.dir, 'alice.creds');
    writeFileSync(file, creds, { mode: 0o600 });
    const rx = await channel(s.url('c.x'), Sample, { creds });
    const tx = await channel(s.url('c.x'), Sample, { credsFile: file, access: 'send' });
    await tx.send(sample(4));
    expect((await rx.receive({ timeoutMs: 5000 })).value).toEqual(sample(4));
    for (const shown of [JSON.stringify(rx.info()), inspect(rx, { depth: 10 }), JSON.stringify(tx.info())]) {
      expect(shown).not.toContain(seed);
      expect(shown).not.toContain(jwt);
    }
    // The right JWT with another user's seed (the nonce signature fails), and a user of an account the
    // server does not know: both refused as ERR_IPC_NATS_AUTH, neither seed nor JWT in the error.
    const otherSeed = new TextDecoder().decode(createUser().getSeed());
    const stranger = userCreds(createAccount());
    for (const [badJwt, badSeed] of [
      [jwt, otherSeed],
      [stranger.jwt, stranger.seed],
    ] as const) {
      const error = await open(s.url('c.x') as `nats://${string}`, Sample, { creds: credsText(badJwt, badSeed) }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NatsError);
      expect((error as NatsError).code).toBe('ERR_IPC_NATS_AUTH');
      expect((error as NatsError).message).toContain(s.url('c.x'));
      expect(inspect(error, { depth: 10 })).not.toContain(badSeed);
      expect(inspect(error, { depth: 10 })).not.toContain(badJwt.split('.')[2]);
    }
    // Without credentials an operator-mode server refuses too.
    const anonymous = await open(s.url('c.x') as `nats://${string}`, Sample).catch((e: unknown) => e);
    expect((anonymous as NatsError).code).toBe('ERR_IPC_NATS_AUTH');
    // A malformed creds text, a seed that is not a user seed, a missing file: ValidationError before connecting.
    const truncated = creds.slice(0, creds.indexOf('-----BEGIN USER NKEY SEED'));
    const malformed = await open(s.url('c.x') as `nats://${string}`, Sample, { creds: truncated }).catch((e) => e);
    expect(malformed).toBeInstanceOf(ValidationError);
    expect(inspect(malformed, { depth: 10 })).not.toContain(jwt);
    const notSeed = await open(s.url('c.x') as `nats://${string}`, Sample, { nkeySeed: `${seed}x` }).catch((e) => e);
    expect(notSeed).toBeInstanceOf(ValidationError);
    expect(inspect(notSeed, { depth: 10 })).not.toContain(seed);
    const missing = join(s.dir, 'missing.creds');
    const absent = await open(s.url('c.x') as `nats://${string}`, Sample, { credsFile: missing }).catch((e) => e);
    expect(absent).toBeInstanceOf(ValidationError);
    expect((absent as ValidationError).message).toContain(missing);
  });

  it('TLS with a CA file', async () => {
    const s0 = await server({ jetstream: false });
    const dir = s0.dir;
    const ca = join(dir, 'ca.pem');
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    writeFileSync(join(dir, 'san.cnf'), '[v3]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:TRUE\n');
    execFileSync('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-keyout', key, '-out', cert, '-extensions', 'v3', '-config', join(dir, 'san.cnf')],
    ]);
    execFileSync('cp', [cert, ca]);
    const s = await server({ extra: `tls { cert_file: "${cert}", key_file: "${key}" }` });
    const rx = await channel(s.url('secure'), Sample, { tls: { caFile: ca } });
    const tx = await channel(s.url('secure'), Sample, { tls: { caFile: ca }, access: 'send' });
    await tx.send(sample(3));
    expect((await rx.receive({ timeoutMs: 5000 })).value).toEqual(sample(3));
    await expect(open(s.url('secure') as `nats://${string}`, Sample, { timeoutMs: 3000 })).rejects.toThrow(NatsError);
  });
});

describe('failures', () => {
  it('an unreachable server is ERR_IPC_NATS_CONNECT at once, naming the URL without credentials', async () => {
    const port = await freePort();
    const error = await open(`nats://bob:pw-9876@127.0.0.1:${port}/x`, Sample, { timeoutMs: 2000 }).catch((e) => e);
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).code).toBe('ERR_IPC_NATS_CONNECT');
    expect((error as NatsError).message).toContain(`nats://127.0.0.1:${port}/x`);
    expect(inspect(error, { depth: 10 })).not.toContain('pw-9876');
  });

  it('a server that does not answer times out within timeoutMs', async () => {
    // A listener that accepts and says nothing: the client waits for INFO until its timeout.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.add(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const { port } = silent.address() as { port: number };
    const started = Date.now();
    const error = await open(`nats://127.0.0.1:${port}/x`, Sample, { timeoutMs: 500 }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a server gone during JetStream sends: typed errors within the timeout, only whole messages stored', async () => {
    const s = await server();
    const url = s.url('gone', '?stream=GONE');
    const tx = await channel(url, Sample, { create: true, maxReconnectAttempts: -1, reconnectTimeWaitMs: 100 });
    for (let i = 0; i < 5; i++) await tx.send(sample(i));
    await s.kill();
    const started = Date.now();
    const error = await tx.send(sample(5), { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(4000);
    await s.restart();
    const rx = await channel(s.url('gone', '?stream=GONE&durable=check'), Sample);
    const values: bigint[] = [];
    for (;;) {
      const message = await rx.receive({ timeoutMs: 2000 }).catch(() => undefined);
      if (message === undefined) break;
      values.push(message.value.timestamp);
      await message.ack?.();
    }
    // The five acked ones survive the crash; the sixth was either stored whole or not at all.
    expect(values.slice(0, 5)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(values.length === 5 || (values.length === 6 && values[5] === 5n)).toBe(true);
  });

  it('a core channel whose server is gone for good fails its waits with ERR_IPC_NATS_CONNECTION_LOST', async () => {
    const s = await server({ jetstream: false });
    const rx = await channel(s.url('lost'), Sample, { maxReconnectAttempts: 0 });
    const waiting = rx.receive();
    await s.kill();
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).code).toBe('ERR_IPC_NATS_CONNECTION_LOST');
    await expect(rx.send(sample(1))).rejects.toThrow(/lost the connection/);
  });

  it('parses servers, subject, query and credentials, keeping the credentials out of url', () => {
    expect(parseUrl('nats://u%40x:p%3Aw@h1:4223,[::1],h3/orders.%3E?stream=S&durable=D')).toEqual({
      scheme: 'nats',
      url: 'nats://h1:4223,[::1],h3/orders.%3E?stream=S&durable=D',
      servers: ['h1:4223', '[::1]:4222', 'h3:4222'],
      subject: 'orders.>',
      stream: 'S',
      durable: 'D',
      credentials: { user: 'u@x', pass: 'p:w' },
    });
    expect(parseUrl('nats://tok@h/a')).toMatchObject({ url: 'nats://h/a', credentials: { token: 'tok' } });
  });

  it('refuses bad URLs and option mixes with ValidationError or UnsupportedError', async () => {
    await expect(open('nats://127.0.0.1:4222/' as `nats://${string}`, Sample)).rejects.toThrow(ValidationError);
    await expect(open('nats://127.0.0.1:4222/a..b', Sample)).rejects.toThrow(/empty token/);
    await expect(open('nats://127.0.0.1:4222/a.>.b', Sample)).rejects.toThrow(/last token/);
    await expect(open('nats://u:secret-1@127.0.0.1:99999/a', Sample)).rejects.toThrow(ValidationError);
    await expect(open('nats://u:secret-1@127.0.0.1:99999/a', Sample)).rejects.not.toThrow(/secret-1/);
    await expect(open('nats://127.0.0.1:4222/a?durable=d', Sample)).rejects.toThrow(/stream=NAME/);
    await expect(open('nats://127.0.0.1:4222/a?stream=S&queue=q', Sample)).rejects.toThrow(UnsupportedError);
    await expect(open('nats://127.0.0.1:4222/a?bogus=1', Sample)).rejects.toThrow(/unknown query key/);
    // The shared option rules, before connecting (nothing listens on port 1).
    for (const options of [{ access: 'sideways' }, { timeoutMs: -1 }, { ackTimeoutMs: Number.NaN }]) {
      const error = await open('nats://127.0.0.1:1/a', Sample, options as NatsOptions).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
    }
  });
});

describe('lazy loading', () => {
  it('importing typed-ipc does not load the NATS client; the first open does', () => {
    const nats = (body: string) => loadedBy(body).specifiers.filter((s) => s.startsWith('@nats-io/'));
    expect(nats("m.struct('s', { a: m.u16 });")).toEqual([]);
    // Nothing listens on port 1: the open fails, after loading the client to try.
    expect(nats("await m.open('nats://127.0.0.1:1/x', m.struct('s', { a: m.u16 })).catch(() => {});")).not.toEqual([]);
  });
});
