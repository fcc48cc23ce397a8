/** The imaging API's 422 answer: every refusal reason of every refused metric, coded. */
import type { Response } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { ERROR_CODE_SYSTEM } from '../errors.js';
import type { MeasurementResult } from './measurement.js';

/** System of the coded refusal reasons carried in a 422 OperationOutcome (codes: `RefusalCode`). */
export const REFUSAL_REASON_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/vbq-refusal-reason';

/** The 422 body: one issue per refusal reason of each refused metric, carrying the coded reason. */
export function refusalOutcome(results: MeasurementResult[]): OperationOutcome {
  const issue: OperationOutcome['issue'] = results.flatMap((r) =>
    r.validity.reasons.map((reason) => ({
      severity: 'error' as const,
      code: 'business-rule' as const,
      details: {
        coding: [
          { system: ERROR_CODE_SYSTEM, code: 'measurement-refused' },
          { system: REFUSAL_REASON_SYSTEM, code: reason.code },
        ],
        text: `${r.metric}: ${reason.message}`,
      },
      diagnostics: `${r.metric} refused (${reason.code}): ${reason.message}`,
      expression: [r.metric],
    })),
  );
  if (issue.length === 0) {
    issue.push({
      severity: 'error',
      code: 'business-rule',
      details: {
        coding: [{ system: ERROR_CODE_SYSTEM, code: 'measurement-refused' }],
        text: 'no metric could be measured from these ROIs',
      },
      diagnostics: 'no metric could be measured from these ROIs',
    });
  }
  return { resourceType: 'OperationOutcome', issue };
}

export function sendRefused(res: Response, results: MeasurementResult[]): void {
  res
    .status(422)
    .type('application/fhir+json')
    .send(JSON.stringify(refusalOutcome(results)));
}
