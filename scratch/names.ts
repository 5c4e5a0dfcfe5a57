import { open, listen, bind, connect } from '../src/index.js';
import { Sample } from '../test/stress/sample.js';
const urls = ['mq:/a/b', 'mq:/..', 'mq:/', `mq:/${'a'.repeat(256)}`, `mq:/${'a'.repeat(255)}`, 'shm:/../etc/passwd', 'shm:/a/../../x', 'shm:/..', `shm:/${'a'.repeat(256)}`, 'shm:/a\0b'];
for (const u of urls) {
  try { const c = await open(u, Sample, { create: true, capacity: 1 }); console.log('OPENED', u.slice(0, 40)); await c.close(); }
  catch (e) { console.log(u.slice(0, 40), '->', (e as Error).name, (e as any).code, (e as Error).message.slice(0, 150)); }
}
for (const u of [`unix+seqpacket:/tmp/${'a'.repeat(120)}`, `unix+stream:/tmp/${'a'.repeat(120)}`, `unix+dgram:/tmp/${'a'.repeat(120)}`, `unix+stream:@${'a'.repeat(120)}`, 'unix+stream:relative/x', 'unix+dgram:/tmp/a\0b']) {
  try { const c = u.startsWith('unix+dgram') ? await bind(u, Sample) : await listen(u, Sample); console.log('OPENED', u.slice(0, 40)); await c.close(); }
  catch (e) { console.log(u.slice(0, 40), '->', (e as Error).name, (e as any).code, (e as Error).message.slice(0, 150)); }
}
