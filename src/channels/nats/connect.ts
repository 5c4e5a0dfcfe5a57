/**
 * Reaching a NATS server: the credentials (user and password, token, nkey seed, a `.creds` file),
 * checked without ever quoting a secret, the client's connection options, and what a failed connect
 * is (NatsError ERR_IPC_NATS_AUTH or ERR_IPC_NATS_CONNECT, or TimeoutError).
 */
import { readFile } from 'node:fs/promises';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  nkeyAuthenticator,
} from '@nats-io/transport-node';
import { AbortError, TimeoutError, ValidationError } from '../../errors.js';
import { NatsError, type NatsOptions } from '../nats.js';
import { checkAccess, checkTimeout } from '../options.js';
import { bounded, errorText, scrubber } from './errors.js';
import type { NatsAddress } from './url.js';

/** The blocks of a `.creds` file (what nats.js and the C client read): the user JWT, then the nkey seed. */
const CREDS_BLOCK = /-{3,}[^\n]*-{3,}\r?\n\s*(\S+)\s*\r?\n\s*-{3,}[^\n]*-{3,}/g;
/** A user nkey seed: `SU` and 56 base32 characters. */
const USER_SEED = /^SU[A-Z2-7]{56}$/;

/** The secrets a channel's options hold (for scrubbing them out of every message it builds). */
interface Secrets {
  readonly values: readonly string[];
  readonly creds?: string;
}

/**
 * Reads and checks the credentials: a creds file's text (read once, here), an nkey seed. Never shows
 * a secret in the errors: a malformed one is named, not quoted.
 */
async function readSecrets(address: NatsAddress, options: NatsOptions): Promise<Secrets> {
  const credentials = address.credentials;
  const values = [
    options.pass,
    options.token,
    options.nkeySeed,
    credentials !== undefined && 'pass' in credentials ? credentials.pass : undefined,
    credentials !== undefined && 'token' in credentials ? credentials.token : undefined,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (options.nkeySeed !== undefined && (typeof options.nkeySeed !== 'string' || !USER_SEED.test(options.nkeySeed))) {
    throw new ValidationError('nkeySeed', 'a user nkey seed: SU and 56 base32 characters', '(not shown: a secret)');
  }
  if (options.creds === undefined && options.credsFile === undefined) return { values };
  let creds: string;
  if (options.creds !== undefined) creds = options.creds;
  else {
    try {
      creds = await readFile(options.credsFile as string, 'utf8');
    } catch (error) {
      throw new ValidationError('credsFile', 'a readable .creds file', JSON.stringify(options.credsFile), {
        message: `credsFile ${JSON.stringify(options.credsFile)}: cannot read it (${errorText(error)}); expected a readable .creds file`,
        cause: error,
      });
    }
  }
  const blocks = typeof creds === 'string' ? [...creds.matchAll(CREDS_BLOCK)].map((m) => m[1] as string) : [];
  if (blocks.length < 2 || !USER_SEED.test(blocks[1] as string)) {
    throw new ValidationError(
      options.creds === undefined ? 'credsFile' : 'creds',
      'a .creds file: a user JWT, then a user nkey seed (SU…), each between BEGIN and END lines (as nsc writes it)',
      '(not shown: a secret)',
    );
  }
  return { values: [...values, creds, ...blocks], creds };
}

function connectOptions(address: NatsAddress, options: NatsOptions, secrets: Secrets): NodeConnectionOptions {
  const credentials = address.credentials;
  const user = credentials !== undefined && 'user' in credentials ? credentials.user : options.user;
  const pass = credentials !== undefined && 'pass' in credentials ? credentials.pass : options.pass;
  const token = credentials !== undefined && 'token' in credentials ? credentials.token : options.token;
  const encoder = new TextEncoder();
  const authenticators = [];
  if (options.nkeySeed !== undefined) authenticators.push(nkeyAuthenticator(encoder.encode(options.nkeySeed)));
  if (secrets.creds !== undefined) authenticators.push(credsAuthenticator(encoder.encode(secrets.creds)));
  const tls = options.tls === true ? {} : options.tls === false || options.tls === undefined ? undefined : options.tls;
  for (const server of options.servers ?? []) {
    if (typeof server !== 'string' || !/^[^\s/@,]+$/.test(server)) {
      throw new ValidationError('servers', 'host:port strings without credentials', JSON.stringify(server));
    }
  }
  return {
    servers: [...address.servers, ...(options.servers ?? [])],
    // A channel does not receive what it sent itself, as with a socket.
    noEcho: true,
    // Otherwise each request (every JetStream publish) builds two Error objects with stacks up front, in case
    // it fails: 40% of a JetStream publisher's CPU. Errors are mapped to typed-ipc's, with the client's as cause.
    noAsyncTraces: true,
    timeout: options.timeoutMs ?? 10_000,
    maxReconnectAttempts: options.maxReconnectAttempts ?? 10,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 2000,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(user === undefined ? {} : { user }),
    ...(pass === undefined ? {} : { pass }),
    ...(token === undefined ? {} : { token }),
    ...(authenticators.length === 0 ? {} : { authenticator: authenticators }),
    ...(tls === undefined ? {} : { tls: { ...tls } }),
  };
}

function connectError(
  address: NatsAddress,
  error: unknown,
  scrub: (text: string) => string,
  timeoutMs: number,
): unknown {
  const text = scrub(errorText(error));
  const name = error instanceof Error ? error.name : '';
  if (/authoriz|authentic|auth/i.test(`${name} ${text}`)) {
    return new NatsError(
      'ERR_IPC_NATS_AUTH',
      address.url,
      `connect to ${address.url}: the server refused the credentials (${text}); check the user, password, token, nkey or creds`,
      { cause: error },
    );
  }
  if (/timeout/i.test(`${name} ${text}`)) return new TimeoutError(`connect to ${address.url}`, timeoutMs);
  return new NatsError(
    'ERR_IPC_NATS_CONNECT',
    address.url,
    `connect to ${address.url}: cannot reach a NATS server at ${address.servers.join(', ')} (${text}); is nats-server running and listening there?`,
    { cause: error },
  );
}

/** A connection, and how its channel scrubs the secrets out of the client's error texts. */
export interface Connected {
  readonly nc: NatsConnection;
  readonly scrub: (text: string) => string;
  /** The options' timeoutMs (default 10000): connect's, and the channel's setup's. */
  readonly timeoutMs: number;
}

/** Checks the credentials and the options every transport shares, and connects (bounded by the signal). */
export async function connectNats(address: NatsAddress, options: NatsOptions): Promise<Connected> {
  const secrets = await readSecrets(address, options);
  const scrub = scrubber(secrets.values);
  // The rules every transport shares (options.ts): the same mistake, the same ValidationError.
  checkAccess(options.access);
  checkTimeout(options.ackTimeoutMs, 'ackTimeoutMs');
  const timeoutMs = checkTimeout(options.timeoutMs) ?? 10_000;
  try {
    const connecting = connect(connectOptions(address, options, secrets));
    // The client's own timeout (timeoutMs) ends a connect; an abort does not, so a late connection is closed.
    connecting.then(
      (late) => (options.signal?.aborted ? late.close() : undefined),
      () => {},
    );
    const nc = await bounded(
      connecting,
      options.signal === undefined ? {} : { signal: options.signal },
      `connect to ${address.url}`,
    );
    return { nc, scrub, timeoutMs };
  } catch (error) {
    if (error instanceof ValidationError || error instanceof AbortError || error instanceof TimeoutError) throw error;
    throw connectError(address, error, scrub, timeoutMs);
  }
}
