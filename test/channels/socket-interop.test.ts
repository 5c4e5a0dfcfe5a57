/**
 * Socket channels across processes: C peers in both directions for unix+dgram and unix+seqpacket,
 * Node children with inherited channels, 100 000 samples with none lost, and peer credentials of
 * a child that runs as another user.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  bind,
  type Channel,
  connect,
  listen,
  type Message,
  spawnNodeWithChannel,
  spawnWithChannel,
} from '../../src/channels/index.js';
import { ChannelClosedError, SchemaError, TimeoutError } from '../../src/errors.js';
import {
  Cleanup,
  compileC,
  finished,
  forOtherUsers,
  removeSharedDir,
  repoRoot,
  sharedDir,
  spawnTs,
  uniqueName,
} from '../helpers.js';
import { Sample, type Sample as SampleValue } from './sample.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const N = 100_000;
const peer = compileC('socket_peer', [join(repoRoot, 'test/c/socket_peer.c')]);
const sample = (i: number): SampleValue => ({ channel: i % 65536, timestamp: BigInt(i), value: i / 2 });

function track<C extends { close(): Promise<void> }>(channel: C): C {
  cleanup.add(() => channel.close());
  return channel;
}

function run(child: ChildProcess): ReturnType<typeof finished> {
  cleanup.add(() => child.exitCode === null && child.kill('SIGKILL'));
  return finished(child, 120_000);
}

/** Waits until a child prints `ready`. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`peer exited (${code}) before it was ready`)));
  });
}

/** Receives `n` samples with receiveMany and checks that they are exactly 0..n-1, in order. */
async function expectSequence(channel: Channel<SampleValue>, n: number): Promise<Message<SampleValue>[]> {
  const last: Message<SampleValue>[] = [];
  let next = 0;
  while (next < n) {
    const batch = await channel.receiveMany(512, { timeoutMs: 20_000 });
    for (const message of batch) {
      if (message.value.timestamp !== BigInt(next) || message.value.value !== next / 2) {
        throw new Error(
          `message ${next}: got ${JSON.stringify({ ...message.value, timestamp: String(message.value.timestamp) })}`,
        );
      }
      next++;
    }
    last.splice(0, last.length, ...batch);
  }
  expect(next).toBe(n);
  return last;
}

async function sendSequence(channel: Channel<SampleValue>, n: number): Promise<void> {
  for (let start = 0; start < n; start += 1000) {
    await channel.sendMany(Array.from({ length: Math.min(1000, n - start) }, (_, i) => sample(start + i)));
  }
}

describe('unix+dgram with a C peer', () => {
  it(`receives ${N} samples from a C sender, none lost`, async () => {
    const url = `unix+dgram:@${uniqueName('c2n')}`;
    const rx = track(await bind(url, Sample));
    const child = spawn(peer, ['dgram-send', url.slice('unix+dgram:'.length), String(N)], { stdio: 'pipe' });
    const done = run(child);
    const last = await expectSequence(rx, N);
    // The C sender connected without binding: it has no address, so there is no `from` to reply to.
    expect(last.at(-1)?.from).toBeUndefined();
    expect((await done).code).toBe(0);
    expect(rx.tryReceive()).toBeUndefined();
  });

  it(`sends ${N} samples to a C receiver, which replies to the sender's address`, async () => {
    const name = `@${uniqueName('n2c')}`;
    const child = spawn(peer, ['dgram-recv', name, String(N)], { stdio: 'pipe' });
    const isReady = ready(child);
    const done = run(child);
    await isReady;
    const tx = track(await connect(`unix+dgram:${name}`, Sample));
    await sendSequence(tx, N);
    const reply = await tx.receive({ timeoutMs: 20_000 });
    expect(reply.value).toEqual(sample(N));
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`received ${N}`);
  });
});

