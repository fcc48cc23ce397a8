import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { prefetchTemplates } from '../../src/services/prefetch-keys.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const templates = prefetchTemplates(kb);

describe('prefetchTemplates', () => {
  it('has the shared prefetch keys (working rules) plus vitaminD, DXA reports and eGFR', () => {
    const keys = [
      'patient',
      'boneQuality',
      'ctHu',
      'dxa',
      'conditions',
      'medicationRequests',
      'medicationStatements',
      'serviceRequests',
      'imagingStudies',
      'vitaminD',
      'dxaReports',
      'egfr',
    ];
    expect(Object.keys(templates).sort()).toEqual(keys.sort());
  });

  it('uses only the spec-valid {{context.patientId}} token', () => {
    for (const template of Object.values(templates)) {
      const tokens = template.match(/\{\{[^}]*\}\}/g) ?? [];
      expect(tokens.length).toBeGreaterThan(0);
      for (const token of tokens) expect(token).toBe('{{context.patientId}}');
    }
  });

  it('stays in the recommended query subset (instance read or token = with _sort/_count)', () => {
    for (const template of Object.values(templates)) {
      const [, query] = template.split('?');
      if (query === undefined) {
        expect(template).toMatch(/^[A-Z][A-Za-z]+\/\{\{context\.patientId\}\}$/);
        continue;
      }
      for (const param of query.split('&')) {
        const [name, value] = param.split('=');
        expect(['patient', 'code', 'modality', '_sort', '_count']).toContain(name);
        expect(name).not.toMatch(/:/);
        expect(value).toBeTruthy();
      }
    }
  });

  it('generates the DXA and vitamin D code filters from the code lists', () => {
    for (const code of ['38267-1', '38264-8', '38263-0', '38265-5', '104938-6']) {
      expect(templates.dxa).toContain(`http://loinc.org|${code}`);
    }
    expect(templates.vitaminD).toContain('http://loinc.org|62292-8');
    // DXA reports by the same codes; eGFR by both CKD-EPI equations (2021 and 2009) and MDRD.
    expect(templates.dxaReports).toMatch(/^DiagnosticReport\?patient=/);
    expect(templates.dxaReports).toContain('http://loinc.org|83311-1');
    for (const code of ['98979-8', '62238-1', '33914-3'])
      expect(templates.egfr).toContain(`http://loinc.org|${code}`);
    expect(templates.vitaminD).not.toContain('82306');
    for (const metric of ['vbq-l1-l4', 'ebq', 'vbq-s1', 'c-vbq'])
      expect(templates.boneQuality).toContain(`|${metric}`);
  });
});
