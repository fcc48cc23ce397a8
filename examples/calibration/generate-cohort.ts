/**
 * Writes the synthetic example cohort `cohort.csv` (seeded: running it again gives the same file).
 *
 *   npx tsx examples/calibration/generate-cohort.ts [out.csv]
 *
 * A made-up hospital with two 3 T scanners and one 1.5 T scanner; VBQ of patients without osteoporosis
 * on DXA ~ N(2.6, 0.45) at 3 T and ~ N(3.1, 0.45) at 1.5 T (1.5 T scores run about 0.5 higher), of
 * patients with osteoporosis 0.6 higher. True AUC 0.827 in every stratum; true Youden-optimal cutoffs
 * 2.90 at 3 T and 3.40 at 1.5 T. A handful of scores with no recorded field strength show a refusal.
 * No real patient is in it.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cohortToCsv, syntheticCohort } from '../../src/calibration/synthetic.js';

export const EXAMPLE_SEED = 20_261_201;

export function exampleCohortCsv(): string {
  const rows = syntheticCohort({
    seed: EXAMPLE_SEED,
    metric: 'vbq-l1-l4',
    outcome: 'osteoporosis-dxa',
    start: '2024-01-08',
    spanDays: 700,
    maxGapDays: 180,
    patientPrefix: 'EXAMPLE',
    strata: [
      {
        fieldStrengthT: 1.5,
        scanner: 'Siemens MAGNETOM Aera',
        events: 90,
        nonEvents: 210,
        mu0: 3.1,
        s0: 0.45,
        mu1: 3.7,
        s1: 0.45,
      },
      {
        fieldStrengthT: 3,
        scanner: 'Siemens MAGNETOM Skyra',
        events: 60,
        nonEvents: 140,
        mu0: 2.6,
        s0: 0.45,
        mu1: 3.2,
        s1: 0.45,
      },
      {
        fieldStrengthT: 3,
        scanner: 'GE Discovery MR750',
        events: 60,
        nonEvents: 140,
        mu0: 2.6,
        s0: 0.45,
        mu1: 3.2,
        s1: 0.45,
      },
      {
        fieldStrengthT: 3,
        scanner: 'Philips Ingenia',
        events: 12,
        nonEvents: 30,
        mu0: 2.6,
        s0: 0.45,
        mu1: 3.2,
        s1: 0.45,
      },
      { fieldStrengthT: null, scanner: null, events: 4, nonEvents: 9, mu0: 2.8, s0: 0.5, mu1: 3.4, s1: 0.5 },
    ],
  });
  return cohortToCsv(rows);
}

const invoked =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename);
if (invoked) {
  const out = process.argv[2] ?? path.join(import.meta.dirname, 'cohort.csv');
  writeFileSync(out, exampleCohortCsv());
  process.stdout.write(`wrote ${out}\n`);
}
