/**
 * What the imaging API asks the write-back outbox to do for a measurement: one Observation per valid
 * metric (subject by DICOM PatientID, resolved by the writer) and, for PACS studies, our measurement SR.
 */
import type { WritebackOutbox } from '../writeback/outbox-worker.js';
import type { MeasurementResult, Metric } from './measurement.js';
import { buildObservation, effectiveDateTime, measurementIdentifier } from './observations.js';
import { writeMeasurementSr } from './sr-writer.js';
import type { StudyMeasurement } from './vbq.js';
import { keyedUidGenerator } from './uids.js';

/** One Observation write requested for a valid result: queued, or refused with a reason. */
export interface WriteEntry {
  metric: Metric;
  status: 'queued' | 'already-queued' | 'refused';
  /** Outbox item id (poll the store / metrics for its progress). */
  outboxId?: number;
  identifier?: { system: string; value: string };
  /** Why the write was refused: `no-effective-date` or `no-patient-id`. */
  reason?: { code: 'no-effective-date' | 'no-patient-id'; message: string };
}

export interface SrWriteEntry {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  status: 'queued' | 'already-queued';
  outboxId: number;
}

/**
 * Queues one Observation per valid result, subject = the DICOM PatientID as a Patient identifier (the
 * writer resolves it). A result without a date or a PatientID cannot become a conforming Observation: its
 * write is refused with a reason instead.
 */
export async function enqueueObservations(
  writeback: Pick<WritebackOutbox, 'enqueueObservation'>,
  results: MeasurementResult[],
  opts: { patientIdentifierSystem: string; defaultTimezone?: string | undefined },
): Promise<WriteEntry[]> {
  const out: WriteEntry[] = [];
  for (const r of results.filter((x) => x.validity.valid && x.value !== null)) {
    const identifier = measurementIdentifier(r);
    const refuse = (reason: NonNullable<WriteEntry['reason']>) =>
      out.push({ metric: r.metric, status: 'refused', identifier, reason });
    if (!effectiveDateTime(r, opts.defaultTimezone)) {
      refuse({
        code: 'no-effective-date',
        message:
          'the images carry no acquisition, series or study date; the Observation profile requires effectiveDateTime',
      });
      continue;
    }
    const pid = r.patient.dicomPatientId;
    if (!pid) {
      refuse({ code: 'no-patient-id', message: 'the images carry no PatientID to find the FHIR Patient by' });
      continue;
    }
    // Subject by identifier: the outbox writer resolves it to the FHIR Patient at write time.
    const obs = buildObservation(r, {
      patientReference: { identifier: { system: opts.patientIdentifierSystem, value: pid } },
      ...(opts.defaultTimezone ? { defaultTimezone: opts.defaultTimezone } : {}),
    });
    const queued = await writeback.enqueueObservation(obs);
    out.push({
      metric: r.metric,
      status: queued.created ? 'queued' : 'already-queued',
      outboxId: queued.id,
      identifier,
    });
  }
  return out;
}

/**
 * Writes our measurement SR for a study and queues it for STOW-RS to the PACS. Its UIDs are derived from
 * the first valid result's measurement identifier: the same ROI report always yields the same SR, so a
 * re-run is deduplicated in the outbox and the PACS keeps a single copy.
 */
export async function enqueueMeasurementSr(
  writeback: Pick<WritebackOutbox, 'enqueueDicomSr'>,
  study: StudyMeasurement,
  firstValid: MeasurementResult,
  opts: { pacsBaseUrl: string; now: Date },
): Promise<SrWriteEntry> {
  const sr = writeMeasurementSr({
    ...study,
    uid: keyedUidGenerator(`${measurementIdentifier(firstValid).value}|sr`),
    now: opts.now,
  });
  const queued = await writeback.enqueueDicomSr({
    baseUrl: opts.pacsBaseUrl,
    studyInstanceUID: sr.studyInstanceUID,
    sopInstanceUID: sr.sopInstanceUID,
    buffer: sr.buffer,
  });
  return {
    sopInstanceUID: sr.sopInstanceUID,
    seriesInstanceUID: sr.seriesInstanceUID,
    status: queued.created ? 'queued' : 'already-queued',
    outboxId: queued.id,
  };
}
