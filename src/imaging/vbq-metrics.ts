/**
 * The VBQ family from measured ROIs: lumbar VBQ, EBQ, S1 VBQ, C-VBQ and CT L1 HU, each with its validity
 * (acquisition and ROI checks). Pure: per-ROI statistics in, per-metric results out.
 */
import { AppError } from '../errors.js';
import { ACQUISITION_RULES, assessMrImage, assessRegion, sequenceLabel } from './acquisition.js';
import type { Refusal, Region } from './acquisition.js';
import type { DicomHeader } from './dicom/header.js';
import { roiDigest } from './measurement.js';
import type {
  AcquisitionFacts,
  CsfValue,
  Exclusion,
  LevelValue,
  MeasuredRoi,
  MeasurementResult,
  Metric,
} from './measurement.js';
import type { Level, RoiInput } from './roi.js';
import { statsOf } from './roi-stats.js';
import type { RoiStats } from './roi-stats.js';

const LUMBAR_VBQ_LEVELS: Level[] = ['L1', 'L2', 'L3', 'L4'];
const CERVICAL_VBQ_LEVELS: Level[] = ['C3', 'C4', 'C5', 'C6'];
const LUMBAR_CSF = ACQUISITION_RULES.csf.lumbarPreference as Level[];
const CERVICAL_CSF = ACQUISITION_RULES.csf.cervicalPreference as Level[];

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Pixel values per ROI id: pooled statistics over several ROIs of one level need the raw values. */
export type Pool = Map<string, Float64Array>;

function poolStats(pool: Pool, rois: MeasuredRoi[]): RoiStats {
  if (rois.length === 1) return rois[0]!.stats;
  const parts = rois.map((m) => pool.get(m.roi.id) ?? new Float64Array());
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return statsOf(all);
}

function levelValue(pool: Pool, level: Level, rois: MeasuredRoi[]): LevelValue {
  const s = poolStats(pool, rois);
  return {
    level,
    si: s.mean,
    pixelCount: s.pixelCount,
    sd: s.sd,
    median: s.median,
    roiIds: rois.map((m) => m.roi.id),
  };
}

function byLevel(rois: MeasuredRoi[], levels: Level[]): Map<Level, MeasuredRoi[]> {
  const out = new Map<Level, MeasuredRoi[]>();
  for (const l of levels) {
    const at = rois.filter((m) => m.roi.level === l);
    if (at.length > 0) out.set(l, at);
  }
  return out;
}

