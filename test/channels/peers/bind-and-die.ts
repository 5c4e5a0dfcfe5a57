/** Binds a unix+dgram address and exits without closing: leaves its socket file behind (or fails if the address is live). */
import { bind } from '../../../src/channels/index.js';
import { Sample } from '../sample.js';

const url = process.argv[2] ?? '';
try {
  await bind(url, Sample);
  process.exit(0);
} catch (error) {
  process.stdout.write(`${(error as Error).message}\n`);
  process.exit(3);
}
