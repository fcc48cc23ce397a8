import { z } from 'zod';
import type { NaturalizedDataset } from 'dcmjs';
import { AppError } from '../errors.js';
import { num, seq, str, strs } from './dicom/attributes.js';
import vertebraCodes from './vertebra-codes.json' with { type: 'json' };

/** Vertebral levels the VBQ family measures. */
export const LEVELS = ['C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'L1', 'L2', 'L3', 'L4', 'L5', 'S1'] as const;
export type Level = (typeof LEVELS)[number];

export type RoiKind = 'body' | 'endplate' | 'csf';
export type RoiShape = 'ellipse' | 'rectangle' | 'polygon';
export type Point = [number, number];

/**
 * One region of interest in image pixel coordinates. Convention (as DICOM SR SCOORD): (0,0) is the
 * top-left corner of the top-left pixel, so pixel (column c, row r) has its centre at (c + 0.5, r + 0.5).
 */
export interface Roi {
  /** Stable id within the input: JSON index ("roi-3") or the SR tracking UID. */
  id: string;
  label: string;
  kind: RoiKind;
  /** Vertebral level: the vertebra for body/endplate ROIs, the level of the CSF ROI for CSF. */
  level?: Level;
  shape: RoiShape;
  points: Point[];
  sopInstanceUID: string;
  /** 1-based frame number for multi-frame images. */
  frameNumber?: number;
  /** Reason this level is excluded (fracture, instrumented, ...); the ROI is still measured and reported. */
  exclude?: string;
  /** Statistics a viewer stored in the SR, kept for comparison only (we always recompute). */
  viewerMean?: number;
}

export type RoiSource =
  { kind: 'json' } | { kind: 'sr'; srSopInstanceUID: string; srSeriesInstanceUID?: string };

export interface RoiInput {
  source: RoiSource;
  rois: Roi[];
}

const levelSchema = z.enum(LEVELS);
const pointSchema = z.tuple([z.number().finite(), z.number().finite()]);

/** A required field's message when it is absent, instead of zod's "expected string, received undefined". */
const requiredField = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? `is missing: ${what}` : undefined),
});

const jsonRoiSchema = z
  .object({
    label: z
      .string(requiredField('L1-L5, S1, C2-C7 or CSF'))
      .regex(/^(L[1-5]|S1|C[2-7]|CSF)$/, 'label must be L1-L5, S1, C2-C7 or CSF'),
    level: levelSchema.optional(),
    kind: z.enum(['body', 'endplate', 'csf']).optional(),
    shape: z.enum(['ellipse', 'rectangle', 'polygon'], requiredField('ellipse, rectangle or polygon')),
    points: z.array(pointSchema, requiredField('the pixel coordinates [[x, y], ...]')),
    sopInstanceUID: z
      .string(
        requiredField(
          'the SOP Instance UID of the image the ROI is drawn on (`vbq inspect <series>` lists them)',
        ),
      )
      .regex(/^[0-9]+(\.[0-9]+)*$/, 'sopInstanceUID must be a DICOM UID'),
    frameNumber: z.number().int().positive().optional(),
    exclude: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((roi, ctx) => {
    const expected = roi.shape === 'ellipse' ? 4 : roi.shape === 'rectangle' ? 2 : undefined;
    if (expected !== undefined && roi.points.length !== expected) {
      ctx.addIssue({
        code: 'custom',
        path: ['points'],
        message: `${roi.shape} needs exactly ${expected} points (ellipse: 4 axis end points; rectangle: 2 corners)`,
      });
    }
    if (roi.shape === 'polygon' && roi.points.length < 3) {
      ctx.addIssue({ code: 'custom', path: ['points'], message: 'polygon needs at least 3 points' });
    }
    const isCsf = roi.label === 'CSF';
    if (roi.kind === 'csf' && !isCsf) {
      ctx.addIssue({ code: 'custom', path: ['kind'], message: 'kind "csf" requires label "CSF"' });
    }
    if (isCsf && roi.kind !== undefined && roi.kind !== 'csf') {
      ctx.addIssue({ code: 'custom', path: ['kind'], message: 'a CSF ROI has kind "csf"' });
    }
    if (!isCsf && roi.level !== undefined && roi.level !== roi.label) {
      ctx.addIssue({
        code: 'custom',
        path: ['level'],
        message: `level ${roi.level} contradicts label ${roi.label}`,
      });
    }
  });

/** The JSON ROI document (exported for the OpenAPI document, which is generated from it). */
export const jsonInputSchema = z
  .object({ rois: z.array(jsonRoiSchema).min(1, 'at least one ROI is required') })
  .strict();

/**
 * Validates the JSON ROI form of issue 4. Throws `AppError('invalid-roi')` naming each bad ROI and field.
 */
export function parseRoiJson(input: unknown): RoiInput {
  const parsed = jsonInputSchema.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => {
      const [, index, ...rest] = i.path;
      const where =
        i.path[0] === 'rois' && typeof index === 'number' ? `rois[${index}]` : i.path.join('.') || '(root)';
      const field = rest.length > 0 ? `.${rest.join('.')}` : '';
      return `${where}${field}: ${i.message}`;
    });
    throw new AppError('invalid-roi', 'the ROI file is invalid', details);
  }
  return {
    source: { kind: 'json' },
    rois: parsed.data.rois.map((r, i) => {
      const isCsf = r.label === 'CSF';
      const roi: Roi = {
        id: `roi-${i}`,
        label: r.label,
        kind: isCsf ? 'csf' : (r.kind ?? 'body'),
        level: isCsf ? r.level : (r.label as Level),
        shape: r.shape,
        points: r.points.map(([x, y]) => [x, y] as Point),
        sopInstanceUID: r.sopInstanceUID,
      };
      if (r.frameNumber !== undefined) roi.frameNumber = r.frameNumber;
      if (r.exclude !== undefined) roi.exclude = r.exclude;
      return roi;
    }),
  };
}

