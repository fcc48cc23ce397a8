/**
 * The demo FHIR server validates writes against our profiles, as a hospital server would, so every demo
 * record must conform: a bone-quality Observation in the seed is held to the same profile imaging writes.
 */
import { describe, expect, it } from 'vitest';
import { demoPatients, readDemoSeed } from '../../src/demo/seed/index.js';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';

describe('demo seed conformance', () => {
  const validator = getProfileValidator();
  for (const patient of demoPatients()) {
    it(`${patient.id}: every stored resource is valid R4 and conforms to the profiles it claims`, () => {
      const problems = readDemoSeed(patient.id).stored.flatMap((r) =>
        validator
          .validate(r)
          .filter((i) => i.severity === 'error')
          .map((i) => `${r.resourceType}/${r.id ?? '?'} ${i.path}: ${i.message}`),
      );
      expect(problems).toEqual([]);
    });
  }
});
