/** Imaging-study facts: recent spine MR studies that have no bone-quality score derived from them. */
import type { ReadImagingStudy, ReadObservation } from '../read/resources.js';
import { latestFirst, withinMonths, type FactContext } from './common.js';
import type { ScoreRegion } from './scores.js';

export interface MrStudyFact {
  source: string;
  date: string;
  region: ScoreRegion;
  studyUid: string | undefined;
}

const LUMBAR_TEXT = /(lumb|l-?spine|ls-?spine|lumbosacral)/i;
const CERVICAL_TEXT = /(cervic|c-?spine)/i;
// SNOMED CT body structures: 122496007 lumbar spine, 122494005 cervical spine.
const LUMBAR_SNOMED = /\b122496007\b/;
const CERVICAL_SNOMED = /\b122494005\b/;

function studyRegion(study: ReadImagingStudy): ScoreRegion | undefined {
  const text = study.texts.join(' ');
  if (LUMBAR_TEXT.test(text) || LUMBAR_SNOMED.test(text)) return 'lumbar';
  if (CERVICAL_TEXT.test(text) || CERVICAL_SNOMED.test(text)) return 'cervical';
  return undefined;
}

export function extractMrWithoutScore(
  ctx: FactContext,
  studies: readonly ReadImagingStudy[],
  boneQuality: readonly ReadObservation[],
): MrStudyFact[] {
  const scored = new Set<string>();
  for (const obs of boneQuality) {
    for (const d of obs.derivedFrom) {
      if (d.reference !== undefined) scored.add(d.reference.replace(/^.*\/(ImagingStudy\/)/, '$1'));
      if (d.identifier?.value !== undefined) scored.add(d.identifier.value);
    }
  }
  const out: MrStudyFact[] = [];
  for (const study of studies) {
    if (study.status !== 'available' || !study.modalities.includes('MR') || study.started === undefined)
      continue;
    if (!withinMonths(study.started, ctx.kb.parameters.mrLookbackMonths, ctx.now)) continue;
    const region = studyRegion(study);
    if (region === undefined) continue;
    const uid = study.identifiers.find((i) => i.system === 'urn:dicom:uid')?.value;
    if (scored.has(study.ref) || (uid !== undefined && scored.has(uid))) continue;
    out.push({ source: study.ref, date: study.started, region, studyUid: uid });
  }
  return out.sort(latestFirst);
}
