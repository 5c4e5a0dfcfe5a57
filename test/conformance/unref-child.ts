/**
 * Child of unref.test.ts: opens a pair of the row named in argv[2], unrefs both ends (`unref()` or
 * `ref: false` per argv[3]), starts a receive and a full-channel send that never complete, and lets
 * the event loop drain. Prints `drained` from beforeExit, where it also releases what it created.
 */
import { Cleanup, onDrained } from '../helpers.js';
import { Rec, rec, refused, row } from './transports.js';

const cleanup = new Cleanup();
const target = row(process.argv[2] ?? '');
const how = process.argv[3];
// With `ref: false` the connect/accept/open waits do not hold the process either: hold it while the pair forms.
const hold = setInterval(() => undefined, 1000);
const { tx, rx } = await target.pair(Rec, (action) => cleanup.add(action), how === 'option' ? { ref: false } : {});
clearInterval(hold);
if (how === 'method') {
  tx.unref();
  rx.unref();
}
void rx.receive().catch(() => undefined);
if (!refused(target.backpressure)) {
  let n = 0;
  while (tx.trySend(rec(n))) n += 1;
  void tx.send(rec(n)).catch(() => undefined);
}
console.log('waiting');
// destroy() ends the waiting receive and send at once, so closing does not wait for room.
onDrained(() => {
  tx.destroy();
  rx.destroy();
  return cleanup.run();
});
