import { statSync } from 'node:fs';
import { bind, listen } from '../src/index.js';
import { Sample } from '../test/stress/sample.js';
console.log('umask', process.umask().toString(8));
for (const [u, f] of [['unix+dgram:/tmp/tipc-stress/m1', bind], ['unix+seqpacket:/tmp/tipc-stress/m2', listen], ['unix+stream:/tmp/tipc-stress/m3', listen]] as const) {
  const c = await (f as typeof bind)(u, Sample, { mode: 0o666 });
  console.log(u, (statSync(u.slice(u.indexOf(':') + 1)).mode & 0o777).toString(8));
  await c.close();
}
