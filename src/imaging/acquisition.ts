import type { DicomHeader } from './dicom/header.js';
import rules from './acquisition-rules.json' with { type: 'json' };

/**
 * Stable refusal codes: a refused measurement carries these, never a number. Published as the CodeSystem
 * `vbq-refusal-reason` in fhir-profiles/ (a test keeps the two equal).
 */
export const REFUSAL_CODES = [
  'not-mr',
  'not-ct',
  'not-t1',
  'weighting-unknown',
  'flair-or-inversion-recovery',
  'fat-suppressed',
  'not-spin-echo',
  'contrast-enhanced',
  'not-sagittal',
  'orientation-unknown',
  'not-spine',
  'region-mismatch',
  'mixed-series',
  'csf-roi-missing',
  'too-few-levels',
  'no-included-levels',
] as const;

export type RefusalCode = (typeof REFUSAL_CODES)[number];

export interface Refusal {
  code: RefusalCode;
  message: string;
}

export type Region = 'lumbar' | 'cervical';

/** The thresholds in use (from `acquisition-rules.json`, which cites their sources). */
export const ACQUISITION_RULES = rules;

export type Weighting = 'T1' | 'T2' | 'PD' | 'unknown';

function describe(h: DicomHeader): string {
  return [h.seriesDescription, h.protocolName, h.sequenceName].filter(Boolean).join(' ').toLowerCase();
}

const token = (t: string): RegExp => new RegExp(`(^|[^a-z0-9])${t}(?![a-z0-9])`, 'i');
const T1_WORDS = [token('t1'), token('t1w'), token('t1wi'), /(^|[^a-z0-9])t1[_-]/i];
const T2_WORDS = [token('t2'), token('t2w'), token('t2wi'), /(^|[^a-z0-9])t2[_-]/i, token('t2\\*')];
const PD_WORDS = [token('pd'), token('pdw'), /proton density/i];
const IR_WORDS = [/flair/i, /\bstir\b/i, /tirm/i, token('ir'), /inversion/i];
const FS_WORDS = [
  token('fs'),
  /fat[ _-]?sat/i,
  /spair/i,
  /\bspir\b/i,
  /dixon[ _-]?(w|water)\b/i,
  /\bwater\b/i,
];
const CONTRAST_WORDS = [
  /\+\s*c\b/i,
  /\bc\s*\+/i,
  /\bgad/i,
  /\bgd\b/i,
  /post[ _-]?(contrast|gad|gd|km)/i,
  /\bkm\b/i,
  /contrast/i,
];
const NO_CONTRAST = /(non|without|w\/o|wo|pre|nativ|native)[ _-]?(contrast|gad|gd|km|\+?c\b)/i;
const SPINE_WORDS =
  /spine|spinal|lumbar|cervical|thoracic|sacr|vertebr|l[_ -]?spine|c[_ -]?spine|lws|hws|bws|\bws\b|wirbel|rachis/i;
const NON_SPINE_WORDS =
  /shoulder|knee|ankle|wrist|elbow|hand|foot|brain|head|neuro|orbit|breast|cardiac|heart|prostate|liver|abdomen|hip\b/i;
const CERVICAL_WORDS = /cervical|\bc[_ -]?spine|\bhws\b|\bcsp/i;
const LUMBAR_WORDS = /lumbar|\bl[_ -]?spine|\blws\b|\blsp/i;

/** Best guess of the MR weighting from description words, then TR/TE. */
export function classifyWeighting(h: DicomHeader): Weighting {
  const d = describe(h);
  if (T2_WORDS.some((r) => r.test(d))) return 'T2';
  if (PD_WORDS.some((r) => r.test(d))) return 'PD';
  const { maxRepetitionTimeMs, maxEchoTimeMs } = rules.t1;
  if (h.trMs !== undefined && h.teMs !== undefined) {
    if (h.trMs <= maxRepetitionTimeMs && h.teMs <= maxEchoTimeMs) return 'T1';
    return h.teMs > maxEchoTimeMs ? 'T2' : 'PD';
  }
  return T1_WORDS.some((r) => r.test(d)) ? 'T1' : 'unknown';
}

function isInversionRecovery(h: DicomHeader): boolean {
  return (
    h.scanningSequence.includes('IR') ||
    h.scanOptions.includes('IR') ||
    (h.inversionTimeMs !== undefined && h.inversionTimeMs > 0) ||
    IR_WORDS.some((r) => r.test(describe(h)))
  );
}

