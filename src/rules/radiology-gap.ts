/**
 * The radiology gap (issue 17): surgery is being ordered, the patient has a spine MR of the planned region
 * on record with no bone-quality score, and nothing else scores bone quality. Measuring VBQ on those
 * existing images needs no new imaging, so it is the fastest way to a score before surgery: the card may
 * ask radiology for it. Pure: reads the finding of the `mri-without-bone-quality` rule.
 */
import type { Finding } from './findings.js';

export interface RadiologyGap {
  /** `ImagingStudy/<id>` of the newest unscored MR of the planned region. */
  imagingStudy: string;
  /** Its DICOM Study Instance UID as `urn:oid:...`, when the ImagingStudy carries it. */
  studyUid?: string;
  studyDate: string;
  region: 'lumbar' | 'cervical';
  /** The draft surgery order: `ServiceRequest/<id>`, or its label when the order has no id yet. */
  surgeryOrder: { reference: string } | { display: string };
  procedureLabel: string;
  /**
   * When the surgery is planned (the draft orders' occurrence[x], the earliest when several name one);
   * undefined when no order states it.
   */
  plannedSurgeryDate?: string;
}

/** The gap a radiology measurement request would close, or undefined when the finding is not one. */
export function radiologyGap(finding: Finding): RadiologyGap | undefined {
  if (finding.advice !== 'measure-score') return undefined;
  const study = finding.context.unscoredStudies[0];
  if (study === undefined || !/^ImagingStudy\/[A-Za-z0-9\-.]{1,64}$/.test(study.source)) return undefined;
  const order = finding.procedure.orders[0];
  if (order === undefined) return undefined;
  const gap: RadiologyGap = {
    imagingStudy: study.source,
    studyDate: study.date,
    region: study.region === 'cervical' ? 'cervical' : 'lumbar',
    // A draft order without an id ("ServiceRequest/#0") cannot be referenced: named instead.
    surgeryOrder: /^ServiceRequest\/[A-Za-z0-9\-.]{1,64}$/.test(order.source)
      ? { reference: order.source }
      : { display: order.display || finding.procedure.label },
    procedureLabel: finding.procedure.label,
  };
  const planned = finding.procedure.orders
    .map((o) => o.plannedDate)
    .filter((d): d is string => d !== undefined)
    .sort((a, b) => Date.parse(a) - Date.parse(b))[0];
  if (planned !== undefined) gap.plannedSurgeryDate = planned;
  if (study.studyUid !== undefined) {
    gap.studyUid = study.studyUid.startsWith('urn:oid:') ? study.studyUid : `urn:oid:${study.studyUid}`;
  }
  return gap;
}
