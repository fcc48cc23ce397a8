import { afterEach, describe, expect, it } from 'vitest';
import { skippedServerTests } from './server-requirements.js';

describe('skipped server-backed tests are named with the way to enable them', () => {
  const saved = process.env.TEST_DATABASE_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.TEST_DATABASE_URL;
    else process.env.TEST_DATABASE_URL = saved;
  });

  it('PostgreSQL: listed without TEST_DATABASE_URL, not with it', () => {
    delete process.env.TEST_DATABASE_URL;
    expect(skippedServerTests()).toContainEqual(
      expect.stringMatching(/^skipped: PostgreSQL store tests .*: set TEST_DATABASE_URL=postgres:\/\//),
    );
    process.env.TEST_DATABASE_URL = 'postgres://u@127.0.0.1:1/db';
    expect(skippedServerTests().join('\n')).not.toContain('PostgreSQL');
  });
});