// ---- DICOM SR (TID 1500) -------------------------------------------------------------------------

/** Coding scheme designator for the project's own codes inside DICOM SR (local schemes start with 99). */
export const LOCAL_SCHEME = '99SBHBQ';
/** The FHIR CodeSystem the local DICOM scheme stands for. */
export const BONE_QUALITY_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality';

/** DICOM / SNOMED concept codes used in TID 1500 (PS3.16; SNOMED via DICOM "SCT"). */
export const SR_CODES = {
  imagingMeasurementReport: { value: '126000', scheme: 'DCM', meaning: 'Imaging Measurement Report' },
  imagingMeasurements: { value: '126010', scheme: 'DCM', meaning: 'Imaging Measurements' },
  measurementGroup: { value: '125007', scheme: 'DCM', meaning: 'Measurement Group' },
  trackingIdentifier: { value: '112039', scheme: 'DCM', meaning: 'Tracking Identifier' },
  trackingUid: { value: '112040', scheme: 'DCM', meaning: 'Tracking Unique Identifier' },
  finding: { value: '121071', scheme: 'DCM', meaning: 'Finding' },
  /** TID 1501 qualitative comment: where @cornerstonejs/adapters (LabelData) writes an annotation's label. */
  comment: { value: '121106', scheme: 'DCM', meaning: 'Comment' },
  findingSite: { value: '363698007', scheme: 'SCT', meaning: 'Finding Site' },
  mean: { value: '373098007', scheme: 'SCT', meaning: 'Mean' },
  standardDeviation: { value: '386136009', scheme: 'SCT', meaning: 'Standard Deviation' },
  area: { value: '42798000', scheme: 'SCT', meaning: 'Area' },
  csfRoi: { value: 'csf-si', scheme: LOCAL_SCHEME, meaning: 'CSF signal intensity' },
  endplateRoi: { value: 'si-endplate', scheme: LOCAL_SCHEME, meaning: 'Mean endplate signal intensity' },
  exclusion: { value: 'excluded-levels', scheme: LOCAL_SCHEME, meaning: 'Excluded levels' },
} as const;

const SITE_BY_CODE = new Map<string, Level>(vertebraCodes.codes.map((c) => [c.code, c.level as Level]));
/** SNOMED vertebra code for a level (for the SR writer). */
export function vertebraCode(level: Level): { code: string; display: string } | undefined {
  const c = vertebraCodes.codes.find((x) => x.level === level);
  return c ? { code: c.code, display: c.display } : undefined;
}

interface Code {
  value?: string;
  scheme?: string;
  meaning?: string;
}

function code(item: NaturalizedDataset, key: string): Code | undefined {
  const c = seq(item, key)[0];
  if (!c) return undefined;
  return {
    value: str(c, 'CodeValue'),
    scheme: str(c, 'CodingSchemeDesignator'),
    meaning: str(c, 'CodeMeaning'),
  };
}

function is(c: Code | undefined, ref: { value: string; scheme: string }): boolean {
  if (!c) return false;
  // SNOMED appears as "SCT" (current) or "SRT" (legacy) in SR written by older tools; compare values only then.
  if (ref.scheme === 'SCT') return c.value === ref.value && (c.scheme === 'SCT' || c.scheme === 'SRT');
  return c.value === ref.value && c.scheme === ref.scheme;
}

function concept(item: NaturalizedDataset): Code | undefined {
  return code(item, 'ConceptNameCodeSequence');
}

function children(item: NaturalizedDataset): NaturalizedDataset[] {
  return seq(item, 'ContentSequence');
}

