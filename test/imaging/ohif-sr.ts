import dcmjs from 'dcmjs';
import type { NaturalizedDataset } from 'dcmjs';
import { blockByName, ellipseIn, type Phantom } from '../helpers/phantom.js';

export interface ViewerRoi {
  /** What a user typed as the annotation label, e.g. "L1", "CSF L3". */
  label: string;
  shape: 'ellipse' | 'polyline';
  points: [number, number][];
  sopInstanceUID: string;
  /** SNOMED finding site to add (as OHIF does when the label was picked from a list). */
  findingSite?: { code: string; meaning: string; scheme?: 'SCT' | 'SRT' };
}

/**
 * Where the writer puts the label: `finding` = a free-text finding (CST4 CORNERSTONEFREETEXT, OHIF via
 * dcmjs); `finding-site` = only a free-text finding site (older OHIF v3); `comment` = only a TID 1501
 * Comment (DCM 121106) TEXT item plus the label box position as a POINT SCOORD, as the current
 * @cornerstonejs/adapters LabelData writes it (it removes the free-text finding).
 */
export type ViewerLabelLayout = 'finding' | 'finding-site' | 'comment';

/**
 * Builds a TID 1500 SR the way OHIF / Cornerstone adapters do, with dcmjs's own TID1500 / TID300 classes:
 * label as a free-text finding (CST4 CORNERSTONEFREETEXT), tracking identifier "<tool>:<label>" text,
 * the SCOORD under the first numeric item. Returns a Part-10 buffer.
 */
export function buildViewerSr(
  p: Phantom,
  rois: ViewerRoi[],
  sopInstanceUID = '2.25.999000111222333.1',
  layout: ViewerLabelLayout = 'finding',
  /** Attributes to set on the document (e.g. a later ContentTime for a corrected report). */
  extra: NaturalizedDataset = {},
): Buffer {
  const { TID1500, TID300 } = dcmjs.utilities;
  const groups = rois.map((r) => {
    const props: Record<string, unknown> = {
      points: r.points.map(([x, y]) => ({ x, y })),
      ReferencedSOPSequence: {
        ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
        ReferencedSOPInstanceUID: r.sopInstanceUID,
      },
      mean: 123.4,
      stdDev: 5.6,
      area: 100,
      areaUnit: 'mm2',
      modalityUnit: '1',
      trackingIdentifierTextValue: `Cornerstone3DTools@^0.1.0:${r.shape === 'ellipse' ? 'EllipticalROI' : 'PlanarFreehandROI'}`,
      ...(layout === 'finding'
        ? {
            finding: {
              CodeValue: 'CORNERSTONEFREETEXT',
              CodingSchemeDesignator: 'CST4',
              CodeMeaning: r.label,
            },
          }
        : {}),
      findingSites: [
        ...(r.findingSite
          ? [
              {
                CodeValue: r.findingSite.code,
                CodingSchemeDesignator: r.findingSite.scheme ?? 'SCT',
                CodeMeaning: r.findingSite.meaning,
              },
            ]
          : []),
        ...(layout === 'finding-site'
          ? [{ CodeValue: 'CORNERSTONEFREETEXT', CodingSchemeDesignator: 'CST4', CodeMeaning: r.label }]
          : []),
      ],
    };
    const m = r.shape === 'ellipse' ? new TID300.Ellipse(props) : new TID300.Polyline(props);
    if (layout !== 'comment') return new TID1500.TID1501MeasurementGroup([m]);
    const refSop = props.ReferencedSOPSequence;
    const labelled = {
      ReferencedSOPSequence: refSop,
      contentItem: (): NaturalizedDataset[] => [
        ...(m as unknown as { contentItem(): NaturalizedDataset[] }).contentItem(),
        {
          RelationshipType: 'CONTAINS',
          ValueType: 'TEXT',
          ConceptNameCodeSequence: {
            CodeValue: '121106',
            CodingSchemeDesignator: 'DCM',
            CodeMeaning: 'Comment',
          },
          TextValue: r.label,
        },
        {
          RelationshipType: 'CONTAINS',
          ValueType: 'SCOORD',
          ConceptNameCodeSequence: {
            CodeValue: 'TextPosition',
            CodingSchemeDesignator: '99CS3D',
            CodeMeaning: 'Text Annotation Position',
          },
          GraphicType: 'POINT',
          GraphicData: [r.points[0]![0], r.points[0]![1]],
          ContentSequence: [
            { RelationshipType: 'SELECTED FROM', ValueType: 'IMAGE', ReferencedSOPSequence: refSop },
          ],
        },
      ],
    };
    return new TID1500.TID1501MeasurementGroup([labelled as unknown as typeof m]);
  });
  const report = new TID1500.TID1500MeasurementReport({ TID1501MeasurementGroups: groups });
  const source: NaturalizedDataset = {
    StudyInstanceUID: p.studyInstanceUID,
    SeriesInstanceUID: p.seriesInstanceUID,
    PatientID: 'PHANTOM-001',
    PatientName: 'Phantom^Lumbar',
    _meta: {},
    _vrMap: {},
  };
  const sr = new dcmjs.derivations.StructuredReport([source]);
  const content = report.contentItem(source);
  const ds: NaturalizedDataset = {
    ...sr.dataset,
    ...content,
    SOPInstanceUID: sopInstanceUID,
    SeriesInstanceUID: `${sopInstanceUID}.0`,
    Manufacturer: 'OHIF (test double)',
    ContentDate: '20250315',
    ContentTime: '090000',
    ...extra,
  };
  delete ds._meta;
  delete ds._vrMap;
  const meta: NaturalizedDataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '2.25.42',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  return Buffer.from(dict.write());
}

/**
 * The ROIs a radiologist would draw on a phantom's mid slice: an ellipse (semi-axes rx, ry) inside each of
 * L1-L4 and a closed CSF polyline at L3, inset by `csfInsetX` pixels from the CSF block's sides.
 */
export function lumbarViewerRois(p: Phantom, rx = 18, ry = 4, csfInsetX = 2): ViewerRoi[] {
  const sop = p.sopInstanceUIDs[p.midSlice]!;
  const c = blockByName(p, 'CSF');
  const l3 = blockByName(p, 'L3');
  return [
    ...['L1', 'L2', 'L3', 'L4'].map((l) => ({
      label: l,
      shape: 'ellipse' as const,
      points: ellipseIn(blockByName(p, l), rx, ry),
      sopInstanceUID: sop,
    })),
    {
      label: 'CSF L3',
      shape: 'polyline' as const,
      points: [
        [c.x0 + csfInsetX, l3.y0 + 2],
        [c.x1 - csfInsetX, l3.y0 + 2],
        [c.x1 - csfInsetX, l3.y1 - 2],
        [c.x0 + csfInsetX, l3.y1 - 2],
        [c.x0 + csfInsetX, l3.y0 + 2],
      ] as [number, number][],
      sopInstanceUID: sop,
    },
  ];
}
