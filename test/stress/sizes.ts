/**
 * Sizes of the stress run. Full sizes by default; bounded ones when `CI=true`, so CI finishes the
 * whole run in a few minutes. Each can be set on its own with an environment variable.
 */
const ci = process.env.CI === 'true';

/** Whether every size is at its full value (only such a run may write the README's table). */
let allFull = true;

function size(variable: string, full: number, bounded: number): number {
  const raw = process.env[variable];
  const value = raw === undefined || raw === '' ? (ci ? bounded : full) : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${variable}: expected a positive integer, got ${raw}`);
  if (value < full) allFull = false;
  return value;
}

/**
 * Seeds of the fault rounds: `STRESS_SEEDS` (comma-separated) replays given ones; otherwise CI runs a
 * fixed set (the same rounds every time) plus one random seed, and a full run one random seed.
 */
function seeds(): readonly number[] {
  // Fixed once per run by the global setup, so that every test file of the run draws the same one.
  const random = Number(process.env.STRESS_RANDOM_SEED ?? Date.now() % 1_000_000);
  const raw = process.env.STRESS_SEEDS ?? process.env.STRESS_SEED;
  if (raw === undefined || raw === '') return ci ? [1, 2, 471033, random] : [random];
  return raw.split(',').map((text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new Error(`STRESS_SEEDS: expected integers >= 0, got ${raw}`);
    return value;
  });
}

/** The sizes in force for this run. */
export const sizes = {
  /** Whether the bounded (CI) sizes are in force for variables not set explicitly. */
  bounded: ci,
  /** Producer processes of the load test. */
  producers: size('STRESS_PRODUCERS', 4, 4),
  /** Samples each load producer sends. */
  samples: size('STRESS_SAMPLES', 250_000, 2_000),
  /** Kill rounds per transport and seed (half with producers killed, half with consumers). */
  faultRounds: size('STRESS_FAULT_ROUNDS', 50, 2),
  /** Seeds of the fault rounds. */
  seeds: seeds(),
  /** Samples each producer of a fault round sends. */
  faultSamples: size('STRESS_FAULT_SAMPLES', 1_000, 500),
  /** Open/close cycles per transport. */
  cycles: size('STRESS_CYCLES', 10_000, 1_000),
  /** Random cases per property. */
  propertyRuns: size('STRESS_PROPERTY_RUNS', 2_000, 200),
  /** Garbage messages a foreign writer sends per transport. */
  garbage: size('STRESS_GARBAGE', 1_000, 100),
  /** Whether every size is at least its full value. */
  get full(): boolean {
    return allFull;
  },
} as const;
