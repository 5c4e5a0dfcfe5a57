/**
 * `nats://[user[:password]@]host[:port][,host[:port]…]/subject[?stream=S&durable=D&queue=Q]` URLs.
 * Credentials in the URL are taken out at once: the URL the channel keeps and shows is the one without them.
 */
import { ValidationError } from '../../errors.js';

/** A parsed `nats://` URL. */
export interface NatsAddress {
  readonly scheme: 'nats';
  /** The URL without credentials: what errors, logs and `info()` show. */
  readonly url: string;
  /** Seed servers as `host:port` (IPv6 hosts in brackets). */
  readonly servers: readonly string[];
  /** Subject to publish to, or to subscribe to (wildcards `*` and `>` allowed on receive). */
  readonly subject: string;
  /** JetStream stream, durable consumer and core queue group given in the query. */
  readonly stream?: string;
  readonly durable?: string;
  readonly queue?: string;
  /** `user:password@` or `token@` from the URL; never part of `url`. */
  readonly credentials?: { readonly user: string; readonly pass: string } | { readonly token: string };
}

/** The default port of nats-server. */
export const NATS_DEFAULT_PORT = 4222;

const FORM = 'nats://host:port/subject (optionally user:password@ or token@, several host:port joined by ",")';

function bad(shown: string, expected: string, problem?: string): never {
  const message = problem === undefined ? undefined : { message: `url ${shown}: ${problem}; expected ${expected}` };
  throw new ValidationError('url', expected, shown, message);
}

/**
 * Checks a NATS subject: dot-separated non-empty tokens without whitespace; with `wildcards`, a token
 * may be `*` and the last one `>`. Returns it.
 */
export function checkSubject(subject: string, wildcards: boolean, what = 'subject'): string {
  const expected = wildcards
    ? 'a NATS subject: dot-separated tokens without spaces, `*` for one token, `>` as the last token'
    : 'a NATS subject without wildcards (`*`, `>`): publishing goes to one subject';
  const tokens = subject.split('.');
  for (const [i, token] of tokens.entries()) {
    const problem =
      token.length === 0
        ? 'it has an empty token'
        : /[\s\0]/.test(token)
          ? 'it holds whitespace or NUL'
          : (token === '*' || token === '>') && !wildcards
            ? `it holds the wildcard ${token}`
            : token === '>' && i !== tokens.length - 1
              ? '`>` is allowed only as the last token'
              : token !== '*' && token !== '>' && /[*>]/.test(token)
                ? `token ${JSON.stringify(token)} mixes a wildcard with other characters`
                : undefined;
    if (problem !== undefined) {
      throw new ValidationError(what, expected, JSON.stringify(subject), {
        message: `${what} ${JSON.stringify(subject)}: ${problem}; expected ${expected}`,
      });
    }
  }
  return subject;
}

/** Whether a subject holds a wildcard token. */
export function hasWildcard(subject: string): boolean {
  return subject.split('.').some((token) => token === '*' || token === '>');
}

/** Checks a stream, consumer or queue-group name (no whitespace, dots, wildcards or path characters). */
export function checkName(what: string, name: string): string {
  if (typeof name !== 'string' || !/^[^\s.*>/\\]+$/.test(name)) {
    throw new ValidationError(
      what,
      'a name without whitespace, ".", "*", ">", "/" or "\\"',
      typeof name === 'string' ? JSON.stringify(name) : String(name),
    );
  }
  return name;
}

function parseServer(shown: string, part: string): string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]@,]+))(?::(\d{1,5}))?$/.exec(part);
  const port = match?.[3] === undefined ? NATS_DEFAULT_PORT : Number(match[3]);
  if (match === null || !(port >= 1 && port <= 65535)) bad(shown, FORM, `bad server ${JSON.stringify(part)}`);
  const host = match[1] === undefined ? match[2] : `[${match[1]}]`;
  return `${host}:${port}`;
}

/** Parses a `nats://` URL; throws ValidationError naming what was expected (never showing a password). */
export function parseNatsUrl(url: string): NatsAddress {
  const match = /^nats:\/\/(?:([^@/?#]*)@)?([^/?#]*)\/([^?#]*)(?:\?([^#]*))?$/.exec(url);
  // Show the URL with any credentials blanked out, even in the error about a malformed one.
  const shown = JSON.stringify(url.replace(/^(nats:\/\/)[^@/?#]*@/, '$1***@'));
  if (match === null) bad(shown, FORM, 'not of that form');
  const [, userinfo, authority = '', rawSubject = '', query] = match;
  if (authority.length === 0) bad(shown, FORM, 'no server');
  const servers = authority.split(',').map((part) => parseServer(shown, part));
  let subject: string;
  try {
    subject = decodeURIComponent(rawSubject);
  } catch {
    bad(shown, FORM, 'the subject is not valid percent-encoding');
  }
  if (subject.length === 0) bad(shown, FORM, 'no subject');
  checkSubject(subject, true);
  const extra: { stream?: string; durable?: string; queue?: string } = {};
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    if (key !== 'stream' && key !== 'durable' && key !== 'queue') {
      bad(shown, `${FORM} with query keys stream, durable, queue`, `unknown query key ${JSON.stringify(key)}`);
    }
    extra[key] = checkName(key, value);
  }
  let credentials: NatsAddress['credentials'];
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const decode = (s: string) => decodeURIComponent(s);
    credentials =
      colon < 0
        ? { token: decode(userinfo) }
        : { user: decode(userinfo.slice(0, colon)), pass: decode(userinfo.slice(colon + 1)) };
  }
  const search = query === undefined || query.length === 0 ? '' : `?${query}`;
  const clean = `nats://${authority}/${rawSubject}${search}`;
  return {
    scheme: 'nats',
    url: clean,
    servers,
    subject,
    ...extra,
    ...(credentials === undefined ? {} : { credentials }),
  };
}
