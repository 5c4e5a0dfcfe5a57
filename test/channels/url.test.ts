import { describe, expect, it } from 'vitest';
import { parseUrl } from '../../src/channels/url.js';
import { ValidationError } from '../../src/errors.js';

describe('parseUrl', () => {
  it.each([
    ['mq:/samples', { scheme: 'mq', name: '/samples' }],
    ['shm:/ring', { scheme: 'shm', name: '/ring' }],
    ['fifo:/tmp/f', { scheme: 'fifo', path: '/tmp/f' }],
    ['unix+dgram:/tmp/d.sock', { scheme: 'unix+dgram', path: '/tmp/d.sock', abstract: false }],
    ['unix+seqpacket:@svc', { scheme: 'unix+seqpacket', path: 'svc', abstract: true }],
    ['unix+stream:/run/s', { scheme: 'unix+stream', path: '/run/s', abstract: false }],
    ['udp://127.0.0.1:9000', { scheme: 'udp', host: '127.0.0.1', port: 9000 }],
    ['tcp://[::1]:80', { scheme: 'tcp', host: '::1', port: 80 }],
    ['tcp://localhost:0', { scheme: 'tcp', host: 'localhost', port: 0 }],
  ])('parses %s', (url, expected) => {
    expect(parseUrl(url)).toEqual({ url, ...expected });
  });

  it.each([
    ['http://x', 'a URL with one of the schemes'],
    ['samples', 'a URL with one of the schemes'],
    ['mq:samples', 'mq:/name (a name with a leading slash)'],
    ['unix+dgram:', 'unix+dgram:/path or unix+dgram:@abstract-name'],
    ['unix+stream:@', 'unix+stream:/path or unix+stream:@abstract-name'],
    ['udp://127.0.0.1', 'udp://host:port'],
    ['tcp://[::1]:70000', 'tcp://host:port'],
    ['shm:/a\0b', 'a name or path without NUL characters'],
    ['fifo:/tmp/a\0b', 'a name or path without NUL characters'],
  ])('refuses %j with a ValidationError naming what was expected', (url, expected) => {
    let error: unknown;
    try {
      parseUrl(url);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).path).toBe('url');
    expect((error as ValidationError).expected).toContain(expected);
    expect((error as ValidationError).message).toContain(JSON.stringify(url));
  });
});
