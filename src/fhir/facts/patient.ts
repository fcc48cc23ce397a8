/** Patient facts: age on the call's date and administrative sex. */
import { isType } from '../read/resources.js';
import type { FactContext } from './common.js';

export interface PatientFact {
  id: string;
  ageYears: number | undefined;
  sex: 'male' | 'female' | 'other' | 'unknown';
}

function ageYears(birthDate: string | undefined, now: Date): number | undefined {
  if (birthDate === undefined) return undefined;
  const [y, m = 1, d = 1] = birthDate.slice(0, 10).split('-').map(Number);
  if (y === undefined || Number.isNaN(y)) return undefined;
  let age = now.getUTCFullYear() - y;
  const beforeBirthday = now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d);
  if (beforeBirthday) age -= 1;
  // A birth date after the call's date is a data error, not a negative age.
  return age < 0 ? undefined : age;
}

export function extractPatient(ctx: FactContext): PatientFact {
  // The patient key is a read of Patient/{{context.patientId}}; a Patient naming someone else is not used.
  const patients = (ctx.prefetch.byKey.get('patient') ?? []).filter(isType('Patient'));
  const patient = patients.find((p) => p.id === undefined || p.id === ctx.patientId);
  if (patient === undefined && patients.length > 0) {
    ctx.log.add(patients[0]!.ref, 'is not the patient of the call: not used');
  }
  return {
    id: ctx.patientId,
    ageYears: ageYears(patient?.birthDate, ctx.now),
    sex: patient?.gender ?? 'unknown',
  };
}
