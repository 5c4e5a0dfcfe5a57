/** Example schemas: the measurement sample, a packed sensor frame and a big-endian network header. */
export { NetworkHeader } from './network-header.js';
export { Sample } from './sample.js';
export { Reading, SensorFrame } from './sensor-frame.js';
