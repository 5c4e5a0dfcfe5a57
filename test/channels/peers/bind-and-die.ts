/**
 * Binds a unix+dgram address (or listens on a unix+seqpacket one) and exits without closing, which
 * leaves its socket file behind; exits 3 with the error message if the address is taken.
 */
import { bind, listen } from '../../../src/channels/index.js';
import { Sample } from '../sample.js';

const url = process.argv[2] ?? '';
try {
  await (url.startsWith('unix+seqpacket:') ? listen(url, Sample) : bind(url, Sample));
  process.exit(0);
} catch (error) {
  process.stdout.write(`${(error as Error).message}\n`);
  process.exit(3);
}
