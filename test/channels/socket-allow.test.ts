/**
 * Who may talk to a UNIX socket, with real senders of another uid (socket_peer's foreign writer, run as uid/gid
 * 65534 from a copy in a temporary directory) and real kernel objects (issue 12, items 2, 4, 8 and 10):
 * abstract-name listeners and datagram receivers admit only their own uid by default; `allow` is
 * enforced per datagram through SCM_CREDENTIALS; refusals are counted, reported with the refused
 * credentials, and explained to the refused client; an empty seqpacket record is a DecodeError, not
 * the end of the connection; a loop can consume past a foreign writer's garbage.
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  bind,
  type Channel,
  ChannelClosedError,
  connect,
  DecodeError,
  type Listener,
  listen,
  type Message,
  type PeerCredentials,
} from '../../src/index.js';
import { libc } from '../../src/native/index.js';
import { Cleanup, compileC, finished, repoRoot, uniqueName } from '../helpers.js';
import { Sample } from './sample.js';

const NOBODY = 65534;
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

// uid 65534 runs a copy in a directory it can read, not the checkout.
const nobodyDir = mkdtempSync(join(tmpdir(), 'tipc-nobody-'));
chmodSync(nobodyDir, 0o755);
afterAll(() => rmSync(nobodyDir, { recursive: true, force: true }));
const built = compileC('socket_peer', [join(repoRoot, 'test', 'c', 'socket_peer.c')]);
const writer = join(nobodyDir, basename(built));
copyFileSync(built, writer);
chmodSync(writer, 0o755);

/** Runs the foreign writer (as uid 65534 unless `asRoot`); resolves with its pid and outcome. */
async function foreign(mode: string, address: string, lengths: string, asRoot = false) {
  const child = spawn(writer, ['foreign', mode, address, lengths], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? {} : { uid: NOBODY, gid: NOBODY }),
  });
  const result = await finished(child, 30_000);
  return { pid: child.pid, ...result };
}

function track<C extends { close(): Promise<void> }>(channel: C): C {
  cleanup.add(() => channel.close());
  return channel;
}

const sample = (i: number) => ({ channel: i % 65536, timestamp: BigInt(i), value: i / 2 });
/** Waits for the microtasks that carry onRefused calls. */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const socketPath = (tag: string) => join(tmpdir(), uniqueName(tag));

