import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Unit tests sit beside the code (src/**/*.spec.ts); e2e suites in test/ start the real app on a
// free port and talk to it with real clients (and a real Redis where the suite needs one).
/**
 * Suites that run after the others, one at a time: the payload suite, whose bound on how long a
 * wide frame may hold the event loop another file's work on the same two cores would stretch (100
 * to 130 ms alone, 270 to 350 ms beside another file, against a bound of 250); and those that
 * stop Redis or kill instances and wait for what follows within a few presence or history
 * intervals, which a busy machine can stretch past their waits.
 */
const ALONE = [
  'test/payloads.e2e-spec.ts',
  'test/presence-cluster.e2e-spec.ts',
  'test/history-cluster.e2e-spec.ts',
  'test/redis-faults.e2e-spec.ts',
];

/**
 * The longest files, by their time in CI: started first, so that the rest of the suite runs
 * beside them rather than after them (on a clean clone Vitest has no timings of its own yet and
 * would start the largest files first). The benchmark's smoke run takes 88 to 101 s beside the
 * others.
 */
const LONGEST = [
  'test/bench-smoke.e2e-spec.ts',
  'test/packaging.e2e-spec.ts',
  'test/console-browser.e2e-spec.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(
    files: TestSpecification[],
  ): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const i = LONGEST.findIndex((path) => file.moduleId.endsWith(path));
      return i === -1 ? LONGEST.length : i;
    };
    // Array.prototype.sort is stable: the others keep Vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    globals: true,
    // Two test files at a time on this 2-core machine (Vitest's default is one fewer worker
    // than cores: one): the e2e suites mostly wait on sockets, Redis and child processes, and
    // two halve the suite's wall time.
    maxWorkers: 2,
    root: './',
    reporters: process.env.CI ? ['default', 'junit'] : ['default'],
    sequence: { sequencer: LongestFirst },
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
