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

/** A new MR series (the watcher judges it once and records it for the worklist; nothing is measured). */
export interface DiscoveredSeries {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  description?: string;
}

export interface ReportSource {
  /** Checkpoint key in the store. */
  readonly name: string;
  poll(now: Date): Promise<{
    reports: DiscoveredReport[];
    series: DiscoveredSeries[];
    /** True when this poll included a reconciliation sweep (QIDO without date filter). */
    swept?: boolean;
    commit(): Promise<void>;
  }>;
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

export interface QidoSourceOptions {
  /**
   * PACS_WATCH_SWEEP_INTERVAL_MS: how often a poll also sweeps the PACS without a date filter, so a report
   * (or MR series) imported later with an old date is still found. 0 turns the sweep off.
   */
  sweepIntervalMs?: number;
  /**
   * Pages (of 500) one sweep reads at most per search (default 4); a larger PACS is swept over several
   * sweeps (the offset is kept).
   */
  sweepMaxPages?: number;
}

/** Lists a QIDO-RS search page by page (limit/offset), from `offset`, at most `maxPages` pages. */
async function qidoPages(
  dicomweb: DicomwebClientOptions,
  path: string,
  params: URLSearchParams,
  offset: number,
  maxPages: number,
): Promise<{ items: DicomJson[]; next: number; done: boolean }> {
  const base = dicomweb.baseUrl.replace(/\/+$/, '');
  const items: DicomJson[] = [];
  let at = offset;
  for (let pages = 0; pages < maxPages; pages++) {
    const q = new URLSearchParams(params);
    q.set('limit', String(PAGE));
    q.set('offset', String(at));
    const list = await getJson(`${base}${path}?${q.toString()}`, dicomweb, 'application/dicom+json');
    const page = Array.isArray(list) ? (list as DicomJson[]) : [];
    items.push(...page);
    at += page.length;
    if (page.length < PAGE) return { items, next: at, done: true };
  }
  return { items, next: at, done: false };
}

function reportsOf(items: DicomJson[]): DiscoveredReport[] {
  const reports: DiscoveredReport[] = [];
  for (const ds of items) {
    const studyInstanceUID = jsonString(ds, '0020000D');
    const seriesInstanceUID = jsonString(ds, '0020000E');
    const sopInstanceUID = jsonString(ds, '00080018');
    if (studyInstanceUID && seriesInstanceUID && sopInstanceUID)
      reports.push({ studyInstanceUID, seriesInstanceUID, sopInstanceUID });
  }
  return reports;
}

function seriesOf(items: DicomJson[]): DiscoveredSeries[] {
  const out: DiscoveredSeries[] = [];
  for (const ds of items) {
    const studyInstanceUID = jsonString(ds, '0020000D');
    const seriesInstanceUID = jsonString(ds, '0020000E');
    if (!studyInstanceUID || !seriesInstanceUID) continue;
    const entry: DiscoveredSeries = { studyInstanceUID, seriesInstanceUID };
    const description = jsonString(ds, '0008103E');
    if (description) entry.description = description;
    out.push(entry);
  }
  return out;
}

function dedupe<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((t) => (seen.has(key(t)) ? false : (seen.add(key(t)), true)));
}

/**
 * QIDO-RS: SR instances (`/instances?Modality=SR`, by ContentDate) and MR series (`/series?Modality=MR`,
 * by SeriesDate), from the day before the previous poll on once a checkpoint exists, everything on the
 * first poll. Reports and series already recorded are skipped by the watcher.
 *
 * A report or series stored later with a date older than that window is not matched by the dated search:
 * every `sweepIntervalMs` a poll also sweeps both searches without a date filter, page by page (at most
 * `sweepMaxPages` pages per search per sweep, continuing where the last sweep stopped), so such late
 * imports are found within one sweep interval (or a few, on a very large PACS).
 */