/** A short sequence label such as "T1 TSE", "T1 SE", "T2 TSE", "T1 GRE", "T1 IR-TSE". */
export function sequenceLabel(h: DicomHeader): string {
  if (h.modality !== 'MR') return h.modality || 'unknown';
  const w = classifyWeighting(h);
  const ss = h.scanningSequence;
  const turbo = (h.echoTrainLength ?? 0) > 1 || /tse|fse|turbo|fast/i.test(describe(h));
  let tech = ss.includes('SE')
    ? turbo
      ? 'TSE'
      : 'SE'
    : ss.includes('GR')
      ? 'GRE'
      : ss.includes('EP')
        ? 'EPI'
        : '';
  if (isInversionRecovery(h)) tech = tech ? `IR-${tech}` : 'IR';
  return [w === 'unknown' ? 'unknown weighting' : w, tech].filter(Boolean).join(' ');
}

/**
 * The acquisition-level reasons an MR image cannot carry a VBQ-family measurement (empty = acceptable).
 * `region` is the spine region the ROIs name, used to catch a cervical series measured as lumbar.
 */
export function assessMrImage(h: DicomHeader, region: Region): Refusal[] {
  const out: Refusal[] = [];
  if (h.modality !== 'MR') {
    out.push({ code: 'not-mr', message: `modality is ${h.modality || 'missing'}, VBQ needs an MR image` });
    return out;
  }
  const d = describe(h);
  if (isInversionRecovery(h)) {
    out.push({
      code: 'flair-or-inversion-recovery',
      message:
        'inversion-recovery / FLAIR T1 changes the CSF reference signal; VBQ needs a T1 spin-echo image',
    });
  }
  const w = classifyWeighting(h);
  if (w === 'T2' || w === 'PD') {
    out.push({
      code: 'not-t1',
      message: `the image is ${w}-weighted (TR ${h.trMs ?? '?'} ms, TE ${h.teMs ?? '?'} ms${h.seriesDescription ? `, "${h.seriesDescription}"` : ''}); VBQ needs T1`,
    });
  } else if (w === 'unknown') {
    out.push({
      code: 'weighting-unknown',
      message: 'T1 weighting cannot be confirmed: no TR/TE and no T1 label',
    });
  }
  if (
    h.scanningSequence.length > 0 &&
    !h.scanningSequence.includes('SE') &&
    h.scanningSequence.includes('GR')
  ) {
    out.push({ code: 'not-spin-echo', message: 'gradient-echo image; VBQ is defined on spin-echo T1' });
  }
  if (h.scanOptions.includes('FS') || FS_WORDS.some((r) => r.test(d))) {
    out.push({
      code: 'fat-suppressed',
      message: 'fat suppression removes the marrow fat signal VBQ measures',
    });
  }
  if (h.contrastAgent !== undefined || (CONTRAST_WORDS.some((r) => r.test(d)) && !NO_CONTRAST.test(d))) {
    out.push({
      code: 'contrast-enhanced',
      message: `contrast-enhanced image${h.contrastAgent ? ` (agent: ${h.contrastAgent})` : ''}; VBQ needs a non-contrast T1`,
    });
  }
  if (h.plane === 'unknown') {
    out.push({
      code: 'orientation-unknown',
      message: 'no ImageOrientationPatient: cannot confirm a sagittal image',
    });
  } else if (h.plane !== 'sagittal') {
    out.push({
      code: 'not-sagittal',
      message: `the image plane is ${h.plane}; VBQ uses a midsagittal image`,
    });
  }
  out.push(...assessRegion(h, region));
  return out;
}

/** True when the header names a spine examination (body part, study, series or protocol). */
export function isSpineExamination(h: DicomHeader): boolean {
  return SPINE_WORDS.test(
    [h.bodyPartExamined, h.studyDescription, h.seriesDescription, h.protocolName].filter(Boolean).join(' '),
  );
}

/** Refuses images whose header names a body part other than the spine, or the other spine region. */
export function assessRegion(h: DicomHeader, region: Region): Refusal[] {
  const text = [h.bodyPartExamined, h.studyDescription, h.seriesDescription, h.protocolName]
    .filter(Boolean)
    .join(' ');
  if (text === '') return [];
  if (!SPINE_WORDS.test(text) && NON_SPINE_WORDS.test(text)) {
    return [{ code: 'not-spine', message: `the header describes a non-spine examination ("${text}")` }];
  }
  if (region === 'lumbar' && CERVICAL_WORDS.test(text) && !LUMBAR_WORDS.test(text)) {
    return [
      { code: 'region-mismatch', message: `lumbar levels measured on a cervical examination ("${text}")` },
    ];
  }
  if (region === 'cervical' && LUMBAR_WORDS.test(text) && !CERVICAL_WORDS.test(text)) {
    return [
      { code: 'region-mismatch', message: `cervical levels measured on a lumbar examination ("${text}")` },
    ];
  }
  return [];
}
