import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    tags: [
      {
        name: 'slow',
        description:
          'minutes, not seconds (e.g. rebuilding the Dockerfile stages); runs in npm test and CI, leave out with --tags-filter=!slow',
      },
    ],
  },
});
