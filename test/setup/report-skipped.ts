/**
 * vitest globalSetup: after the run, names the server-backed tests that were skipped and how to enable
 * them (any reporter, including the ones .ci/run passes on the command line).
 */
import { skippedServerTests } from './server-requirements.js';

export default function setup(): () => void {
  return () => {
    const lines = skippedServerTests();
    if (lines.length > 0) process.stderr.write(`\n${lines.join('\n')}\n`);
  };
}