export function qidoSource(
  dicomweb: DicomwebClientOptions,
  store: WatchStore,
  options: QidoSourceOptions = {},
): ReportSource {
  const name = 'qido';
  const sweepName = 'qido-sweep';
  const sweepIntervalMs = options.sweepIntervalMs ?? 3600_000;
  const sweepMaxPages = options.sweepMaxPages ?? 4;
  const srParams = (): URLSearchParams => {
    const p = new URLSearchParams({ Modality: 'SR' });
    p.append('includefield', '0020000D');
    p.append('includefield', '0020000E');
    return p;
  };
  const mrParams = (): URLSearchParams => {
    const p = new URLSearchParams({ Modality: 'MR' });
    p.append('includefield', '0020000D');
    p.append('includefield', '0008103E');
    return p;
  };
  return {
    name,
    async poll(now) {
      const since = await store.checkpoint(name);
      const sr = srParams();
      const mr = mrParams();
      if (since) {
        sr.set('ContentDate', `${since}-`);
        mr.set('SeriesDate', `${since}-`);
      } else {
        // First poll: the MR series of the last 30 days (each is judged, two requests); older ones come
        // through the sweep, a bounded number per sweep, and the worklist finds recent studies itself.
        mr.set('SeriesDate', `${dicomDate(new Date(now.getTime() - 30 * 24 * 3600_000))}-`);
      }
      const reports = reportsOf((await qidoPages(dicomweb, '/instances', sr, 0, 1000)).items);
      const series = seriesOf((await qidoPages(dicomweb, '/series', mr, 0, 100)).items);

      // The sweep: due when none ran yet after the first poll, or the last is older than the interval.
      // Its checkpoint is "<ISO time of the sweep's start>|<SR offset>|<MR offset>".
      let sweepCommit: (() => Promise<void>) | undefined;
      let swept = false;
      if (since && sweepIntervalMs > 0) {
        const [startedAt, srAt, mrAt] = ((await store.checkpoint(sweepName)) ?? '').split('|');
        const srOffset = Number(srAt) || 0;
        const mrOffset = Number(mrAt) || 0;
        const unfinished = srOffset > 0 || mrOffset > 0;
        const last = startedAt ? Date.parse(startedAt) : Number.NaN;
        if (unfinished || !Number.isFinite(last) || now.getTime() - last >= sweepIntervalMs) {
          swept = true;
          const a = await qidoPages(dicomweb, '/instances', srParams(), srOffset, sweepMaxPages);
          const b = await qidoPages(dicomweb, '/series', mrParams(), mrOffset, sweepMaxPages);
          reports.push(...reportsOf(a.items));
          series.push(...seriesOf(b.items));
          const begun = unfinished && startedAt ? startedAt : now.toISOString();
          const position = `${begun}|${a.done ? 0 : a.next}|${b.done ? 0 : b.next}`;
          sweepCommit = () => store.saveCheckpoint(sweepName, position, now);
        }
      }
      // One day of overlap: a report saved just before midnight on another clock is not missed.
      const next = dicomDate(new Date(now.getTime() - 24 * 3600_000));
      return {
        reports: dedupe(reports, (r) => r.sopInstanceUID),
        series: dedupe(series, (x) => x.seriesInstanceUID),
        swept,
        commit: async () => {
          await store.saveCheckpoint(name, next, now);
          if (sweepCommit) await sweepCommit();
        },
      };
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
      const newSeries: DiscoveredSeries[] = [];
      const studies = new Map<string, string | undefined>();
      const series = new Map<
        string,
        { modality?: string; uid?: string; study?: string; description?: string }
      >();
      const seriesOfId = async (id: string) => {
        let s = series.get(id);
        if (!s) {
          const r = (await getJson(
            `${root}/series/${encodeURIComponent(id)}`,
            orthanc,
            'application/json',
          )) as OrthancResource;
          s = {
            modality: r.MainDicomTags?.Modality,
            uid: r.MainDicomTags?.SeriesInstanceUID,
            study: r.ParentStudy,
            description: r.MainDicomTags?.SeriesDescription,
          };
          series.set(id, s);
        }
        return s;
      };
      const studyUidOf = async (id: string) => {
        if (!studies.has(id)) {
          const r = (await getJson(
            `${root}/studies/${encodeURIComponent(id)}`,
            orthanc,
            'application/json',
          )) as OrthancResource;
          studies.set(id, r.MainDicomTags?.StudyInstanceUID);
        }
        return studies.get(id);
      };
      for (let pages = 0; pages < 50; pages++) {
        const body = (await getJson(
          `${root}/changes?since=${since}&limit=200`,
          orthanc,
          'application/json',
        )) as OrthancChanges;
        for (const c of body.Changes ?? []) {
          if (c.ChangeType === 'NewSeries' && c.ID) {
            // A new MR series: recorded for the worklist (its verdict judged once by the watcher).
            const s = await seriesOfId(c.ID);
            const studyInstanceUID = s.modality === 'MR' && s.study ? await studyUidOf(s.study) : undefined;
            if (studyInstanceUID && s.uid) {
              newSeries.push({
                studyInstanceUID,
                seriesInstanceUID: s.uid,
                ...(s.description ? { description: s.description } : {}),
              });
            }
            continue;
          }
          if (c.ChangeType !== 'NewInstance' || !c.ID) continue;
          const inst = (await getJson(
            `${root}/instances/${encodeURIComponent(c.ID)}`,
            orthanc,
            'application/json',
          )) as OrthancResource;
          const parent = inst.ParentSeries;
          if (!parent) continue;
          const s = await seriesOfId(parent);
          if (s.modality !== 'SR' || !s.uid || !s.study) continue;
          const studyInstanceUID = await studyUidOf(s.study);
          const sopInstanceUID = inst.MainDicomTags?.SOPInstanceUID;
          if (studyInstanceUID && sopInstanceUID)
            reports.push({ studyInstanceUID, seriesInstanceUID: s.uid, sopInstanceUID });
        }
        if (typeof body.Last === 'number') since = body.Last;
        if (body.Done !== false) break;
      }
      return {
        reports,
        series: newSeries,
        commit: () => store.saveCheckpoint(name, String(since), now),
      };
    },
  };
}
