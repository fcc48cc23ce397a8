/**
 * Server-backed tests and what they need. Without the server, those tests skip locally (under CI they
 * fail instead); this list lets `npm test` say so, with the way to enable them, rather than skip silently.
 */
import fs from 'node:fs';
import path from 'node:path';
import { findOrthanc } from '../helpers/orthanc.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ServerRequirement {
  /** What is skipped. */
  tests: string;
  /** Whether the suite has such tests at all. */
  applies(): boolean;
  available(): boolean;
  /** How to enable them. */
  enable: string;
}

export const SERVER_REQUIREMENTS: ServerRequirement[] = [
  {
    tests: 'Orthanc tests (test/imaging/dicomweb.test.ts, test/imaging-api/orthanc.test.ts)',
    applies: () => true,
    available: () => findOrthanc() !== undefined,
    enable: 'install orthanc orthanc-dicomweb orthanc-gdcm (Debian), or run .ci/run',
  },
  {
    tests: 'PostgreSQL store tests (every store-backed test runs on SQLite only)',
    applies: () => true,
    available: () => !!process.env.TEST_DATABASE_URL,
    enable:
      'set TEST_DATABASE_URL=postgres://user@127.0.0.1:5432/db (a throw-away database; each test file uses its own schema), or run .ci/run',
  },
  {
    tests: 'browser tests (real Chromium)',
    applies: () => fs.existsSync(path.join(ROOT, 'test/helpers/browser.ts')),
    available: () => fs.existsSync(process.env.CHROMIUM_PATH || '/usr/bin/chromium'),
    enable: 'install chromium fonts-dejavu-core (Debian), or run .ci/run',
  },
];

/** One line per group of tests skipped for want of a server, e.g. "skipped: Orthanc tests (install ...)". */
export function skippedServerTests(): string[] {
  return SERVER_REQUIREMENTS.filter((r) => r.applies() && !r.available()).map(
    (r) => `skipped: ${r.tests}: ${r.enable}`,
  );
}
