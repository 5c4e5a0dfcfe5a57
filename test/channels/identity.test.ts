/**
 * Schema identity at connect ({ identity: true } on both ends) on unix+seqpacket, unix+stream and
 * tcp: the same schema connects and carries messages; another schema of the same size fails connect
 * and accept alike, naming both fingerprints, before any message; a peer that sends no identity
 * fails it; and a C peer using include/typed_ipc_identity.h takes part in the exchange.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sample } from '../../schemas/index.js';
import { connect, f64, listen, SchemaMismatchError, type StructType, struct, u64 } from '../../src/index.js';
import { Cleanup, compileC, finished, uniqueName } from '../helpers.js';

// Same size as the sample (24 bytes), another layout: what identity exists to catch.
const Other = struct('other', { a: u64, b: u64, c: f64 });
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function urlOf(scheme: string): string {
  if (scheme === 'tcp') return 'tcp://127.0.0.1:0';
  return `${scheme}:${join(tmpdir(), uniqueName('id'))}`;
}

describe.each(['unix+seqpacket', 'unix+stream', 'tcp'])('%s with identity', (scheme) => {
  it('connects with the same schema and carries messages', async () => {
    const listener = await listen(urlOf(scheme), Sample, { identity: true });
    cleanup.add(() => listener.close());
    const accepted = listener.accept();
    const client = await connect(listener.url, Sample, { identity: true });
    cleanup.add(() => client.close());
    const server = await accepted;
    cleanup.add(() => server.close());
    await client.send({ channel: 3, timestamp: 7n, value: 0.5 });
    expect((await server.receive({ timeoutMs: 5000 })).value).toEqual({ channel: 3, timestamp: 7n, value: 0.5 });
  });

  it('fails connect and accept on another schema of the same size, naming both fingerprints', async () => {
    const listener = await listen(urlOf(scheme), Sample, { identity: true });
    cleanup.add(() => listener.close());
    const accepted = listener.accept().catch((error: unknown) => error);
    const failed = await connect(listener.url, Other, { identity: true }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(SchemaMismatchError);
    expect((failed as Error).message).toContain(
      `schema mismatch: this end's fingerprint is ${Other.fingerprint}, the peer's is ${Sample.fingerprint}`,
    );
    const refused = await accepted;
    expect(refused).toBeInstanceOf(SchemaMismatchError);
    expect(refused).toMatchObject({
      code: 'ERR_IPC_SCHEMA_MISMATCH',
      local: Sample.fingerprint,
      remote: Other.fingerprint,
    });
  });

  it('fails when the peer sends no identity (it did not set the option)', async () => {
    const listener = await listen(urlOf(scheme), Sample);
    cleanup.add(() => listener.close());
    const accepted = listener.accept();
    const failed = connect(listener.url, Sample, { identity: true, timeoutMs: 300 }).catch((e: unknown) => e);
    const server = await accepted;
    cleanup.add(() => server.close());
    // The plain end reads the hello as a message: 16 bytes of a 24-byte sample never complete one.
    expect(await failed).toMatchObject({ code: 'ERR_IPC_TIMEOUT' });
  });
});

describe('a C peer with typed_ipc_identity.h', () => {
  it('exchanges identity and sends a sample to a listener that asked for it', async () => {
    const source = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "typed_ipc_identity.h"
int main(int argc, char **argv) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a; memset(&a, 0, sizeof a); a.sun_family = AF_UNIX;
  strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 3; }
  uint64_t peer = 0;
  int r = tipc_identity_exchange(fd, strtoull(argv[2], NULL, 16), 5000, &peer);
  printf("%d %016llx\\n", r, (unsigned long long)peer);
  if (r != 0) return 4;
  struct { uint16_t channel; uint64_t timestamp; double value; } s = {9, 99, 1.5};
  if (send(fd, &s, sizeof s, 0) != (ssize_t)sizeof s) return 5;
  close(fd);
  return 0;
}
`;
    const binary = compileC('identity-peer', [source]);
    for (const [codec, expected] of [
      [Sample as StructType, 0],
      [Other as StructType, 1],
    ] as const) {
      const url = urlOf('unix+stream');
      const listener = await listen(url, codec, { identity: true });
      cleanup.add(() => listener.close());
      const accepted = listener.accept().catch((error: unknown) => error);
      const child = spawn(binary, [url.slice('unix+stream:'.length), Sample.fingerprint]);
      cleanup.add(() => child.kill());
      const { code, stdout } = await finished(child, 10_000);
      const [result, peer] = stdout.trim().split(' ');
      expect(Number(result)).toBe(expected);
      expect(peer).toBe(codec.fingerprint);
      const server = await accepted;
      if (expected === 0) {
        expect(code).toBe(0);
        const channel = server as Awaited<ReturnType<typeof listener.accept>>;
        cleanup.add(() => channel.close());
        expect((await channel.receive({ timeoutMs: 5000 })).value).toEqual({ channel: 9, timestamp: 99n, value: 1.5 });
      } else {
        expect(code).toBe(4);
        expect(server).toBeInstanceOf(SchemaMismatchError);
      }
    }
  });
});
