/**
 * The radiology worklist (issue 17): spine MR studies in the PACS that have a series VBQ can be measured on
 * (a non-contrast sagittal T1 spin-echo series, as the measurement's own acquisition rules decide) and no
 * VBQ yet. Studies radiology was asked to measure (a FHIR Task from the surgery-order card) come first,
 * soonest planned surgery first; then the rest, newest first. Each entry links to the study in the viewer.
 *
 * `buildWorklist` is what the JSON route serves and what the console calls.
 */
import dcmjs from 'dcmjs';
import type { DenaturalizedDataset } from 'dcmjs';
import { type DicomJson, type DicomwebClientOptions } from '../dicomweb/client.js';
import { AppError, urlForMessage } from '../errors.js';
import { assessMrImage, isSpineExamination, type Region } from '../imaging/acquisition.js';
import { interpretHeader } from '../imaging/dicom/header.js';
import { SR_MANUFACTURER } from '../imaging/sr-writer.js';
import type { WatchStore } from './watch-store.js';

/** A request to measure VBQ on a study (an open radiology Task). */
export interface MeasurementRequest {
  studyInstanceUID: string;
  /** `Task/<id>`. */
  task: string;
  /** Planned surgery date (YYYY-MM-DD or a dateTime), when the request names one. */
  plannedSurgeryDate?: string;
  authoredOn?: string;
}

export interface WorklistEntry {
  studyInstanceUID: string;
  /** YYYY-MM-DD. */
  studyDate?: string;
  studyDescription?: string;
  accessionNumber?: string;
  patientId?: string;
  /** The series VBQ would be measured on. */
  series: { seriesInstanceUID: string; description?: string; region: Region };
  requested?: Omit<MeasurementRequest, 'studyInstanceUID'>;
  /** Opens the study in the viewer (VIEWER_URL_TEMPLATE). */
  viewerUrl?: string;
}

export interface WorklistOptions {
  dicomweb: DicomwebClientOptions;
  store: WatchStore;
  /** Open measurement requests (from the FHIR server), when known. */
  requests?: () => Promise<MeasurementRequest[]>;
  /** e.g. `http://viewer/viewer?StudyInstanceUIDs={StudyInstanceUID}`. */
  viewerUrlTemplate?: string;
  /** Most recent studies examined per call. */
  limit?: number;
}

/** Series verdicts by SeriesInstanceUID: a series' images do not change, so each is examined once. */
const seriesVerdicts = new Map<string, { region: Region } | null>();
const MAX_CACHED = 10_000;

