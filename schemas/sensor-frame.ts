/** A packed sensor frame: a name, a status, and a fixed array of readings. */
import { array, char, enumOf, f32, type Infer, i16, struct, u8, u32, u64 } from '../src/index.js';

/** One reading of a sensor channel. */
export const Reading = struct(
  'reading',
  { channel: u8, status: enumOf(u8, { OK: 0, SATURATED: 1, FAULT: 2 }), raw: i16, value: f32 },
  { pack: 1 },
);

/** `#pragma pack(1)` frame: no padding anywhere, as sent by a microcontroller over a serial bridge. */
export const SensorFrame = struct(
  'sensor_frame',
  { sequence: u32, timestamp: u64, name: char(16), count: u8, readings: array(Reading, 8) },
  { pack: 1 },
);
/** A sensor frame value. */
export type SensorFrame = Infer<typeof SensorFrame>;
