/**
 * Durable write-back of our measurement SR to the PACS: a second outbox kind next to the FHIR
 * Observations, processed by the same worker. The SR's UIDs are derived from the measurement, so the
 * outbox dedupe key (its SOPInstanceUID) keeps a re-run from queueing or storing a second copy.
 */
import { z } from 'zod';
import { AppError } from '../errors.js';
import { storeInstances } from '../dicomweb/client.js';
import { WriteError } from './observation-writer.js';
import type { OutboxHandler } from './outbox-worker.js';

/** Outbox `kind` of DICOM SR STOW-RS writes. */
export const DICOM_SR_OUTBOX_KIND = 'dicom-sr';

const UID = /^[0-9]+(\.[0-9]+)*$/;

const payloadSchema = z.object({
  /** DICOMweb root of the target PACS (DICOMWEB_BASE_URL at the time of queueing). */
  baseUrl: z.string().url(),
  studyInstanceUID: z.string().regex(UID),
  sopInstanceUID: z.string().regex(UID),
  /** The Part-10 SR file, base64. */
  dicom: z.string().min(1),
});

/** What a `dicom-sr` outbox item carries. */
export type DicomSrPayload = z.infer<typeof payloadSchema>;

/** The outbox dedupe key of an SR: one queued write per SOPInstanceUID. */
export function dicomSrDedupeKey(sopInstanceUID: string): string {
  return `${DICOM_SR_OUTBOX_KIND}:${sopInstanceUID}`;
}

/** An SR to store: the target PACS, its UIDs and the Part-10 file. */
export interface DicomSrInput {
  baseUrl: string;
  studyInstanceUID: string;
  sopInstanceUID: string;
  buffer: Uint8Array;
}

/** Builds the outbox payload for an SR file. */
export function dicomSrPayload(input: DicomSrInput): DicomSrPayload {
  return {
    baseUrl: input.baseUrl,
    studyInstanceUID: input.studyInstanceUID,
    sopInstanceUID: input.sopInstanceUID,
    dicom: Buffer.from(input.buffer.buffer, input.buffer.byteOffset, input.buffer.byteLength).toString(
      'base64',
    ),
  };
}

export interface DicomSrHandlerOptions {
  fetchImpl?: typeof fetch;
  /** Per STOW-RS request; the outbox lease cuts an attempt off earlier if it is shorter. */
  timeoutMs?: number;
}

/** Statuses that will not change by retrying: the PACS refuses this SR (408 and 429 are transient). */
function isPermanentStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The outbox handler for `dicom-sr` items: STOW-RS of the SR to the payload's PACS. Network failures, 5xx,
 * 408 and 429 are retried (the outbox backs off); other 4xx and malformed payloads are permanent.
 * Resolves `{ sopInstanceUID, stored }`.
 */
export function createDicomSrHandler(options: DicomSrHandlerOptions = {}): OutboxHandler {
  const baseFetch = options.fetchImpl ?? fetch;
  return async (payload: unknown, signal: AbortSignal) => {
    const parsed = payloadSchema.safeParse(payload);
    if (!parsed.success) {
      throw new WriteError('invalid-observation', 'malformed dicom-sr outbox payload', false);
    }
    const p = parsed.data;
    let lastStatus: number | undefined;
    // The outbox's lease signal is combined with the client's own timeout, and the status is kept so the
    // failure can be classified (the DICOMweb client reports every non-404 failure alike).
    const fetchImpl: typeof fetch = async (input, init) => {
      const signals = [signal, ...(init?.signal ? [init.signal] : [])];
      const res = await baseFetch(input, { ...init, signal: AbortSignal.any(signals) });
      lastStatus = res.status;
      return res;
    };
    try {
      const result = await storeInstances(
        {
          baseUrl: p.baseUrl,
          fetchImpl,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        },
        [new Uint8Array(Buffer.from(p.dicom, 'base64'))],
      );
      return { sopInstanceUID: p.sopInstanceUID, stored: result.stored.length };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (lastStatus === undefined) {
        throw new WriteError('network', `PACS unreachable for STOW-RS (${err.message})`, true);
      }
      if (lastStatus >= 200 && lastStatus < 300) {
        // The PACS answered but listed the instance as failed: may be a transient resource problem.
        throw new WriteError('server-error', 'PACS reported the SR as not stored', true, lastStatus);
      }
      if (isPermanentStatus(lastStatus)) {
        throw new WriteError('rejected', `PACS refused the SR (${lastStatus})`, false, lastStatus);
      }
      throw new WriteError(
        lastStatus === 429 ? 'rate-limited' : 'server-error',
        `PACS answered ${lastStatus} to STOW-RS`,
        true,
        lastStatus,
      );
    }
  };
}