describe('unix+seqpacket with a C peer', () => {
  it(`accepts a C client and receives ${N} samples, then EOF`, async () => {
    const url = `unix+seqpacket:@${uniqueName('c2n')}`;
    const listener = track(await listen(url, Sample));
    const child = spawn(peer, ['seq-send', url.slice('unix+seqpacket:'.length), String(N)], { stdio: 'pipe' });
    const done = run(child);
    const connection = track(await listener.accept({ timeoutMs: 20_000 }));
    expect(connection.peer?.pid).toBe(child.pid);
    await expectSequence(connection, N);
    await expect(connection.receive({ timeoutMs: 20_000 })).rejects.toBeInstanceOf(ChannelClosedError);
    expect((await done).code).toBe(0);
  });

  it(`connects to a C listener and sends ${N} samples, then gets its reply`, async () => {
    const name = `@${uniqueName('n2c')}`;
    const child = spawn(peer, ['seq-recv', name, String(N)], { stdio: 'pipe' });
    const isReady = ready(child);
    const done = run(child);
    await isReady;
    const tx = track(await connect(`unix+seqpacket:${name}`, Sample));
    expect(tx.peer?.pid).toBe(child.pid);
    await sendSequence(tx, N);
    expect((await tx.receive({ timeoutMs: 20_000 })).value).toEqual(sample(N));
    const result = await done;
    expect(result.code).toBe(0);
    // The C side has closed: the iterator ends.
    const after = [];
    for await (const message of tx) after.push(message);
    expect(after).toEqual([]);
  });
});

