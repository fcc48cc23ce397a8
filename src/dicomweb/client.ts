/**
 * DICOMweb client (QIDO-RS search, WADO-RS retrieve, STOW-RS store) over fetch. Knows HTTP and DICOM JSON
 * only, nothing of measurements: imaging pulls studies with it and write-back stores SRs with it.
 */
import { randomBytes } from 'node:crypto';
import { AppError, urlForMessage } from '../errors.js';

export interface DicomwebClientOptions {
  /** e.g. http://127.0.0.1:8042/dicom-web (no trailing slash needed). */
  baseUrl: string;
  /** Extra headers (e.g. Authorization); never logged. */
  headers?: Record<string, string>;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

/** A DICOM JSON dataset (PS3.18 F.2): tag -> { vr, Value }. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export interface SeriesSummary {
  seriesInstanceUID: string;
  modality?: string;
  seriesDescription?: string;
  numberOfInstances?: number;
}

function base(opts: DicomwebClientOptions): string {
  return opts.baseUrl.replace(/\/+$/, '');
}

async function request(opts: DicomwebClientOptions, path: string, init: RequestInit): Promise<Response> {
  const f = opts.fetchImpl ?? fetch;
  const url = `${base(opts)}${path}`;
  let res: Response;
  try {
    res = await f(url, {
      ...init,
      headers: { ...opts.headers, ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
  } catch (err) {
    throw new AppError('upstream-unavailable', `DICOMweb server unreachable at ${urlForMessage(url)}`, [
      err instanceof Error ? err.message : String(err),
    ]);
  }
  if (!res.ok && res.status !== 204) {
    const body = await res.text().catch(() => '');
    throw new AppError(
      res.status === 404 ? 'not-found' : 'upstream-unavailable',
      `DICOMweb ${init.method ?? 'GET'} ${path.split('?')[0]} answered ${res.status}`,
      body ? [body.slice(0, 300)] : [],
    );
  }
  return res;
}

function jsonString(ds: DicomJson, tag: string): string | undefined {
  const v = ds[tag]?.Value?.[0];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** QIDO-RS: the series of a study, optionally of one modality. */
export async function searchSeries(
  opts: DicomwebClientOptions,
  studyInstanceUID: string,
  query: { modality?: string } = {},
): Promise<SeriesSummary[]> {
  const params = query.modality ? `?Modality=${encodeURIComponent(query.modality)}` : '';
  const res = await request(opts, `/studies/${studyInstanceUID}/series${params}`, {
    headers: { Accept: 'application/dicom+json' },
  });
  if (res.status === 204) return [];
  const text = await res.text();
  const list = text.trim() === '' ? [] : (JSON.parse(text) as DicomJson[]);
  return list.flatMap((ds) => {
    const uid = jsonString(ds, '0020000E');
    if (!uid) return [];
    const s: SeriesSummary = { seriesInstanceUID: uid };
    const modality = jsonString(ds, '00080060');
    if (modality) s.modality = modality;
    const desc = jsonString(ds, '0008103E');
    if (desc) s.seriesDescription = desc;
    const n = jsonString(ds, '00201209');
    if (n) s.numberOfInstances = Number(n);
    return [s];
  });
}

/** Splits a multipart/related body into its parts' payloads. */
export function parseMultipart(
  body: Uint8Array,
  contentType: string,
): { headers: Record<string, string>; data: Uint8Array }[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new AppError('upstream-unavailable', 'multipart response without a boundary');
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delim = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; data: Uint8Array }[] = [];
  let pos = buf.indexOf(delim);
  while (pos !== -1) {
    let start = pos + delim.length;
    if (buf[start] === 0x2d && buf[start + 1] === 0x2d) break; // closing "--boundary--"
    if (buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
    const next = buf.indexOf(delim, start);
    if (next === -1) break;
    let end = next;
    if (buf[end - 2] === 0x0d && buf[end - 1] === 0x0a) end -= 2;
    const headerEnd = buf.indexOf('\r\n\r\n', start);
    if (headerEnd !== -1 && headerEnd < end) {
      const headers: Record<string, string> = {};
      for (const line of buf.subarray(start, headerEnd).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      parts.push({ headers, data: new Uint8Array(buf.subarray(headerEnd + 4, end)) });
    }
    pos = next;
  }
  return parts;
}

async function multipart(res: Response): Promise<Uint8Array[]> {
  const ct = res.headers.get('content-type') ?? '';
  const body = new Uint8Array(await res.arrayBuffer());
  if (!/^multipart\//i.test(ct)) {
    if (/application\/dicom/i.test(ct)) return [body];
    throw new AppError('upstream-unavailable', `unexpected DICOMweb content type ${ct || '(none)'}`);
  }
  return parseMultipart(body, ct).map((p) => p.data);
}

const ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** WADO-RS: all instances of a series as Part-10 files, in the transfer syntax they are stored in. */
export async function retrieveSeries(
  opts: DicomwebClientOptions,
  studyInstanceUID: string,
  seriesInstanceUID: string,
): Promise<Uint8Array[]> {
  const res = await request(opts, `/studies/${studyInstanceUID}/series/${seriesInstanceUID}`, {
    headers: { Accept: ACCEPT_DICOM },
  });
  return multipart(res);
}

/** WADO-RS: one instance as a Part-10 file. */
export async function retrieveInstance(
  opts: DicomwebClientOptions,
  studyInstanceUID: string,
  seriesInstanceUID: string,
  sopInstanceUID: string,
): Promise<Uint8Array> {
  const res = await request(
    opts,
    `/studies/${studyInstanceUID}/series/${seriesInstanceUID}/instances/${sopInstanceUID}`,
    { headers: { Accept: ACCEPT_DICOM } },
  );
  const parts = await multipart(res);
  if (!parts[0]) throw new AppError('not-found', 'instance not returned by the DICOMweb server');
  return parts[0];
}

/** WADO-RS: raw (uncompressed by default) frame bytes of an instance, 1-based frame numbers. */
export async function retrieveFrames(
  opts: DicomwebClientOptions,
  studyInstanceUID: string,
  seriesInstanceUID: string,
  sopInstanceUID: string,
  frames: number[],
): Promise<Uint8Array[]> {
  const res = await request(
    opts,
    `/studies/${studyInstanceUID}/series/${seriesInstanceUID}/instances/${sopInstanceUID}/frames/${frames.join(',')}`,
    { headers: { Accept: 'multipart/related; type="application/octet-stream"' } },
  );
  return multipart(res);
}

export interface StoreResult {
  stored: string[];
  failed: string[];
}

/** STOW-RS: uploads Part-10 files; throws when the server reports any failure. */
export async function storeInstances(opts: DicomwebClientOptions, files: Uint8Array[]): Promise<StoreResult> {
  const boundary = `sbhcds-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const f of files) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1'));
    chunks.push(Buffer.from(f.buffer, f.byteOffset, f.byteLength));
    chunks.push(Buffer.from('\r\n', 'latin1'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  const res = await request(opts, '/studies', {
    method: 'POST',
    headers: {
      'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      Accept: 'application/dicom+json',
    },
    body: Buffer.concat(chunks),
  });
  const text = await res.text();
  const body = text.trim() ? (JSON.parse(text) as DicomJson) : {};
  const uids = (tag: string): string[] =>
    ((body[tag]?.Value ?? []) as DicomJson[]).map((item) => jsonString(item, '00081155') ?? '?');
  const result = { stored: uids('00081199'), failed: uids('00081198') };
  if (result.failed.length > 0) {
    throw new AppError('upstream-unavailable', `STOW-RS failed for ${result.failed.length} instance(s)`);
  }
  return result;
}
