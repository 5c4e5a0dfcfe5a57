/**
 * Sizes of the stress run. Full sizes by default; bounded ones when `CI=true`, so CI finishes the
 * whole run in a few minutes. Each can be set on its own with an environment variable.
 */
const ci = process.env.CI === 'true';

function size(variable: string, full: number, bounded: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return ci ? bounded : full;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${variable}: expected a positive integer, got ${raw}`);
  return value;
}

/** The sizes in force for this run. */
export const sizes = {
  /** Whether the bounded (CI) sizes are in force for variables not set explicitly. */
  bounded: ci,
  /** Producer processes of the load test. */
  producers: size('STRESS_PRODUCERS', 4, 4),
  /** Samples each load producer sends. */
  samples: size('STRESS_SAMPLES', 250_000, 2_000),
  /** Kill rounds per transport. */
  faultRounds: size('STRESS_FAULT_ROUNDS', 50, 4),
  /** Samples each producer of a fault round sends. */
  faultSamples: size('STRESS_FAULT_SAMPLES', 1_000, 500),
  /** Open/close cycles per transport. */
  cycles: size('STRESS_CYCLES', 10_000, 1_000),
  /** Random cases per property. */
  propertyRuns: size('STRESS_PROPERTY_RUNS', 2_000, 200),
  /** Garbage messages a foreign writer sends per transport. */
  garbage: size('STRESS_GARBAGE', 1_000, 100),
} as const;