function exclusionOf(rois: MeasuredRoi[]): string | undefined {
  const reasons = [...new Set(rois.map((m) => m.roi.exclude).filter((r): r is string => !!r))];
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

function chooseCsf(
  pool: Pool,
  csfRois: MeasuredRoi[],
  preference: Level[],
): { csf: CsfValue | null; refusal?: Refusal } {
  const usable = csfRois.filter((m) => !m.roi.exclude && m.roi.level !== undefined);
  for (const level of preference) {
    const at = usable.filter((m) => m.roi.level === level);
    if (at.length > 0) {
      const v = levelValue(pool, level, at);
      return { csf: { ...v } };
    }
  }
  const found = csfRois.map((m) => `${m.roi.level ?? 'no level'}${m.roi.exclude ? ' (excluded)' : ''}`);
  return {
    csf: null,
    refusal: {
      code: 'csf-roi-missing',
      message: `no usable CSF ROI at ${preference.join(' / ')}${found.length > 0 ? `; found: ${found.join(', ')}` : ''}`,
    },
  };
}

function acquisitionFacts(h: DicomHeader): AcquisitionFacts {
  const a: AcquisitionFacts = { modality: h.modality, sequence: sequenceLabel(h) };
  if (h.fieldStrengthT !== undefined) a.fieldStrengthT = h.fieldStrengthT;
  const scanner = [h.manufacturer, h.model].filter(Boolean).join(' ');
  if (scanner) a.scanner = scanner;
  if (h.trMs !== undefined) a.trMs = h.trMs;
  if (h.teMs !== undefined) a.teMs = h.teMs;
  if (h.pixelBandwidthHz !== undefined) a.pixelBandwidth = h.pixelBandwidthHz;
  const seriesDate = h.seriesDate ?? h.studyDate;
  if (seriesDate) a.seriesDate = seriesDate;
  if (h.acquisitionDateTime) a.acquisitionDateTime = h.acquisitionDateTime;
  if (h.timezoneOffset) a.timezoneOffset = h.timezoneOffset;
  if (h.contrastAgent) a.contrastAgent = h.contrastAgent;
  return a;
}

function uniqueReasons(reasons: Refusal[]): Refusal[] {
  const seen = new Set<string>();
  return reasons.filter((r) => {
    const k = `${r.code}|${r.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function imageRefusals(images: DicomHeader[], region: Region): Refusal[] {
  const out = images.flatMap((h) => assessMrImage(h, region));
  const series = new Set(images.map((h) => h.seriesInstanceUID));
  if (series.size > 1) {
    out.push({
      code: 'mixed-series',
      message: `the ROIs lie on ${series.size} different series; use one T1 series`,
    });
  }
  return uniqueReasons(out);
}

export function computeMetrics(measured: MeasuredRoi[], pool: Pool, input: RoiInput): MeasurementResult[] {
  const body = measured.filter((m) => m.roi.kind === 'body');
  const endplate = measured.filter((m) => m.roi.kind === 'endplate');
  const csf = measured.filter((m) => m.roi.kind === 'csf');
  const lumbarBody = body.filter((m) => LUMBAR_VBQ_LEVELS.includes(m.roi.level!));
  const s1Body = body.filter((m) => m.roi.level === 'S1');
  const cervicalBody = body.filter((m) => CERVICAL_VBQ_LEVELS.includes(m.roi.level!));
  const ctL1 = body.filter((m) => m.roi.level === 'L1');

  const primary = (rois: MeasuredRoi[]): DicomHeader => (rois[0] ?? measured[0]!).image;
  const base = (metric: Metric, rois: MeasuredRoi[]) => {
    const h = primary(rois);
    const source: MeasurementResult['roiSource'] =
      input.source.kind === 'sr'
        ? { kind: 'sr', srSopInstanceUID: input.source.srSopInstanceUID, roiDigest: digest }
        : { kind: 'json', roiDigest: digest };
    const patient: MeasurementResult['patient'] = h.patientId ? { dicomPatientId: h.patientId } : {};
    return {
      metric,
      studyInstanceUID: h.studyInstanceUID,
      seriesInstanceUID: h.seriesInstanceUID,
      roiSource: source,
      patient,
      acquisition: acquisitionFacts(h),
    };
  };
  const finish = (
    b: ReturnType<typeof base>,
    rest: Omit<
      MeasurementResult,
      keyof ReturnType<typeof base> | 'validity' | 'imageSopInstanceUIDs' | 'value'
    >,
    value: number,
    reasons: Refusal[],
    used: MeasuredRoi[],
  ): MeasurementResult => {
    const r = uniqueReasons(reasons);
    return {
      ...b,
      ...rest,
      value: r.length === 0 ? value : null,
      validity: { valid: r.length === 0, reasons: r },
      imageSopInstanceUIDs: [...new Set(used.map((m) => m.image.sopInstanceUID))],
    };
  };

  const digest = roiDigest(input);
  const results: MeasurementResult[] = [];
  const hasCt = measured.some((m) => m.image.modality === 'CT');

  /**
   * The CSF reference for a metric and the image checks over every image it touches: the ROIs of the
   * metric (measured or excluded) and the CSF ROIs it uses. `used` = measured ROIs plus those CSF ROIs.
   */
  const csfAndImageChecks = (
    rois: MeasuredRoi[],
    measuredRois: MeasuredRoi[],
    csfPreference: Level[],
    region: Region,
  ): { csfValue: CsfValue | null; used: MeasuredRoi[]; reasons: Refusal[] } => {
    const { csf: csfValue, refusal } = chooseCsf(pool, csf, csfPreference);
    const csfRois = csfValue ? csf.filter((m) => csfValue.roiIds.includes(m.roi.id)) : [];
    const used = [...measuredRois, ...csfRois];
    const reasons = imageRefusals(
      [...new Map(used.concat(rois).map((m) => [m.image.sopInstanceUID, m.image])).values()],
      region,
    );
    if (refusal) reasons.push(refusal);
    return { csfValue, used, reasons };
  };

  const vbqLike = (
    metric: Metric,
    rois: MeasuredRoi[],
    levels: Level[],
    csfPreference: Level[],
    region: Region,
    minLevels: number,
  ): void => {
    const grouped = byLevel(rois, levels);
    const included: LevelValue[] = [];
    const exclusions: Exclusion[] = [];
    for (const [level, at] of grouped) {
      const ex = exclusionOf(at);
      if (ex) exclusions.push({ level, reason: ex });
      else included.push(levelValue(pool, level, at));
    }
    const measuredRois = rois.filter((m) => included.some((l) => l.roiIds.includes(m.roi.id)));
    const { csfValue, used, reasons } = csfAndImageChecks(rois, measuredRois, csfPreference, region);
    if (included.length < minLevels) {
      reasons.push({
        code: minLevels > 1 ? 'too-few-levels' : 'no-included-levels',
        message: `${included.length} of ${levels.join('/')} usable after exclusions; at least ${minLevels} needed`,
      });
    }
    const si = included.length > 0 ? median(included.map((l) => l.si)) : NaN;
    const value = csfValue && csfValue.si > 0 ? si / csfValue.si : NaN;
    if (csfValue && !(csfValue.si > 0)) {
      reasons.push({ code: 'csf-roi-missing', message: 'the CSF ROI has no positive signal' });
    }
    results.push(
      finish(
        base(metric, rois),
        { unit: '1', levels: included, csf: csfValue, exclusions },
        value,
        reasons,
        used,
      ),
    );
  };

  if (lumbarBody.length > 0) {
    vbqLike(
      'vbq-l1-l4',
      lumbarBody,
      LUMBAR_VBQ_LEVELS,
      LUMBAR_CSF,
      'lumbar',
      ACQUISITION_RULES.levels.lumbarMinimumIncluded,
    );
  }
  if (endplate.length > 0) {
    // EBQ: each endplate ROI is its own sample (upper and lower endplates of a level differ).
    const included: LevelValue[] = [];
    const exclusions: Exclusion[] = [];
    for (const m of endplate) {
      if (m.roi.exclude) exclusions.push({ level: m.roi.level!, reason: m.roi.exclude });
      else included.push(levelValue(pool, m.roi.level!, [m]));
    }
    const region: Region = endplate.every((m) => m.roi.level?.startsWith('C')) ? 'cervical' : 'lumbar';
    const { csfValue, used, reasons } = csfAndImageChecks(
      endplate,
      endplate.filter((m) => !m.roi.exclude),
      region === 'cervical' ? CERVICAL_CSF : LUMBAR_CSF,
      region,
    );
    if (included.length === 0) {
      reasons.push({ code: 'no-included-levels', message: 'every endplate ROI is excluded' });
    }
    const mean = included.reduce((s, l) => s + l.si, 0) / included.length;
    const value = csfValue && csfValue.si > 0 ? mean / csfValue.si : NaN;
    results.push(
      finish(
        base('ebq', endplate),
        { unit: '1', levels: included, csf: csfValue, exclusions },
        value,
        reasons,
        used,
      ),
    );
  }
  if (s1Body.length > 0) vbqLike('vbq-s1', s1Body, ['S1'], LUMBAR_CSF, 'lumbar', 1);
  if (cervicalBody.length > 0) {
    vbqLike(
      'c-vbq',
      cervicalBody,
      CERVICAL_VBQ_LEVELS,
      CERVICAL_CSF,
      'cervical',
      ACQUISITION_RULES.levels.cervicalMinimumIncluded,
    );
  }
  if (hasCt && ctL1.length > 0) {
    const ex = exclusionOf(ctL1);
    const reasons: Refusal[] = [];
    const images = [...new Map(ctL1.map((m) => [m.image.sopInstanceUID, m.image])).values()];
    for (const h of images) {
      if (h.modality !== 'CT')
        reasons.push({ code: 'not-ct', message: `modality is ${h.modality}; L1 HU needs CT` });
      reasons.push(...assessRegion(h, 'lumbar'));
    }
    if (ex) reasons.push({ code: 'no-included-levels', message: `L1 is excluded (${ex})` });
    const lv = levelValue(pool, 'L1', ctL1);
    results.push(
      finish(
        base('ct-hu-l1', ctL1),
        {
          unit: 'HU',
          levels: ex ? [] : [lv],
          csf: null,
          exclusions: ex ? [{ level: 'L1', reason: ex }] : [],
        },
        lv.si,
        reasons,
        ctL1,
      ),
    );
  }
  if (results.length === 0) {
    throw new AppError(
      'invalid-roi',
      'the ROIs allow no metric: need vertebral body ROIs at L1-L4, S1 or C3-C6, or endplate ROIs (plus a CSF ROI)',
    );
  }
  return results;
}