function text(ds: DicomJson, tag: string): string | undefined {
  const v = ds[tag]?.Value?.[0];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

async function qido(opts: DicomwebClientOptions, path: string): Promise<DicomJson[]> {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}${path}`;
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(url, {
      headers: { ...opts.headers, accept: 'application/dicom+json' },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch {
    throw new AppError('upstream-unavailable', `PACS unreachable at ${urlForMessage(url)}`);
  }
  if (res.status === 204 || res.status === 404) return [];
  if (!res.ok) throw new AppError('upstream-unavailable', `PACS answered ${res.status} to a search`);
  const body = await res.text();
  return body.trim() === '' ? [] : (JSON.parse(body) as DicomJson[]);
}

/**
 * Whether VBQ can be measured on a series, judged on one of its images' header (the region), or null.
 * The watcher records the verdict of each new MR series (so every replica and the worklist share it).
 */
export async function judgeSeries(
  opts: DicomwebClientOptions,
  study: string,
  series: string,
): Promise<{ region: Region } | null> {
  const cached = seriesVerdicts.get(series);
  if (cached !== undefined) return cached;
  const instances = await qido(opts, `/studies/${study}/series/${series}/instances?limit=1`);
  const sop = instances[0] ? text(instances[0], '00080018') : undefined;
  let verdict: { region: Region } | null = null;
  if (sop) {
    const meta = await qido(opts, `/studies/${study}/series/${series}/instances/${sop}/metadata`);
    if (meta[0]) {
      try {
        const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
          meta[0] as unknown as DenaturalizedDataset,
        );
        const h = interpretHeader(ds, '1.2.840.10008.1.2.1');
        if (isSpineExamination(h)) {
          const region = (['lumbar', 'cervical'] as const).find((r) => assessMrImage(h, r).length === 0);
          verdict = region ? { region } : null;
        }
      } catch {
        verdict = null;
      }
    }
  }
  if (seriesVerdicts.size >= MAX_CACHED) seriesVerdicts.clear();
  seriesVerdicts.set(series, verdict);
  return verdict;
}

function isoDate(da: string | undefined): string | undefined {
  return da && /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : undefined;
}

/** The viewer link of a study: every `{StudyInstanceUID}` in the template replaced. */
export function viewerUrl(template: string, studyInstanceUID: string): string {
  return template.replaceAll('{StudyInstanceUID}', encodeURIComponent(studyInstanceUID));
}

export async function buildWorklist(options: WorklistOptions): Promise<{ entries: WorklistEntry[] }> {
  const { dicomweb } = options;
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
  const params = new URLSearchParams({ ModalitiesInStudy: 'MR', limit: String(limit) });
  for (const tag of ['00080020', '00080030', '00081030', '00080050', '00100020'])
    params.append('includefield', tag);
  const studies = await qido(dicomweb, `/studies?${params.toString()}`);
  // Studies radiology was asked to measure and studies of measurable MR series the watcher recorded
  // (e.g. imported with an old date) are listed even when they are not among the newest `limit` studies.
  const requests = options.requests ? await options.requests() : [];
  const requestedBy = new Map(requests.map((r) => [r.studyInstanceUID, r]));
  const listed = new Set(studies.map((s) => text(s, '0020000D')));
  const extra = [
    ...new Set([
      ...requests.map((r) => r.studyInstanceUID),
      ...(await options.store.measurableSeries(limit)).map((r) => r.studyInstanceUID),
    ]),
  ].filter((uid) => !listed.has(uid));
  const alreadyMeasured = await options.store.measuredStudies(extra);
  for (const uid of extra) {
    if (alreadyMeasured.has(uid)) continue;
    const one = new URLSearchParams(params);
    one.delete('ModalitiesInStudy');
    one.set('StudyInstanceUID', uid);
    studies.push(...(await qido(dicomweb, `/studies?${one.toString()}`)));
    listed.add(uid);
  }
  const uids = studies.map((s) => text(s, '0020000D')).filter((u): u is string => !!u);
  const measured = await options.store.measuredStudies(uids);
  const entries: (WorklistEntry & { sortKey: string })[] = [];
  for (const s of studies) {
    const uid = text(s, '0020000D');
    if (!uid || measured.has(uid)) continue;
    const series = await qido(dicomweb, `/studies/${uid}/series?includefield=00080070&includefield=0008103E`);
    // A VBQ measured through the API (not the watcher) shows as our SR in the study.
    if (series.some((se) => text(se, '00080060') === 'SR' && text(se, '00080070') === SR_MANUFACTURER))
      continue;
    let chosen: WorklistEntry['series'] | undefined;
    // Verdicts the watcher recorded are used as they are; other series are judged here.
    const known = await options.store.seriesVerdicts(
      series.map((se) => text(se, '0020000E')).filter((u): u is string => !!u),
    );
    for (const se of series) {
      const seriesUid = text(se, '0020000E');
      if (!seriesUid || text(se, '00080060') !== 'MR') continue;
      const stored = known.get(seriesUid);
      const verdict: { region: Region } | null =
        stored === undefined
          ? await judgeSeries(dicomweb, uid, seriesUid)
          : stored === 'lumbar' || stored === 'cervical'
            ? { region: stored }
            : null;
      if (verdict) {
        chosen = { seriesInstanceUID: seriesUid, region: verdict.region };
        const description = text(se, '0008103E');
        if (description) chosen.description = description;
        break;
      }
    }
    if (!chosen) continue;
    const entry: WorklistEntry & { sortKey: string } = {
      studyInstanceUID: uid,
      series: chosen,
      sortKey: `${text(s, '00080020') ?? ''}${text(s, '00080030') ?? ''}`,
    };
    const date = isoDate(text(s, '00080020'));
    if (date) entry.studyDate = date;
    const description = text(s, '00081030');
    if (description) entry.studyDescription = description;
    const accession = text(s, '00080050');
    if (accession) entry.accessionNumber = accession;
    const pid = text(s, '00100020');
    if (pid) entry.patientId = pid;
    const request = requestedBy.get(uid);
    if (request) {
      const { studyInstanceUID: _, ...rest } = request;
      entry.requested = rest;
    }
    if (options.viewerUrlTemplate) entry.viewerUrl = viewerUrl(options.viewerUrlTemplate, uid);
    entries.push(entry);
  }
  entries.sort((a, b) => {
    if (!!a.requested !== !!b.requested) return a.requested ? -1 : 1;
    if (a.requested && b.requested) {
      const pa = a.requested.plannedSurgeryDate ?? '9999';
      const pb = b.requested.plannedSurgeryDate ?? '9999';
      if (pa !== pb) return pa < pb ? -1 : 1;
    }
    return b.sortKey.localeCompare(a.sortKey);
  });
  return { entries: entries.map(({ sortKey: _, ...e }) => e) };
}