function findAll(item: NaturalizedDataset, pred: (n: NaturalizedDataset) => boolean): NaturalizedDataset[] {
  const out: NaturalizedDataset[] = [];
  const walk = (n: NaturalizedDataset): void => {
    for (const c of children(n)) {
      if (pred(c)) out.push(c);
      walk(c);
    }
  };
  walk(item);
  return out;
}

const LABEL_LEVEL = /(?:^|[^A-Z0-9])(L[1-5]|S1|C[2-7])(?![0-9])/i;

/** Parses a free-text label such as "L1", "CSF L3", "L3 endplate" (the tracking-label fallback). */
export function parseLabel(text: string): { kind: RoiKind; level?: Level } | undefined {
  const level = LABEL_LEVEL.exec(text)?.[1]?.toUpperCase() as Level | undefined;
  if (/\bCSF\b/i.test(text)) return level ? { kind: 'csf', level } : { kind: 'csf' };
  if (!level) return undefined;
  return { kind: /end\s*-?plate|\bEP\b|\bEBQ\b/i.test(text) ? 'endplate' : 'body', level };
}

function graphicPoints(scoord: NaturalizedDataset): Point[] {
  const data = scoord.GraphicData;
  const flat = (Array.isArray(data) ? data : []).map((v) => (typeof v === 'number' ? v : Number(v)));
  const pts: Point[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pts.push([flat[i]!, flat[i + 1]!]);
  return pts;
}

/**
 * Reads ROIs from a TID 1500 measurement report as OHIF / Cornerstone write them: one measurement group
 * per ROI with an ELLIPSE (4 points), a closed POLYLINE (rectangle or polygon), or a POLYGON, the level from
 * the SNOMED finding site, our own finding codes for CSF / endplate ROIs, and the tracking identifier or a
 * free-text finding (e.g. "L1", "CSF L3") as a fallback. Groups without a usable outline or level are
 * reported in `skipped`, never silently used.
 */
export function readRoisFromSr(sr: NaturalizedDataset): RoiInput & { skipped: string[] } {
  const sopInstanceUID = str(sr, 'SOPInstanceUID');
  if (str(sr, 'Modality') !== 'SR' || !sopInstanceUID) {
    throw new AppError('invalid-roi', 'the ROI file is not a DICOM SR document');
  }
  const root = concept(sr);
  if (!is(root, SR_CODES.imagingMeasurementReport)) {
    throw new AppError(
      'invalid-roi',
      `the SR is not a TID 1500 measurement report (root concept ${root?.value ?? '?'} ${root?.meaning ?? ''})`,
    );
  }
  const groups = findAll(sr, (n) => is(concept(n), SR_CODES.measurementGroup));
  const rois: Roi[] = [];
  const skipped: string[] = [];
  groups.forEach((group, gi) => {
    const items = children(group);
    const textOf = (ref: { value: string; scheme: string }): string | undefined => {
      const item = items.find((i) => is(concept(i), ref));
      return item ? str(item, 'TextValue') : undefined;
    };
    const trackingId = textOf(SR_CODES.trackingIdentifier);
    const trackingUid = items.find((i) => is(concept(i), SR_CODES.trackingUid));
    const id = (trackingUid && str(trackingUid, 'UID')) ?? `group-${gi}`;
    const name = trackingId ?? id;
    // The outline, not a label's text-box position: @cornerstonejs/adapters adds a POINT SCOORD for a moved
    // label box next to the measurement's own outline.
    const scoords = findAll(group, (n) => str(n, 'ValueType') === 'SCOORD');
    const scoord = scoords.find((n) => str(n, 'GraphicType')?.toUpperCase() !== 'POINT') ?? scoords[0];
    if (!scoord) {
      if (findAll(group, (n) => str(n, 'ValueType') === 'SCOORD3D').length > 0) {
        skipped.push(`${name}: 3D (patient coordinate) outlines are not supported; export image coordinates`);
      }
      // Derived groups (e.g. our own VBQ numbers) have no outline: not an ROI.
      return;
    }
    const image = findAll(scoord, (n) => str(n, 'ValueType') === 'IMAGE')[0] ?? findImageNear(group);
    const ref = image ? seq(image, 'ReferencedSOPSequence')[0] : undefined;
    const refSop = ref ? str(ref, 'ReferencedSOPInstanceUID') : undefined;
    if (!refSop) {
      skipped.push(`${name}: the outline references no image`);
      return;
    }
    const graphicType = str(scoord, 'GraphicType')?.toUpperCase();
    const points = graphicPoints(scoord);
    let shape: RoiShape;
    if (graphicType === 'ELLIPSE' && points.length === 4) shape = 'ellipse';
    else if ((graphicType === 'POLYLINE' || graphicType === 'POLYGON') && points.length >= 3)
      shape = 'polygon';
    else {
      skipped.push(`${name}: unsupported outline ${graphicType ?? '?'} with ${points.length} points`);
      return;
    }

    const findings = items
      .filter((i) => is(concept(i), SR_CODES.finding))
      .map((i) => code(i, 'ConceptCodeSequence'));
    const sites = items
      .filter((i) => is(concept(i), SR_CODES.findingSite))
      .map((i) => code(i, 'ConceptCodeSequence'));
    let kind: RoiKind | undefined;
    if (findings.some((f) => is(f, SR_CODES.csfRoi))) kind = 'csf';
    else if (findings.some((f) => is(f, SR_CODES.endplateRoi))) kind = 'endplate';
    let level: Level | undefined;
    for (const s of sites) {
      const l =
        s?.value && (s.scheme === 'SCT' || s.scheme === 'SRT') ? SITE_BY_CODE.get(s.value) : undefined;
      if (l) level = l;
    }
    // Fallback: free-text labels, in the places the viewers put them: a free-text finding (OHIF v2/v3 via
    // dcmjs: CST4 CORNERSTONEFREETEXT or 99dcmjs CS3DTEXT), a free-text finding site (older OHIF v3), a
    // TID 1501 Comment (current @cornerstonejs/adapters, which drops the free-text finding), the tracking
    // identifier ("<tool>:<label>").
    const siteTexts = sites
      .filter((s) => !(s?.value && (s.scheme === 'SCT' || s.scheme === 'SRT') && SITE_BY_CODE.has(s.value)))
      .map((s) => s?.meaning);
    const comments = findAll(group, (n) => is(concept(n), SR_CODES.comment)).map((n) => str(n, 'TextValue'));
    const labels = [
      ...[...findings.map((f) => f?.meaning), ...siteTexts, ...comments].filter(
        (m): m is string => typeof m === 'string' && m.trim() !== '',
      ),
      ...(trackingId
        ? [trackingId.includes(':') ? trackingId.slice(trackingId.lastIndexOf(':') + 1) : trackingId]
        : []),
    ];
    let labelText: string | undefined;
    for (const text of labels) {
      const parsed = parseLabel(text);
      if (!parsed) continue;
      labelText ??= text;
      kind ??= parsed.kind;
      level ??= parsed.level;
      if (kind && level) break;
    }
    kind ??= level ? 'body' : undefined;
    if (!kind || (kind !== 'csf' && !level)) {
      skipped.push(`${name}: no vertebral level or CSF label found`);
      return;
    }
    const mean = items.find((i) => is(concept(i), SR_CODES.mean));
    const viewerMean = mean ? num(seq(mean, 'MeasuredValueSequence')[0] ?? {}, 'NumericValue') : undefined;
    const frame = ref ? num(ref, 'ReferencedFrameNumber') : undefined;
    const roi: Roi = {
      id,
      label: labelText ?? (kind === 'csf' ? `CSF ${level ?? ''}`.trim() : (level ?? trackingId ?? '')),
      kind,
      shape,
      points: closedPolygon(shape, points),
      sopInstanceUID: refSop,
    };
    if (level) roi.level = level;
    if (frame !== undefined) roi.frameNumber = frame;
    const exclude = textOf(SR_CODES.exclusion);
    if (exclude) roi.exclude = exclude;
    if (viewerMean !== undefined) roi.viewerMean = viewerMean;
    rois.push(roi);
  });
  const seriesUid = str(sr, 'SeriesInstanceUID');
  const source: RoiSource = { kind: 'sr', srSopInstanceUID: sopInstanceUID };
  if (seriesUid) source.srSeriesInstanceUID = seriesUid;
  return { source, rois, skipped };
}

function findImageNear(group: NaturalizedDataset): NaturalizedDataset | undefined {
  return findAll(group, (n) => str(n, 'ValueType') === 'IMAGE')[0];
}

function closedPolygon(shape: RoiShape, pts: Point[]): Point[] {
  if (shape !== 'polygon' || pts.length < 2) return pts;
  const a = pts[0]!;
  const b = pts[pts.length - 1]!;
  // A closed POLYLINE repeats the first point; drop it so vertex counts match the outline.
  return a[0] === b[0] && a[1] === b[1] ? pts.slice(0, -1) : pts;
}

/** True when a dataset is an SR document (used to pick the ROI file out of a directory). */
export function isStructuredReport(ds: NaturalizedDataset): boolean {
  return (
    str(ds, 'Modality') === 'SR' ||
    strs(ds, 'SOPClassUID').some((u) => u.startsWith('1.2.840.10008.5.1.4.1.1.88.'))
  );
}
