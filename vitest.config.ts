import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

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

/**
 * Started before everything else, longest first. On a clean clone vitest has no timings yet and starts
 * the largest files first; these are the ones whose wall time is the suite's critical path (the Dockerfile
 * stage test waits on `npm ci` and `tsc`, the browser tests on Chromium), then the other files that take
 * 20 to 30 s (a build and `npm link`, SUSHI, Orthanc, many CLI processes). Started last, any of them would
 * end the run well after every other file (in one clean-clone run the README example and the profile drift
 * test started at 231 s of 264).
 */
const FIRST = [
  'test/docker/dockerfile.test.ts',
  'test/browser/ohif-radiology.test.ts',
  'test/browser/care-team.test.ts',
  'test/e2e/process.test.ts',
  'test/imaging/readme-example.test.ts',
  'test/pacs-watch/watcher.test.ts',
  'test/console/console.test.ts',
  'test/ehr/tools.test.ts',
  'test/profiles/drift.test.ts',
];

// A renamed or removed file would silently lose its place at the front of the run.
for (const file of FIRST) {
  if (!fs.existsSync(path.join(import.meta.dirname, file))) {
    throw new Error(`vitest.config.ts: ${file} (in FIRST) does not exist`);
  }
}

class CriticalPathFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const i = FIRST.indexOf(
        path
          .relative(import.meta.dirname, spec.moduleId)
          .split(path.sep)
          .join('/'),
      );
      return i === -1 ? FIRST.length : i;
    };
    // Array.prototype.sort is stable: every other file keeps vitest's own order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker per core minus one: a single worker on a 2-core CI machine, which
    // leaves the second core idle while tests wait on the processes and servers they start (the service,
    // Orthanc, PostgreSQL, npm). One worker more than there are cores: the Dockerfile stage test holds a
    // worker for minutes while only its child processes (npm ci, tsc) work, and with two workers it and
    // one browser test left a single worker for the other ninety files.
    maxWorkers: Math.max(3, os.availableParallelism() + 1),
    sequence: { sequencer: CriticalPathFirst },
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
