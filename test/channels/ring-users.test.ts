/**
 * Another local user (uid 65534, real processes) against a 0600 ring of root: it knows the ring id
 * (public: the doorbell directory's name), but whoever cannot open the segment must not be able to
 * take handles, wake, slow or starve the ring's peers. The control: a 0666 ring grants that user,
 * whose C peer then wakes root's sleeping Node consumer like any peer. Scenarios: ring-attacks.ts.
 */
import { afterAll, afterEach, describe, it } from 'vitest';
import { Cleanup } from '../helpers.js';
import { ringAttacks } from './ring-attacks.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const attacks = ringAttacks(cleanup);
afterAll(() => attacks.dispose());

describe('shm ring: a user who cannot open the segment', () => {
  it('cannot take its handles by squatting doorbell names: all 64 stay for the ring’s own peers', () =>
    attacks.squat());
  it('cannot wake or starve its sleeping Node and C consumers by flooding their doorbells', () => attacks.flood());
  it('the control: granted a 0666 ring, the same user is a full peer and wakes root’s sleeping consumer', () =>
    attacks.granted(0o666));
  it('the control: in the group of a 0660 ring, the same user is a full peer too', () => attacks.granted(0o660));
  it('and with the group denied (0600), that group member is refused at open', () => attacks.groupDenied());
});
