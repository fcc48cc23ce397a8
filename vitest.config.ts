import os from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test files that need a fresh module graph each: they start child processes or a browser, build the
 * Docker stages, or check the whole composed service's routes; everything else shares one module graph
 * per worker (`isolate: false`), which spares re-importing the knowledge base, zod schemas and the
 * embedded FHIR server's definitions for every file: about half the suite's time on 2 cores.
 */
const ISOLATED = [
  'test/browser/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/docker/**/*.test.ts',
  'test/setup/**/*.test.ts',
  'test/api-docs/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker per core minus one: a single worker on a 2-core CI machine, which
    // leaves the second core idle while tests wait on the processes and servers they start (the service,
    // Orthanc, PostgreSQL, npm). Two or more workers halve the wall time there.
    maxWorkers: Math.max(2, os.availableParallelism()),
    tags: [
      {
        name: 'slow',
        description:
          'minutes, not seconds (e.g. rebuilding the Dockerfile stages); runs in npm test and CI, leave out with --tags-filter=!slow',
      },
    ],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: ISOLATED,
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'isolated',
          include: ISOLATED,
          // Names the server-backed tests that were skipped (no Orthanc, no TEST_DATABASE_URL, no Chromium).
          globalSetup: ['test/setup/report-skipped.ts'],
        },
      },
    ],
  },
});
