import dcmjs from 'dcmjs';
import type { NaturalizedDataset } from 'dcmjs';
import { LOCAL_SCHEME, SR_CODES, vertebraCode } from './roi.js';
import type { Roi } from './roi.js';
import type { DicomHeader } from './dicom/header.js';
import { num, seq, str } from './dicom/attributes.js';
import type { MeasuredRoi, MeasurementResult, Metric } from './measurement.js';
import { BONE_QUALITY_DISPLAY } from './observations.js';

const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** Manufacturer written into our SRs; the DICOMweb fetch skips SRs carrying it (they are our output). */
export const SR_MANUFACTURER = 'spine-bone-health-cds';
/** Root UID for our implementation class (UUID-derived OID under 2.25, fixed). */
export const IMPLEMENTATION_CLASS_UID = '2.25.203517365316154532917480133958187420347';

type Code = { value: string; scheme: string; meaning: string };

function codeItem(c: Code): NaturalizedDataset {
  return { CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning };
}

/** DS values are limited to 16 characters: keep as many significant digits as fit. */
export function formatDs(v: number): string {
  for (let p = 12; p >= 1; p--) {
    const s = String(Number(v.toPrecision(p)));
    if (s.length <= 16) return s;
  }
  return '0';
}

const NO_UNITS: Code = { value: '1', scheme: 'UCUM', meaning: 'no units' };

function numItem(
  concept: Code,
  value: number,
  unit: Code,
  relationship: string,
  children: NaturalizedDataset[] = [],
): NaturalizedDataset {
  const item: NaturalizedDataset = {
    RelationshipType: relationship,
    ValueType: 'NUM',
    ConceptNameCodeSequence: [codeItem(concept)],
    MeasuredValueSequence: [
      { MeasurementUnitsCodeSequence: [codeItem(unit)], NumericValue: formatDs(value) },
    ],
  };
  if (children.length > 0) item.ContentSequence = children;
  return item;
}

function textItem(concept: Code, text: string, relationship = 'HAS OBS CONTEXT'): NaturalizedDataset {
  return {
    RelationshipType: relationship,
    ValueType: 'TEXT',
    ConceptNameCodeSequence: [codeItem(concept)],
    TextValue: text,
  };
}

function codeValueItem(concept: Code, value: Code, relationship = 'CONTAINS'): NaturalizedDataset {
  return {
    RelationshipType: relationship,
    ValueType: 'CODE',
    ConceptNameCodeSequence: [codeItem(concept)],
    ConceptCodeSequence: [codeItem(value)],
  };
}

function graphic(roi: Roi): { type: string; data: number[] } {
  if (roi.shape === 'ellipse') return { type: 'ELLIPSE', data: roi.points.flat() };
  const pts =
    roi.shape === 'rectangle'
      ? (() => {
          const [[x0, y0], [x1, y1]] = roi.points as [[number, number], [number, number]];
          return [
            [x0, y0],
            [x1, y0],
            [x1, y1],
            [x0, y1],
          ];
        })()
      : roi.points;
  const closed = [...pts, pts[0]!];
  return { type: 'POLYLINE', data: closed.flat() };
}

function imageRef(image: DicomHeader, frame?: number): NaturalizedDataset {
  const ref: NaturalizedDataset = {
    ReferencedSOPClassUID: image.sopClassUID,
    ReferencedSOPInstanceUID: image.sopInstanceUID,
  };
  if (frame !== undefined) ref.ReferencedFrameNumber = String(frame);
  return { RelationshipType: 'SELECTED FROM', ValueType: 'IMAGE', ReferencedSOPSequence: [ref] };
}

