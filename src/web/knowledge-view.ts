/**
 * Builds the care-team view's knowledge document from the loaded knowledge base: what the browser needs to
 * recognise codes and draw cutoffs, with every cited work linked. Public knowledge only, no patient data.
 */
import { BONE_QUALITY_SYSTEM, type KnowledgeBase } from '../knowledge/index.js';
import type { Reference } from '../knowledge/schema.js';
import type { KnowledgeMetric, KnowledgeReference, KnowledgeView } from './care-team/knowledge-types.js';

const METRICS: KnowledgeMetric[] = [
  { id: 'vbq-l1-l4', label: 'VBQ L1-L4', kind: 'mri-score', unit: '' },
  { id: 'ebq', label: 'EBQ', kind: 'mri-score', unit: '' },
  { id: 'vbq-s1', label: 'S1 VBQ', kind: 'mri-score', unit: '' },
  { id: 'c-vbq', label: 'C-VBQ', kind: 'mri-score', unit: '' },
  { id: 'ct-hu-l1', label: 'L1 CT attenuation', kind: 'ct', unit: 'HU' },
  { id: 'dxa-t-score', label: 'DXA T-score', kind: 'dxa', unit: '' },
];

const FAMILY_LABELS: Record<string, string> = {
  'posterior-interbody': 'Posterior interbody fusion (TLIF/PLIF)',
  'anterior-lateral-interbody': 'Anterior/lateral interbody fusion (ALIF/LLIF/OLIF)',
  posterolateral: 'Posterolateral fusion',
  'long-segment-deformity': 'Long-segment / deformity fusion',
  'anterior-cervical': 'Anterior cervical fusion (ACDF/ACCF)',
  'posterior-cervical': 'Posterior cervical fusion',
  'vertebral-augmentation': 'Vertebral augmentation',
  instrumentation: 'Spinal instrumentation',
};

function cite(ref: Reference): string {
  if (ref.short !== undefined) return ref.short;
  return `${ref.authors.split(/[ ,]/)[0] ?? ref.authors} ${ref.year}`;
}

function referenceView(ref: Reference): KnowledgeReference {
  return {
    cite: cite(ref),
    authors: ref.authors,
    year: ref.year,
    title: ref.title,
    journal: ref.journal,
    ...(ref.doi ? { doi: ref.doi } : {}),
    url: ref.doi
      ? `https://doi.org/${ref.doi}`
      : `https://pubmed.ncbi.nlm.nih.gov/?term=${encodeURIComponent(ref.title)}`,
  };
}

export function buildKnowledgeView(kb: KnowledgeBase, dxaLsc: Record<string, number> = {}): KnowledgeView {
  const overridden = new Set(kb.overriddenCutoffs);
  return {
    version: kb.version,
    boneQualitySystem: BONE_QUALITY_SYSTEM,
    metrics: METRICS,
    procedureFamilies: FAMILY_LABELS,
    cutoffs: kb.cutoffs.map((c) => ({ ...c, local: overridden.has(c.id) })),
    references: Object.fromEntries(Object.entries(kb.references).map(([id, r]) => [id, referenceView(r)])),
    codeLists: Object.fromEntries(
      Object.entries(kb.codeLists).map(([id, list]) => [
        id,
        {
          title: list.title,
          description: list.description,
          // Provenance fields (verified, verifiedBy, note) stay on the service side.
          codes: list.codes.map((c) => ({
            system: c.system,
            code: c.code,
            display: c.display,
            ...(c.match ? { match: c.match } : {}),
            ...(c.region ? { region: c.region } : {}),
            ...(c.family ? { family: c.family } : {}),
            ...(c.kind ? { kind: c.kind } : {}),
            ...(c.site ? { site: c.site } : {}),
            ...(c.ingredient ? { ingredient: c.ingredient } : {}),
            ...(c.drugClass ? { drugClass: c.drugClass } : {}),
          })),
        },
      ]),
    ),
    caveats: kb.caveats,
    parameters: kb.parameters,
    cardTopics: kb.cardTopics,
    dxaLsc,
    source: kb.source,
  };
}