describe.each(['unix+seqpacket', 'unix+stream'] as const)('%s listener on an abstract name', (scheme) => {
  const mode = scheme === 'unix+seqpacket' ? 'seq' : 'stream';

  it('admits only its own uid by default; refusals are counted and reported with the credentials', async () => {
    const name = `@${uniqueName('abs')}`;
    const refusals: PeerCredentials[] = [];
    const listener = track(await listen(`${scheme}:${name}`, Sample, { onRefused: (peer) => refusals.push(peer) }));
    expect(listener.info()).toMatchObject({ refused: 0, accepted: 0, admits: `uids ${libc.geteuid()}` });
    // uid 65534 connects and writes: the kernel takes it into the backlog before the listener sees it.
    const intruder = await foreign(mode, name, '24,24');
    const own = track(await connect(`${scheme}:${name}`, Sample));
    await own.send(sample(7));
    const connection = track(await listener.accept({ timeoutMs: 10_000 }));
    expect(connection.peer?.uid).toBe(libc.geteuid());
    expect((await connection.receive({ timeoutMs: 5_000 })).value).toEqual(sample(7));
    await settle();
    expect(listener.info()).toMatchObject({ refused: 1, accepted: 1 });
    expect(refusals).toEqual([{ pid: intruder.pid, uid: NOBODY, gid: NOBODY }]);
  });

  it("admits another uid when allow says so ('anyone', or its uid)", async () => {
    for (const allow of ['anyone', [NOBODY]] as const) {
      const name = `@${uniqueName('open')}`;
      const listener = track(await listen(`${scheme}:${name}`, Sample, { allow }));
      const accepting = listener.accept({ timeoutMs: 10_000 });
      const intruder = await foreign(mode, name, '24,24');
      expect(intruder.stderr).toBe('');
      const connection = track(await accepting);
      expect(connection.peer).toEqual({ pid: intruder.pid, uid: NOBODY, gid: NOBODY });
      expect((await connection.receive({ timeoutMs: 5_000 })).value).toEqual(sample(0));
      expect((await connection.receive({ timeoutMs: 5_000 })).value).toEqual(sample(1));
      expect(listener.info().refused).toBe(0);
    }
  });

  it("tells a refused client that the listener's allow list is the likely cause", async () => {
    const url = `${scheme}:@${uniqueName('hint')}`;
    const listener = track(await listen(url, Sample, { allow: [12345] }));
    const refused = track(await connect(url, Sample));
    // The listener accepts and closes it (accept() itself goes on waiting for an admitted peer).
    void listener.accept().catch(() => {});
    const error = await refused.receive({ timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelClosedError);
    expect((error as Error).message).toMatch(
      new RegExp(`if it has an \`allow\` list, it most likely refused this process \\(uid ${libc.geteuid()}`),
    );
    const sendError = await refused.send(sample(1)).catch((e: unknown) => e);
    expect(sendError).toBeInstanceOf(ChannelClosedError);
    expect((sendError as Error).message).toMatch(/most likely refused this process/);
    expect(listener.info().refused).toBe(1);
  });
});

describe('a path listener is protected by its file mode', () => {
  it('admits other uids the mode lets in (no uid check by default), and info says so', async () => {
    const path = socketPath('pathlisten');
    const listener = track(await listen(`unix+seqpacket:${path}`, Sample, { mode: 0o666 }));
    expect(listener.info().admits).toBe('anyone the socket file mode admits');
    const accepting = listener.accept({ timeoutMs: 10_000 });
    const intruder = await foreign('seq', path, '24');
    expect(intruder.code).toBe(0);
    expect((await accepting).peer?.uid).toBe(NOBODY);
  });
});

describe('unix+dgram receivers check every datagram against allow (SCM_CREDENTIALS)', () => {
  it('an abstract receiver drops other uids by default, counts them and reports them', async () => {
    const name = `@${uniqueName('dg')}`;
    const refusals: PeerCredentials[] = [];
    const rx = track(await bind(`unix+dgram:${name}`, Sample, { onRefused: (peer) => refusals.push(peer) }));
    const intruder = await foreign('dgram', name, '24,24,24');
    expect(intruder.code).toBe(0); // the kernel took them: only the receiver can refuse datagrams
    const tx = track(await connect(`unix+dgram:${name}`, Sample));
    await tx.send(sample(100));
    expect((await rx.receive({ timeoutMs: 5_000 })).value).toEqual(sample(100));
    await settle();
    expect(rx.info()).toMatchObject({ refused: 3, admits: `uids ${libc.geteuid()}` });
    expect(refusals.map(({ pid, uid, gid }) => ({ pid, uid, gid }))).toEqual(
      Array(3).fill({ pid: intruder.pid, uid: NOBODY, gid: NOBODY }),
    );
    expect(rx.tryReceive()).toBeUndefined();
  });

  it('a path receiver enforces allow per datagram, on top of its file mode', async () => {
    const path = socketPath('dgallow');
    const rx = track(await bind(`unix+dgram:${path}`, Sample, { mode: 0o666, allow: [libc.geteuid()] }));
    expect((await foreign('dgram', path, '24,24')).code).toBe(0);
    const tx = track(await connect(`unix+dgram:${path}`, Sample));
    await tx.send(sample(5));
    expect((await rx.receive({ timeoutMs: 5_000 })).value).toEqual(sample(5));
    expect(rx.info().refused).toBe(2);
  });

  it("allow admits the uids it names ('anyone', a uid list, a predicate) and drops the others", async () => {
    const cases = [
      { allow: 'anyone' as const, admitted: true },
      { allow: [NOBODY], admitted: true },
      { allow: (peer: PeerCredentials) => peer.uid !== NOBODY, admitted: false },
    ];
    for (const { allow, admitted } of cases) {
      const name = `@${uniqueName('dgopen')}`;
      const rx = track(await bind(`unix+dgram:${name}`, Sample, { allow }));
      expect((await foreign('dgram', name, '24')).code).toBe(0);
      const got = await rx.receive({ timeoutMs: 300 }).catch(() => undefined);
      expect(got?.value).toEqual(admitted ? sample(0) : undefined);
      expect(rx.info().refused).toBe(admitted ? 0 : 1);
    }
  });
});

describe('unix+seqpacket: an empty record is a DecodeError for that record, not the end', () => {
  async function connectionFrom(lengths: string): Promise<Channel<Sample>> {
    const path = socketPath('empty');
    const listener: Listener<Sample> = track(await listen(`unix+seqpacket:${path}`, Sample));
    const accepting = listener.accept({ timeoutMs: 10_000 });
    const result = await foreign('seq', path, lengths, true);
    expect(result.stderr).toBe('');
    return track(await accepting);
  }

  it('delivers the records around empty ones, trailing ones included, then ends at the real end', async () => {
    const connection = await connectionFrom('24,0,24,0,0,24,0,0');
    const outcomes: string[] = [];
    for (;;) {
      try {
        const { value } = await connection.receive({ timeoutMs: 5_000 });
        outcomes.push(`sample ${value.timestamp}`);
      } catch (error) {
        if (error instanceof ChannelClosedError) break;
        expect(error).toBeInstanceOf(DecodeError);
        expect((error as Error).message).toMatch(/discarded an empty record/);
        outcomes.push('empty');
      }
    }
    expect(outcomes).toEqual(['sample 0', 'empty', 'sample 1', 'empty', 'empty', 'sample 2', 'empty', 'empty']);
  });

  it('receiveMany and the iterator see the same', async () => {
    const connection = await connectionFrom('24,24,0,24');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const first = await connection.receiveMany(10, { timeoutMs: 5_000 });
    expect(first.map((m) => m.value.timestamp)).toEqual([0n, 1n]);
    const items: unknown[] = [];
    for await (const item of connection.iterate({ decodeErrors: 'yield' })) items.push(item);
    expect(items).toHaveLength(2);
    expect(items[0]).toBeInstanceOf(DecodeError);
    expect((items[1] as Message<Sample>).value.timestamp).toBe(2n);
  });
});

describe('consuming past a foreign writer’s garbage', () => {
  it("for await ends at the first DecodeError by default; iterate({ decodeErrors: 'yield' }) goes on", async () => {
    const path = socketPath('garbage');
    const rx = track(await bind(`unix+dgram:${path}`, Sample));
    expect((await foreign('dgram', path, '24,5,24,100,0,24', true)).code).toBe(0);
    const seen: unknown[] = [];
    const loop = async () => {
      for await (const message of rx) seen.push(message.value.timestamp);
    };
    await expect(loop()).rejects.toThrow(/discarded a 5-byte datagram/);
    expect(seen).toEqual([0n]);

    expect((await foreign('dgram', path, '24,5,24,100,0,24', true)).code).toBe(0);
    const items: (bigint | string)[] = [];
    for await (const item of rx.iterate({ decodeErrors: 'yield' })) {
      items.push(item instanceof DecodeError ? 'bad' : item.value.timestamp);
      if (items.length === 9) break;
    }
    // What is left of the first round (sample 1, 100 bytes, 0 bytes, sample 2), then the second round.
    expect(items).toEqual([1n, 'bad', 'bad', 2n, 0n, 'bad', 1n, 'bad', 'bad']);
    expect(() => rx.iterate({ decodeErrors: 'skip' as never })).toThrow(/'throw' or 'yield'/);
  });
});
