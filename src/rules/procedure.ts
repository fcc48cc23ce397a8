/**
 * The planned procedure as the rules see it: the families and regions of the triggering draft orders,
 * which select the cutoffs, and whether a long construct is planned (PJK / screw-loosening evidence).
 */
import type { ScoreRegion, SpineProcedureOrder } from '../fhir/facts/index.js';
import type { ProcedureFamily, Region } from '../knowledge/schema.js';

export interface PlannedProcedure {
  orders: SpineProcedureOrder[];
  families: ProcedureFamily[];
  regions: Region[];
  /** Score regions whose measurements apply (lumbar for lumbar/thoracolumbar orders, cervical for cervical). */
  scoreRegions: ScoreRegion[];
  longConstruct: boolean;
  /** Short label for summaries, e.g. "TLIF" or "ACDF". */
  label: string;
}

const FAMILY_LABEL: Record<ProcedureFamily, string> = {
  'posterior-interbody': 'TLIF/PLIF',
  'anterior-lateral-interbody': 'ALIF/LLIF/OLIF',
  posterolateral: 'posterolateral fusion',
  'long-segment-deformity': 'deformity/long fusion',
  'anterior-cervical': 'ACDF',
  'posterior-cervical': 'posterior cervical fusion',
  'vertebral-augmentation': 'vertebral augmentation',
  instrumentation: 'spinal instrumentation',
};

/** The label used in card text for a procedure family. */
export function familyLabel(family: ProcedureFamily): string {
  return FAMILY_LABEL[family];
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** Combines the triggering orders into one planned procedure (orders are signed together). */
export function describeProcedure(orders: SpineProcedureOrder[]): PlannedProcedure {
  const specific = orders.filter((o) => o.regionSpecific);
  // Instrumentation add-on codes do not fix the region; a fusion code in the same batch does.
  const regions = unique((specific.length > 0 ? specific : orders).map((o) => o.region)).sort();
  const longConstruct = orders.some((o) => o.longConstruct || o.family === 'long-segment-deformity');
  // A long construct (e.g. 7+ segment instrumentation) brings in the PJK and screw-loosening evidence.
  const families = unique([
    ...orders.map((o) => o.family),
    ...(longConstruct ? (['long-segment-deformity'] as const) : []),
  ]).sort();
  const scoreRegions = unique(
    regions.map((r): ScoreRegion => (r === 'cervical' ? 'cervical' : 'lumbar')),
  ).sort();
  const mainFamilies = families.filter((f) => f !== 'instrumentation');
  const label = (mainFamilies.length > 0 ? mainFamilies : families).map(familyLabel).join(' + ');
  return { orders, families, regions, scoreRegions, longConstruct, label };
}
