/**
 * How the watcher learns of new ROI reports in the PACS: QIDO-RS (any DICOMweb PACS) or Orthanc's change
 * feed. Each poll lists candidate SR instances and hands back a `commit` that moves the checkpoint kept in
 * the store; the watcher commits only after every listed report was claimed or recorded, so a restart in
 * the middle lists them again (and the claim rows make that harmless).
 */
import { AppError, urlForMessage } from '../errors.js';
import type { DicomJson, DicomwebClientOptions } from '../dicomweb/client.js';
import type { WatchStore } from './watch-store.js';

export interface DiscoveredReport {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
}

export interface ReportSource {
  /** Checkpoint key in the store. */
  readonly name: string;
  poll(now: Date): Promise<{ reports: DiscoveredReport[]; commit(): Promise<void> }>;
}

function jsonString(ds: DicomJson, tag: string): string | undefined {
  const v = ds[tag]?.Value?.[0];
  return typeof v === 'string' ? v : undefined;
}

async function getJson(
  url: string,
  opts: { headers?: Record<string, string>; fetchImpl?: typeof fetch; timeoutMs?: number },
  accept: string,
): Promise<unknown> {
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(url, {
      headers: { ...opts.headers, accept },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw new AppError('upstream-unavailable', `PACS unreachable at ${urlForMessage(url)}`, [
      err instanceof Error ? err.message : String(err),
    ]);
  }
  if (res.status === 204) return [];
  // A resource deleted between the change and its lookup: nothing to watch, not an outage.
  if (res.status === 404 && accept === 'application/json' && !url.includes('/changes?')) return {};
  if (!res.ok) {
    throw new AppError('upstream-unavailable', `PACS answered ${res.status} at ${urlForMessage(url)}`);
  }
  const text = await res.text();
  return text.trim() === '' ? [] : (JSON.parse(text) as unknown);
}

/** YYYYMMDD (UTC) of a date, as DICOM DA. */
function dicomDate(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

const PAGE = 500;

/**
 * QIDO-RS: SR instances (`/instances?Modality=SR`), from the day before the previous poll on (ContentDate
 * range) once a checkpoint exists, every SR on the first poll. Reports already recorded are skipped by
 * the watcher. An SR stored later with a ContentDate older than that window is not seen: use Orthanc's
 * change feed where that matters (imports of old reports).
 */
export function qidoSource(dicomweb: DicomwebClientOptions, store: WatchStore): ReportSource {
  const name = 'qido';
  return {
    name,
    async poll(now) {
      const since = await store.checkpoint(name);
      const base = dicomweb.baseUrl.replace(/\/+$/, '');
      const reports: DiscoveredReport[] = [];
      for (let offset = 0; ; offset += PAGE) {
        const params = new URLSearchParams({ Modality: 'SR', limit: String(PAGE), offset: String(offset) });
        params.append('includefield', '0020000D');
        params.append('includefield', '0020000E');
        if (since) params.set('ContentDate', `${since}-`);
        const list = await getJson(
          `${base}/instances?${params.toString()}`,
          dicomweb,
          'application/dicom+json',
        );
        const page = Array.isArray(list) ? (list as DicomJson[]) : [];
        for (const ds of page) {
          const studyInstanceUID = jsonString(ds, '0020000D');
          const seriesInstanceUID = jsonString(ds, '0020000E');
          const sopInstanceUID = jsonString(ds, '00080018');
          if (studyInstanceUID && seriesInstanceUID && sopInstanceUID)
            reports.push({ studyInstanceUID, seriesInstanceUID, sopInstanceUID });
        }
        if (page.length < PAGE) break;
      }
      // One day of overlap: a report saved just before midnight on another clock is not missed.
      const next = dicomDate(new Date(now.getTime() - 24 * 3600_000));
      return { reports, commit: () => store.saveCheckpoint(name, next, now) };
    },
  };
}

interface OrthancChanges {
  Changes?: { ChangeType?: string; ID?: string; ResourceType?: string; Seq?: number }[];
  Done?: boolean;
  Last?: number;
}

interface OrthancResource {
  MainDicomTags?: Record<string, string>;
  ParentSeries?: string;
  ParentStudy?: string;
}

/**
 * Orthanc's change feed (`/changes?since=<seq>`): exact, every instance stored after the checkpoint,
 * whatever its dates. Needs Orthanc's REST root (DICOMWEB_BASE_URL without `/dicom-web`).
 */
export function orthancChangesSource(
  orthanc: { url: string; headers?: Record<string, string>; fetchImpl?: typeof fetch; timeoutMs?: number },
  store: WatchStore,
): ReportSource {
  const name = 'orthanc-changes';
  const root = orthanc.url.replace(/\/+$/, '');
  return {
    name,
    async poll(now) {
      let since = Number((await store.checkpoint(name)) ?? '0');
      const reports: DiscoveredReport[] = [];
      const series = new Map<string, { modality?: string; uid?: string; study?: string }>();
      const studies = new Map<string, string | undefined>();
      for (let pages = 0; pages < 50; pages++) {
        const body = (await getJson(
          `${root}/changes?since=${since}&limit=200`,
          orthanc,
          'application/json',
        )) as OrthancChanges;
        for (const c of body.Changes ?? []) {
          if (c.ChangeType !== 'NewInstance' || !c.ID) continue;
          const inst = (await getJson(
            `${root}/instances/${encodeURIComponent(c.ID)}`,
            orthanc,
            'application/json',
          )) as OrthancResource;
          const parent = inst.ParentSeries;
          if (!parent) continue;
          let s = series.get(parent);
          if (!s) {
            const r = (await getJson(
              `${root}/series/${encodeURIComponent(parent)}`,
              orthanc,
              'application/json',
            )) as OrthancResource;
            s = {
              modality: r.MainDicomTags?.Modality,
              uid: r.MainDicomTags?.SeriesInstanceUID,
              study: r.ParentStudy,
            };
            series.set(parent, s);
          }
          if (s.modality !== 'SR' || !s.uid || !s.study) continue;
          if (!studies.has(s.study)) {
            const r = (await getJson(
              `${root}/studies/${encodeURIComponent(s.study)}`,
              orthanc,
              'application/json',
            )) as OrthancResource;
            studies.set(s.study, r.MainDicomTags?.StudyInstanceUID);
          }
          const studyInstanceUID = studies.get(s.study);
          const sopInstanceUID = inst.MainDicomTags?.SOPInstanceUID;
          if (studyInstanceUID && sopInstanceUID)
            reports.push({ studyInstanceUID, seriesInstanceUID: s.uid, sopInstanceUID });
        }
        if (typeof body.Last === 'number') since = body.Last;
        if (body.Done !== false) break;
      }
      return { reports, commit: () => store.saveCheckpoint(name, String(since), now) };
    },
  };
}