function measurementGroup(m: MeasuredRoi, trackingUid: string): NaturalizedDataset {
  const { roi, stats, image } = m;
  const g = graphic(roi);
  const scoord: NaturalizedDataset = {
    RelationshipType: 'INFERRED FROM',
    ValueType: 'SCOORD',
    GraphicType: g.type,
    GraphicData: g.data,
    ContentSequence: [imageRef(image, roi.frameNumber)],
  };
  const label =
    roi.kind === 'csf'
      ? `CSF ${roi.level ?? ''}`.trim()
      : roi.kind === 'endplate'
        ? `${roi.level ?? ''} endplate`.trim()
        : (roi.level ?? roi.label);
  const items: NaturalizedDataset[] = [
    textItem(SR_CODES.trackingIdentifier, label),
    {
      RelationshipType: 'HAS OBS CONTEXT',
      ValueType: 'UIDREF',
      ConceptNameCodeSequence: [codeItem(SR_CODES.trackingUid)],
      UID: trackingUid,
    },
  ];
  if (roi.kind === 'csf') items.push(codeValueItem(SR_CODES.finding, SR_CODES.csfRoi));
  if (roi.kind === 'endplate') items.push(codeValueItem(SR_CODES.finding, SR_CODES.endplateRoi));
  const site = roi.level ? vertebraCode(roi.level) : undefined;
  if (site) {
    items.push(
      codeValueItem(
        SR_CODES.findingSite,
        { value: site.code, scheme: 'SCT', meaning: site.display },
        'HAS CONCEPT MOD',
      ),
    );
  }
  if (roi.exclude) items.push(textItem(SR_CODES.exclusion, roi.exclude, 'CONTAINS'));
  items.push(numItem(SR_CODES.mean, stats.mean, NO_UNITS, 'CONTAINS', [scoord]));
  items.push(numItem(SR_CODES.standardDeviation, stats.sd, NO_UNITS, 'CONTAINS'));
  return {
    RelationshipType: 'CONTAINS',
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeItem(SR_CODES.measurementGroup)],
    ContinuityOfContent: 'SEPARATE',
    ContentSequence: items,
  };
}

function metricCode(metric: Metric): Code {
  return { value: metric, scheme: LOCAL_SCHEME, meaning: BONE_QUALITY_DISPLAY[metric] ?? metric };
}

export interface SrWriterInput {
  results: MeasurementResult[];
  rois: MeasuredRoi[];
  /** Generates DICOM UIDs (inject for deterministic tests). */
  uid: () => string;
  now: Date;
  seriesNumber?: number;
}

export interface WrittenSr {
  buffer: Uint8Array;
  sopInstanceUID: string;
  seriesInstanceUID: string;
  studyInstanceUID: string;
}

function dicomDateTime(d: Date): { date: string; time: string } {
  const iso = d.toISOString();
  return { date: iso.slice(0, 10).replace(/-/g, ''), time: iso.slice(11, 19).replace(/:/g, '') };
}

/**
 * Writes a TID 1500 measurement report (Comprehensive SR) with one measurement group per ROI (outline,
 * level, our mean and SD) and one derived group with the valid metric values, referencing the source images,
 * in the same study. Our own reader ({@link readRoisFromSr}) and OHIF read it back.
 */
