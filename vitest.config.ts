import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker per core minus one: a single worker on a 2-core CI machine, which
    // leaves the second core idle while tests wait on the processes and servers they start (the service,
    // Orthanc, PostgreSQL, npm). Two or more workers halve the wall time there.
    maxWorkers: Math.max(2, os.availableParallelism()),
    // Names the server-backed tests that were skipped (no Orthanc, no TEST_DATABASE_URL, no Chromium).
    globalSetup: ['test/setup/report-skipped.ts'],
    tags: [
      {
        name: 'slow',
        description:
          'minutes, not seconds (e.g. rebuilding the Dockerfile stages); runs in npm test and CI, leave out with --tags-filter=!slow',
      },
    ],
  },
});
