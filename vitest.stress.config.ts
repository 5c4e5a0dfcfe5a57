import { defineConfig } from 'vitest/config';

// The stress suite (`npm run test:stress`): load, faults, bad input, resources and security per
// transport. Separate from `npm test` so the main suite stays fast; sizes come from test/stress/sizes.ts.
export default defineConfig({
  test: {
    include: ['test/stress/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts', 'test/stress/global-setup.ts'],
    pool: 'forks',
    // Load and fault tests start many processes each; two files at once already fill two cores.
    maxWorkers: 1,
    execArgv: ['--expose-gc'],
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json', './test/stress/figures-reporter.ts'],
    outputFile: { json: '.vitest-stress-results.json' },
  },
});
