/**
 * Every cutoff's numbers against a table transcribed by hand from the sources, so a typo in
 * cds-services/cutoffs.json (or an unreviewed edit) fails here. Sources:
 * - G1 / G2 / G3 / G4: Gausper 2025 (J Clin Med 14:6477) Tables 1, 2, 3, 4;
 * - Gtext: the same review's text; primary: the paper itself (Wu 2025 abstract and Table 3; Chen 2023
 *   Table 4 and methods; Lin 2025 results and methods; Pu 2023 abstract);
 * - unchecked: not yet re-read in a source (listed in the README).
 * Columns: id, threshold, comparator, sensitivity, specificity, AUC, n (derivation cohort), cohort field
 * strength, reference, where the numbers were read.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { referenceLink, type Cutoff } from '../../src/knowledge/schema.js';

type Row = [
  id: string,
  threshold: number,
  comparator: Cutoff['comparator'],
  sensitivity: number | null,
  specificity: number | null,
  auc: number | null,
  n: number | null,
  fieldStrength: string,
  reference: string,
  readIn: string,
];

// prettier-ignore
const TABLE: Row[] = [
  // osteoporosis / osteopenia on DXA (G1 unless primary)
  ['vbq-osteoporosis-chen-2023', 2.9, '>=', 0.93, 0.654, 0.818, 134, '3T', 'chen-2023', 'primary Table 4: 2.83 adjusted to 2.9, 93 / 65.40 / 0.818; 3.0 T Philips Achieva'],
  ['vbq-osteopenia-chen-2023', 2.6, '>=', 0.835, 0.531, 0.733, 134, '3T', 'chen-2023', 'primary Table 4: 2.56 adjusted to 2.6, 83.50 / 53.10 / 0.733'],
  ['vbq-osteoporosis-kadri-2022', 2.95, '>=', 0.91, 0.6, 0.806, null, 'unknown', 'kadri-2022', 'G1: 2.95, 91% / 60% / 0.806'],
  ['vbq-osteoporosis-pu-2023', 3.05, '>=', 0.875, 0.618, 0.81, 100, 'unknown', 'pu-2023', 'G1 and primary abstract: 3.05, 0.875 / 0.618, AUC 0.810, 100 patients'],
  ['s1-vbq-osteoporosis-huang-2023', 2.93, '>=', null, null, 0.82, null, 'unknown', 'huang-2023-s1', 'G1: S1 VBQ 2.93, AUC 0.82'],
  ['vbq-osteoporosis-lin-2025-1-5t', 3.95, '>=', 0.52, 0.79, 0.67, 137, '1.5T', 'lin-2025', 'primary results: 3.95, 0.52 / 0.79, AUC 0.67; Philips Achieva 1.5 T'],
  ['vbq-osteoporosis-courtois-2024', 2.5, '>=', 0.547, 0.514, 0.557, null, 'unknown', 'courtois-2024', 'G1: 2.50, 54.7% / 51.4% / 0.557'],
  ['vbq-osteoporosis-ozmen-2023', 2.7, '>=', 0.833, 0.443, 0.667, null, 'unknown', 'ozmen-2023', 'G1: 2.7, 83.3% / 44.3% / 0.667'],
  ['vbq-osteoporosis-salzmann-2022', 2.388, '>=', 0.743, 0.57, 0.7079, null, 'unknown', 'salzmann-2022', 'G1: 2.388, 74.3% / 57% / 0.7079 (QCT)'],
  ['vbq-osteoporosis-kim-2023', 2.6, '>=', 0.58, 0.9, 0.754, null, 'unknown', 'kim-2023', 'G1: 2.6, 58% / 90% / 0.754 (QCT T-score)'],
  ['cvbq-osteoporosis-huang-2024', 2.905, '>=', null, null, null, null, 'unknown', 'huang-2024-cervical', 'Gtext: C-VBQ 2.905, 78% accuracy'],
  // complications (G2)
  ['vbq-tlif-subsidence-hu-2022', 3.28, '>=', 0.856, 0.786, 0.856, null, 'unknown', 'hu-2022', 'G2: TLIF 3.28, 85.6% / 78.6% / 0.856'],
  ['vbq-tlif-subsidence-ai-2023', 3.5, '>=', 0.875, 0.745, 0.825, null, 'unknown', 'ai-2023', 'G2: TLIF 3.5, 87.5% / 74.5% / 0.825'],
  ['vbq-tlif-subsidence-ai-2024', 3.4, '>=', 0.846, 0.692, 0.799, null, 'unknown', 'ai-2024', 'G2: TLIF 3.4, 84.6% / 69.2% / 0.799'],
  ['ebq-tlif-subsidence-ai-2024', 4.7, '>=', 0.769, 0.827, 0.829, null, 'unknown', 'ai-2024', 'G2: TLIF EBQ 4.7, 76.9% / 82.7% / 0.829'],
  ['ebq-tlif-subsidence-chen-2023', 4.73, '>=', 0.762, 0.832, 0.82, null, 'unknown', 'chen-2023-ebq', 'G2: TLIF EBQ 4.73, 76.2% / 83.2% / 0.820'],
  ['vbq-plif-fixation-failure-wu-2025', 3.3, '>=', 0.776, 0.799, 0.859, 256, 'unknown', 'wu-2025', 'primary abstract and Table 3: 3.3, 77.6% / 79.9%, AUC 0.859, 256 patients, 67 failures'],
  ['vbq-olif-subsidence-huang-2023', 3.435, '>=', 0.692, 0.889, 0.839, null, 'unknown', 'huang-2023-olif', 'G2: OLIF 3.435, 69.23% / 88.89% / 0.839'],
  ['vbq-global-olif-subsidence-pu-2023', 4.1, '>=', 0.733, 0.838, 0.814, null, 'unknown', 'pu-2023-olif', 'G2: OLIF global VBQ 4.10, 73.3% / 83.8% / 0.814'],
  ['vbq-segmental-olif-subsidence-pu-2023', 3.36, '>=', 0.8, 0.811, 0.82, null, 'unknown', 'pu-2023-olif', 'G2: OLIF segmental VBQ 3.36, 80.0 / 81.1% / 0.820'],
  ['ebq-olif-subsidence-ran-2024', 2.318, '>=', 0.931, 0.559, 0.811, null, 'unknown', 'ran-2024', 'G2: OLIF EBQ 2.318, 93.1% / 55.9% / 0.811'],
  ['vbq-sa-olif-subsidence-zheng-2024', 2.84, '>=', null, null, 0.684, null, 'unknown', 'zheng-2024-olif', 'G2: SA-OLIF 2.84, AUC 0.684'],
  ['ebq-sa-olif-subsidence-zheng-2024', 2.6, '>=', 0.654, 0.75, 0.745, null, 'unknown', 'zheng-2024-olif', 'G2: SA-OLIF EBQ 2.60, 65.4% / 75.0% / 0.745'],
  ['vbq-olif-pf-subsidence-zheng-2024', 3.2, '>=', null, null, 0.757, null, 'unknown', 'zheng-2024-olif', 'G2: OLIF-PF 3.20, AUC 0.757'],
  ['ebq-llif-subsidence-jones-2022', 5.1, '>=', 0.4, 0.845, 0.61, null, 'unknown', 'jones-2022', 'G2: LLIF EBQ 5.1, 40.0% / 84.5% / 0.61'],
  ['vbq-plif-screw-loosening-chen-2022', 2.87, '>=', 0.769, 0.648, 0.744, null, 'unknown', 'chen-2022-screw', 'G2: PLIF 2.87, 76.9% / 64.8% / 0.744'],
  ['s1-vbq-deformity-screw-loosening-li-2024', 3.175, '>=', 0.76, 0.833, 0.746, null, 'unknown', 'li-2024-s1', 'G2: S1 VBQ 3.175, 76.0% / 83.3% / 0.746'],
  ['vbq-fusion-screw-loosening-gao-2024', 3.055, '>=', 0.818, 0.713, 0.774, null, 'unknown', 'gao-2024', 'G2: lumbar fusion 3.055, 81.8% / 71.3% / 0.774'],
  ['vbq-fusion-screw-loosening-li-2023', 3.05, '>=', 0.655, 0.713, 0.72, null, 'unknown', 'li-2023-screw', 'G2: lumbar fusion 3.05, 65.5% / 71.3% / 0.720'],
  ['vbq-long-fusion-pjk-kuo-2023', 2.85, '>=', 0.882, 0.951, 0.943, null, 'unknown', 'kuo-2023', 'G2: thoracolumbar fusion 2.85, 88.2% / 95.1% / 0.943'],
  ['s1-vbq-long-fusion-pjk-deng-2024', 3.205, '>=', 0.778, 0.814, 0.721, null, 'unknown', 'deng-2024', 'G2: S1 VBQ 3.205, 77.8% / 81.4% / 0.721'],
  ['vbq-interbody-asd-kuo-2024', 2.91, '>=', null, null, 0.934, null, 'unknown', 'kuo-2024', 'Gtext: ASD AUC 0.934 at 2.91'],
  ['vbq-fusion-reoperation-ehresman-2020', 3, '>=', 0.7, null, null, null, 'unknown', 'ehresman-2020-reoperation', 'Gtext: 3.0 identified 70% of reoperations'],
  // fractures (G3)
  ['vbq-fragility-fracture-li-2023', 3.22, '>=', 0.688, 0.844, 0.815, null, 'unknown', 'li-2023-fracture', 'G3: 3.22, 68.8% / 84.4% / 0.815'],
  ['vbq-l1-fragility-fracture-li-2023', 3.16, '>=', 0.817, 0.688, 0.817, null, 'unknown', 'li-2023-fracture', 'G3: single level L1 3.16, 81.7% / 68.8% / 0.817'],
  ['vbq-fragility-fracture-wang-2024', 3.32, '>=', 0.83, 0.72, 0.799, null, 'unknown', 'wang-2024-s1', 'G3: 3.32, 83% / 72% / 0.799'],
  ['s1-vbq-fragility-fracture-wang-2024', 3.4, '>=', 0.81, 0.72, 0.806, null, 'unknown', 'wang-2024-s1', 'G3: S1 VBQ 3.40, 81% / 72% / 0.806'],
  ['vbq-fragility-fracture-yin-2023', 3.72, '>=', 0.813, 0.451, 0.6717, null, 'unknown', 'yin-2023', 'G3: 3.72, 81.3% / 45.1% / 0.6717 (text: 3.70)'],
  ['vbq-thoracolumbar-fracture-zhang-2023', 3.37, '>=', 0.5385, 0.7436, 0.602, null, 'unknown', 'zhang-2023-fracture', 'G3: 3.37, 53.85% / 74.36% / 0.602'],
  ['vbq-pathologic-fracture-ehresman-2020', 3, '>=', 0.75, 0.857, 0.8, null, 'unknown', 'ehresman-2020-metastasis', 'G3: pathologic 3.0, 75.0% / 85.7% / 0.80'],
  ['vbq-prevalent-vf-lin-2025-1-5t', 3.85, '>=', 0.41, 0.91, 0.72, 137, '1.5T', 'lin-2025', 'primary results: 3.85, 41% / 91%, AUC 0.72'],
  // cervical (G4)
  ['cvbq-acdf-subsidence-bernatz-2024', 3.2, '>=', 1, 0.941, 0.99, null, 'unknown', 'bernatz-2024', 'G4: ACDF 3.2, 100% / 94.1% / 0.99'],
  ['cvbq-acdf-subsidence-wang-2024', 2.68, '>=', 0.727, 0.821, 0.785, null, 'unknown', 'wang-2024-cvbq', 'G4: ACDF 2.68, 72.7% / 82.1% / 0.785'],
  ['cvbq-acdf-subsidence-li-2024', 2.92, '>=', 0.789, 0.857, 0.892, null, 'unknown', 'li-2024-cebq', 'G4: ACDF 2.92, 78.9% / 85.7% / 0.892'],
  ['cebq-acdf-subsidence-li-2024', 2.12, '>=', 0.848, 0.898, 0.937, null, 'unknown', 'li-2024-cebq', 'G4: ACDF C-EBQ 2.12, 84.8% / 89.8% / 0.937'],
  ['cvbq-accf-subsidence-li-2024', 3.445, '>=', 0.696, 0.852, 0.81, null, 'unknown', 'li-2024-accf', 'G4: ACCF 3.445, 69.6% / 85.2% / 0.810'],
  ['cvbq-posterior-cervical-djk-aguirre-2024', 2.66, '>=', 0.842, 0.811, 0.886, null, 'unknown', 'aguirre-2024', 'G4: posterior cervical fusion 2.66, 84.2% / 81.1% / 0.886'],
  // non-MRI (unchecked: not re-read in a source for this version)
  ['ct-hu-l1-osteoporosis-pickhardt-2013', 110, '<=', null, 0.9, null, null, 'n/a', 'pickhardt-2013', 'unchecked: <= 110 HU, > 90% specific'],
  ['ct-hu-l1-low-bone-pickhardt-2013', 160, '<=', 0.9, null, null, null, 'n/a', 'pickhardt-2013', 'unchecked: <= 160 HU, 90% sensitive'],
  ['ct-hu-l1-normal-pickhardt-2013', 200, '>', null, null, null, null, 'n/a', 'pickhardt-2013', 'unchecked: > 200 HU, NPV 99%'],
  ['dxa-osteoporosis-who', -2.5, '<=', null, null, null, null, 'n/a', 'who-1994', 'unchecked: WHO T <= -2.5'],
  ['dxa-osteopenia-who', -1, '<', null, null, null, null, 'n/a', 'who-1994', 'unchecked: WHO T < -1.0'],
  ['vitamin-d-low-dimar-2021', 20, '<', null, null, null, null, 'n/a', 'dimar-2021', 'guideline recommendation: serum vitamin D3 < 20 ng/mL'],
  ['ct-hu-spine-complications-dimar-2021', 97.9, '<', null, null, null, null, 'n/a', 'dimar-2021', 'guideline recommendation: CT Hounsfield Unit < 97.9'],
];

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });

describe('cutoffs against the table transcribed from the sources', () => {
  it('lists exactly the cutoffs of the knowledge base', () => {
    expect(kb.cutoffs.map((c) => c.id).sort()).toEqual(TABLE.map((r) => r[0]).sort());
  });

  it.each(TABLE)('%s', (id, threshold, comparator, sens, spec, auc, n, fieldStrength, reference) => {
    const c = kb.cutoffs.find((x) => x.id === id)!;
    expect({
      threshold: c.threshold,
      comparator: c.comparator,
      sensitivity: c.sensitivity ?? null,
      specificity: c.specificity ?? null,
      auc: c.auc ?? null,
      n: c.cohort?.n ?? null,
      fieldStrength: c.cohort?.fieldStrength ?? 'n/a',
      reference: c.reference,
    }).toEqual({
      threshold,
      comparator,
      sensitivity: sens,
      specificity: spec,
      auc,
      n,
      fieldStrength,
      reference,
    });
  });

  it('records the corrections: Wu outcome and evidence, Li 2023 not an augmentation cutoff, WHO population, Gao and Kadri labels', () => {
    const byId = (id: string): Cutoff => kb.cutoffs.find((c) => c.id === id)!;
    expect(byId('vbq-plif-fixation-failure-wu-2025').outcome).toBe(
      'internal fixation failure requiring revision',
    );
    expect(byId('vbq-plif-fixation-failure-wu-2025').cohort).toMatchObject({
      design: 'single retrospective cohort',
      n: 256,
      events: 67,
    });
    expect(byId('vbq-plif-fixation-failure-wu-2025').notes).toMatch(/22\.85.*not used/);
    expect(kb.references['wu-2025']?.title).toBe(
      'Predictive value of the VBQ score for internal fixation failure after PLIF and determinants of its cutoff value',
    );
    expect(kb.references['wu-2025']?.authors).toMatch(/^Wu JY, Hu WH, Ma ZH/);
    expect(byId('vbq-fragility-fracture-li-2023').role).toBe('fracture-discrimination');
    expect(kb.cutoffs.some((c) => c.primaryFor?.includes('vertebral-augmentation'))).toBe(false);
    expect(byId('dxa-osteoporosis-who').population).toMatch(/^Postmenopausal women and men aged >= 50/);
    expect(byId('vbq-fusion-screw-loosening-gao-2024').procedureLabel).toBe('lumbar or thoracolumbar fusion');
    expect(byId('vbq-osteoporosis-kadri-2022').outcome).toBe('osteoporosis or osteopenia on DXA');
    expect(kb.references['kuo-2023']?.journal).toBe('Neurosurgery 2023;92:945-954');
    expect(kb.references['li-2024-accf']?.journal).toBe('Orthop Surg 2024;16:303-311');
  });

  it('gives every MRI cutoff its cohort field strength, and says where every number was read', () => {
    for (const c of kb.cutoffs) {
      expect(c.checkedIn, c.id).toBeDefined();
      if (['vbq-l1-l4', 'ebq', 'vbq-s1', 'c-vbq'].includes(c.metric))
        expect(c.cohort?.fieldStrength, c.id).toBeDefined();
    }
  });
});

describe('references', () => {
  it('every reference has a link: DOI, else PMID, else a URL', () => {
    for (const [id, ref] of Object.entries(kb.references)) {
      expect(referenceLink(ref), id).toMatch(/^https:\/\//);
    }
  });

  it('papers read through the review say so, and nothing refers to how the knowledge base was assembled', () => {
    expect(kb.references['hu-2022']?.reviewedIn).toBe('gausper-2025');
    const text = JSON.stringify(kb.references) + JSON.stringify(kb.cutoffs) + JSON.stringify(kb.caveats);
    expect(text).not.toMatch(/\bseeds?\b/i);
    expect(text).not.toMatch(/clinical brief/i);
  });

  it('completes the field-strength study with its figures', () => {
    const fs = kb.clinicalData.fieldStrengthEffect;
    expect(fs.means['1.5T']).toEqual({ mean: 2.769, sd: 0.494 });
    expect(fs.means['3T']).toEqual({ mean: 2.199, sd: 0.432 });
    expect(fs.statedShift).toBe(0.5);
    expect(kb.references[fs.reference]?.doi).toBe('10.1186/s13018-023-04268-5');
    expect(fs.supporting.map((s) => s.reference)).toEqual(
      expect.arrayContaining(['lin-2023-field-strength', 'pu-2023']),
    );
  });
});
