/**
 * The knowledge the care-team view reads from GET /care-team/knowledge.json: cutoffs, references, code
 * lists and caveats from the loaded knowledge base. No patient data. Shared by the service (which builds
 * it) and the browser app (which reads it), so it imports nothing.
 */

export interface KnowledgeCode {
  system: string;
  code: string;
  display: string;
  match?: 'exact' | 'prefix';
  region?: string;
  family?: string;
  kind?: string;
  site?: string;
  ingredient?: string;
  drugClass?: string;
}

export interface KnowledgeCodeList {
  title: string;
  description: string;
  codes: KnowledgeCode[];
}

export interface KnowledgeCutoff {
  id: string;
  role: 'screening' | 'procedure-specific' | 'fracture-discrimination';
  primaryFor?: string[];
  primaryScreening?: boolean;
  metric: string;
  region: string;
  procedureFamilies: string[];
  procedureLabel: string;
  outcome: string;
  threshold: number;
  comparator: '>=' | '>' | '<=' | '<';
  unit?: string;
  sensitivity?: number;
  specificity?: number;
  auc?: number;
  npv?: number;
  ppv?: number;
  fieldStrengthT?: number;
  scanner?: string;
  population: string;
  reference: string;
  notes?: string;
  /** True when a hospital's overrides file replaced or added it. */
  local: boolean;
}

export interface KnowledgeReference {
  /** Short citation, e.g. "Hu 2022". */
  cite: string;
  authors: string;
  year: number;
  title: string;
  journal: string;
  doi?: string;
  /** DOI link, or a PubMed title search when the work has no DOI on record. */
  url: string;
}

export interface KnowledgeMetric {
  id: string;
  label: string;
  kind: 'mri-score' | 'ct' | 'dxa';
  unit: string;
}

export interface KnowledgeView {
  version: string;
  /** System of our bone-quality Observation codes (VBQ, EBQ, S1, C-VBQ, CT HU, field strength...). */
  boneQualitySystem: string;
  metrics: KnowledgeMetric[];
  procedureFamilies: Record<string, string>;
  cutoffs: KnowledgeCutoff[];
  references: Record<string, KnowledgeReference>;
  codeLists: Record<string, KnowledgeCodeList>;
  caveats: Record<string, { text: string; references: string[] }>;
  parameters: Record<string, number>;
  cardTopics: { code: string; display: string }[];
  /**
   * The DXA centre's least significant change by site, in T-score units (ISCD: 2.77 x precision error),
   * when configured; sites without one get a note instead of a band.
   */
  dxaLsc: Record<string, number>;
  source: { label: string; url: string };
}
