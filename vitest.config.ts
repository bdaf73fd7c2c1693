import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code (src/**/*.spec.ts); e2e suites in test/ start the real app on a
// free port and talk to it with real clients (and a real Redis where the suite needs one).
/**
 * Suites that run after the others, one at a time: the benchmark's smoke run, which keeps both
 * cores busy; the payload suite, whose bound on how long a wide frame may hold the event loop
 * another file's work on the same two cores would stretch (100 to 130 ms alone, 270 to 350 ms
 * beside another file, against a bound of 250); and those that stop Redis or kill instances and
 * wait for what follows within a few presence or history intervals, which a busy machine can
 * stretch past their waits.
 */
const ALONE = [
  'test/bench-smoke.e2e-spec.ts',
  'test/payloads.e2e-spec.ts',
  'test/presence-cluster.e2e-spec.ts',
  'test/history-cluster.e2e-spec.ts',
  'test/redis-faults.e2e-spec.ts',
];

export default defineConfig({
  test: {
    globals: true,
    // Two test files at a time on this 2-core machine (Vitest's default is one fewer worker
    // than cores: one): the e2e suites mostly wait on sockets, Redis and child processes, and
    // two halve the suite's wall time.
    maxWorkers: 2,
    root: './',
    reporters: process.env.CI ? ['default', 'junit'] : ['default'],
    outputFile: { junit: './test-results/junit.xml' },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.spec.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e-spec.ts'],
          exclude: ALONE,
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e-alone',
          include: ALONE,
          testTimeout: 20_000,
          hookTimeout: 20_000,
          // After the others, one file at a time: see ALONE.
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