export function writeMeasurementSr(input: SrWriterInput): WrittenSr {
  const first = input.rois[0];
  if (!first) throw new Error('no ROIs to write');
  const image = first.image;
  const sopInstanceUID = input.uid();
  const seriesInstanceUID = input.uid();
  const { date, time } = dicomDateTime(input.now);
  const groups = input.rois.map((m) => measurementGroup(m, input.uid()));
  const valid = input.results.filter((r) => r.validity.valid && r.value !== null);
  if (valid.length > 0) {
    groups.push({
      RelationshipType: 'CONTAINS',
      ValueType: 'CONTAINER',
      ConceptNameCodeSequence: [codeItem(SR_CODES.measurementGroup)],
      ContinuityOfContent: 'SEPARATE',
      ContentSequence: [
        textItem(SR_CODES.trackingIdentifier, 'Bone quality scores'),
        {
          RelationshipType: 'HAS OBS CONTEXT',
          ValueType: 'UIDREF',
          ConceptNameCodeSequence: [codeItem(SR_CODES.trackingUid)],
          UID: input.uid(),
        },
        ...valid.map((r) =>
          numItem(
            metricCode(r.metric),
            r.value!,
            r.unit === 'HU' ? { value: "[hnsf'U]", scheme: 'UCUM', meaning: 'Hounsfield unit' } : NO_UNITS,
            'CONTAINS',
          ),
        ),
      ],
    });
  }
  const bySeries = new Map<string, Map<string, DicomHeader>>();
  for (const m of input.rois) {
    const s = bySeries.get(m.image.seriesInstanceUID) ?? new Map<string, DicomHeader>();
    s.set(m.image.sopInstanceUID, m.image);
    bySeries.set(m.image.seriesInstanceUID, s);
  }
  const ds: NaturalizedDataset = {
    ...image.patientStudy,
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: sopInstanceUID,
    StudyInstanceUID: image.studyInstanceUID,
    SeriesInstanceUID: seriesInstanceUID,
    Modality: 'SR',
    SeriesNumber: String(input.seriesNumber ?? 9901),
    SeriesDescription: 'Bone quality measurements (VBQ)',
    InstanceNumber: '1',
    Manufacturer: SR_MANUFACTURER,
    ContentDate: date,
    ContentTime: time,
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeItem(SR_CODES.imagingMeasurementReport)],
    ContinuityOfContent: 'SEPARATE',
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    CodingSchemeIdentificationSequence: [
      {
        CodingSchemeDesignator: LOCAL_SCHEME,
        CodingSchemeName: 'Spine bone-health CDS bone-quality codes',
        CodingSchemeURL: 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality',
        CodingSchemeResponsibleOrganization: 'spine-bone-health-cds',
      },
    ],
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: image.studyInstanceUID,
        ReferencedSeriesSequence: [...bySeries].map(([seriesUid, sops]) => ({
          SeriesInstanceUID: seriesUid,
          ReferencedSOPSequence: [...sops.values()].map((h) => ({
            ReferencedSOPClassUID: h.sopClassUID,
            ReferencedSOPInstanceUID: h.sopInstanceUID,
          })),
        })),
      },
    ],
    ContentSequence: [
      codeValueItem(
        { value: '121049', scheme: 'DCM', meaning: 'Language of Content Item and Descendants' },
        { value: 'en-US', scheme: 'RFC5646', meaning: 'English (United States)' },
        'HAS CONCEPT MOD',
      ),
      codeValueItem(
        { value: '121005', scheme: 'DCM', meaning: 'Observer Type' },
        { value: '121007', scheme: 'DCM', meaning: 'Device' },
        'HAS OBS CONTEXT',
      ),
      {
        RelationshipType: 'HAS OBS CONTEXT',
        ValueType: 'UIDREF',
        ConceptNameCodeSequence: [
          codeItem({ value: '121012', scheme: 'DCM', meaning: 'Device Observer UID' }),
        ],
        UID: IMPLEMENTATION_CLASS_UID,
      },
      codeValueItem(
        { value: '121058', scheme: 'DCM', meaning: 'Procedure reported' },
        metricCode('vbq-l1-l4'),
        'HAS CONCEPT MOD',
      ),
      {
        RelationshipType: 'CONTAINS',
        ValueType: 'CONTAINER',
        ConceptNameCodeSequence: [codeItem(SR_CODES.imagingMeasurements)],
        ContinuityOfContent: 'SEPARATE',
        ContentSequence: groups,
      },
    ],
  };
  const meta: NaturalizedDataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: COMPREHENSIVE_SR,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: 'SBHCDS_VBQ_1',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  return {
    buffer: new Uint8Array(dict.write()),
    sopInstanceUID,
    seriesInstanceUID,
    studyInstanceUID: image.studyInstanceUID,
  };
}

/** Reads the metric values of our derived group back from an SR (for round-trip checks and display). */
export function readSrMetricValues(sr: NaturalizedDataset): Partial<Record<Metric, number>> {
  const out: Partial<Record<Metric, number>> = {};
  const walk = (n: NaturalizedDataset): void => {
    for (const c of seq(n, 'ContentSequence')) {
      const concept = seq(c, 'ConceptNameCodeSequence')[0];
      if (
        str(c, 'ValueType') === 'NUM' &&
        concept &&
        str(concept, 'CodingSchemeDesignator') === LOCAL_SCHEME
      ) {
        const v = num(seq(c, 'MeasuredValueSequence')[0] ?? {}, 'NumericValue');
        const code = str(concept, 'CodeValue') as Metric | undefined;
        if (code && v !== undefined) out[code] = v;
      }
      walk(c);
    }
  };
  walk(sr);
  return out;
}