describe('children with an inherited channel', () => {
  for (const transport of ['unix+seqpacket', 'unix+dgram']) {
    it(`talks to a C child over a ${transport} socketpair on fd 3, both ways`, async () => {
      const { child, channel } = spawnWithChannel(peer, ['fd-echo', '3'], Sample, { transport });
      track(channel);
      const done = run(child);
      await channel.sendMany([sample(1), sample(2), sample(3)]);
      const got = [];
      while (got.length < 3) got.push(...(await channel.receiveMany(3, { timeoutMs: 10_000 })));
      expect(got.map((m) => m.value)).toEqual([1, 2, 3].map((i) => ({ ...sample(i), value: i }))); // value * 2
      if (transport === 'unix+dgram') {
        child.kill('SIGTERM');
        await done;
        // A dead datagram peer: the next send finds nobody at the other end.
        await expect(channel.send(sample(4))).rejects.toBeInstanceOf(ChannelClosedError);
      } else {
        await channel.close();
        expect((await done).code).toBe(0); // the C child saw EOF
      }
    });

    it(`receives ${N} samples from a Node child over ${transport}, none lost`, async () => {
      const { child, channel } = spawnNodeWithChannel(
        'test/channels/peers/socket-child.ts',
        ['send', String(N)],
        Sample,
        {
          transport,
          execArgv: ['--import', 'tsx'],
          cwd: repoRoot,
        },
      );
      track(channel);
      const done = run(child);
      await expectSequence(channel, N);
      const result = await done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    });
  }

  it('echoes through a Node child and sees EOF when the child exits', async () => {
    const { child, channel } = spawnNodeWithChannel('test/channels/peers/socket-child.ts', ['echo'], Sample, {
      execArgv: ['--import', 'tsx'],
      cwd: repoRoot,
    });
    track(channel);
    const done = run(child);
    await channel.send(sample(10));
    expect((await channel.receive({ timeoutMs: 20_000 })).value).toEqual({ ...sample(10), value: 10 });
    child.kill('SIGKILL');
    await done;
    await expect(channel.receive({ timeoutMs: 20_000 })).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(channel.send(sample(11))).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('refuses an inherited channel whose codec has another layout', async () => {
    const { child, channel } = spawnNodeWithChannel('test/channels/peers/socket-child.ts', ['wrong-schema'], Sample, {
      execArgv: ['--import', 'tsx'],
      cwd: repoRoot,
    });
    track(channel);
    const result = await run(child);
    expect(result.code).toBe(5);
    expect(result.stdout).toContain(`${SchemaError.name}: `);
    expect(result.stdout).toContain(Sample.fingerprint);
  });
});

describe('cross-process bind/connect', () => {
  for (const scheme of ['unix+dgram', 'unix+seqpacket'] as const) {
    it(`${scheme}: a Node process sends ${N} samples to another, none lost`, async () => {
      const url = `${scheme}:@${uniqueName('x')}`;
      let accept = async (): Promise<Channel<SampleValue>> => track(await bind(url, Sample));
      if (scheme === 'unix+seqpacket') {
        const listener = track(await listen(url, Sample));
        accept = async () => track(await listener.accept({ timeoutMs: 30_000 }));
      }
      const receiving = accept();
      const child = spawnTs('test/channels/peers/socket-child.ts', ['connect-send', url, String(N)]);
      const done = run(child);
      const rx = await receiving;
      await expectSequence(rx, N);
      const result = await done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    });
  }
});

describe('peer credentials of a child running as another user', () => {
  it('reports uid/gid/pid and admits or refuses the peer by allow', async () => {
    const url = `unix+seqpacket:@${uniqueName('cred')}`;
    const nobody = 65534;
    const listener = track(await listen(url, Sample, { allow: [nobody] }));
    // This process (root) is refused: its connection is closed without being handed out.
    const refused = track(await connect(url, Sample));
    await expect(listener.accept({ timeoutMs: 200 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(refused.receive({ timeoutMs: 5_000 })).rejects.toBeInstanceOf(ChannelClosedError);

    // From a copy another uid can reach: the checkout (test/c/build) may be private.
    const peerForNobody = forOtherUsers(peer);
    const child = spawn(peerForNobody, ['seq-send', url.slice('unix+seqpacket:'.length), '5'], {
      stdio: 'pipe',
      cwd: sharedDir(),
      uid: nobody,
      gid: nobody,
    });
    const done = run(child);
    const connection = track(await listener.accept({ timeoutMs: 20_000 }));
    expect(connection.peer).toEqual({ pid: child.pid, uid: nobody, gid: nobody });
    await expectSequence(connection, 5);
    expect((await done).code).toBe(0);

    // A predicate sees the same credentials; refusing it leaves the child with a closed connection.
    const seen: unknown[] = [];
    const strict = track(
      await listen(`${url}-2`, Sample, {
        allow: (credentials) => {
          seen.push(credentials);
          return credentials.uid === 0;
        },
      }),
    );
    const second = spawn(peerForNobody, ['seq-send', `${url.slice('unix+seqpacket:'.length)}-2`, '100000'], {
      stdio: 'pipe',
      cwd: sharedDir(),
      uid: nobody,
      gid: nobody,
    });
    const secondDone = run(second);
    await expect(strict.accept({ timeoutMs: 1_000 })).rejects.toBeInstanceOf(TimeoutError);
    const result = await secondDone;
    expect(result.code).toBe(2); // its send failed: the connection was closed under it
    expect(result.stderr).toMatch(/send: (Broken pipe|Connection reset)/);
    expect(seen).toEqual([{ pid: second.pid, uid: nobody, gid: nobody }]);
  });
});

describe('ref and unref', () => {
  it('a waiting channel and listener keep the process alive unless ref is false', async () => {
    const free = await run(spawnTs('test/channels/peers/socket-child.ts', ['wait', 'false']));
    expect(free.stdout).toBe('waiting\n');
    expect(free.code).toBe(0);
    const held = spawnTs('test/channels/peers/socket-child.ts', ['wait', 'true']);
    const heldDone = run(held);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(held.exitCode).toBe(null); // still waiting
    held.kill('SIGTERM');
    expect((await heldDone).signal).toBe('SIGTERM');
  });
});

// The copies another uid runs from live in sharedDir(); a killed worker would leave them behind.
afterAll(removeSharedDir);
