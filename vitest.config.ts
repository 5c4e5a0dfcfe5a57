import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The stress suite has its own config and script (`npm run test:stress`).
    exclude: [...configDefaults.exclude, 'test/stress/**'],
    // Tests talk to real kernel objects and real child processes; keep them in separate processes.
    pool: 'forks',
    // Run tag, private TMPDIR and the end-of-run leak check.
    globalSetup: ['test/global-setup.ts'],
    // Guards, not measures: on a loaded shared machine a child process may take tens of seconds to start.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
