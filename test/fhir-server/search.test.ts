import type { Bundle, BundleEntry, Observation, Resource } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestFhirServer } from '../helpers/fhir-server.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { shippedPrefetchTemplates } from '../helpers/knowledge.js';
import {
  BQ,
  clientFor,
  collection,
  imagingStudy,
  LOINC,
  observation,
  patient,
  serviceRequest,
  statusOf,
  UCUM,
} from './fixtures.js';

// Three VBQ results whose local-time strings sort differently from their instants:
// A = 2024-03-02T04:30Z (latest), B = 2024-03-01T23:00Z, C = 2023-06-01 (a whole day, earliest).
const VBQ_A = { ...observation('p1', BQ, 'vbq-l1-l4', '2024-03-01T23:30:00-05:00', 3.4), id: 'vbq-a' };
const VBQ_B = { ...observation('p1', BQ, 'vbq-l1-l4', '2024-03-02T01:00:00+02:00', 2.1), id: 'vbq-b' };
const VBQ_C = { ...observation('p1', BQ, 'vbq-l1-l4', '2023-06-01', 4.0), id: 'vbq-c' };

function seed(): Bundle[] {
  const entries: BundleEntry[] = [
    patient('p1'),
    patient('p2'),
    patient('p3'),
    VBQ_A,
    VBQ_B,
    VBQ_C,
    { ...observation('p1', BQ, 'ebq', '2024-02-01T10:00:00Z', 3.9), id: 'ebq-1' },
    { ...observation('p1', BQ, 'ct-hu-l1', '2024-01-15', 98, 'HU'), id: 'hu-1' },
    { ...observation('p1', LOINC, '38267-1', '2022-05-05', -2.7), id: 'dxa-1' },
    { ...observation('p1', LOINC, '62292-8', '2024-02-10', 18, 'ng/mL'), id: 'vitd-1' },
    { ...observation('p2', BQ, 'vbq-l1-l4', '2024-05-01', 2.5), id: 'vbq-p2' },
    { ...imagingStudy('p1', 'MR', '2024-03-01T12:00:00Z'), id: 'mr-1' },
    { ...imagingStudy('p1', 'CT', '2024-04-01T12:00:00Z'), id: 'ct-1' },
    { ...imagingStudy('p2', 'MR', '2024-04-01T12:00:00Z'), id: 'mr-p2' },
    { ...serviceRequest('p1', '2024-01-01T23:00:00-08:00'), id: 'sr-late' },
    { ...serviceRequest('p1', '2024-01-02T05:00:00+09:00'), id: 'sr-early' },
    {
      resourceType: 'Condition',
      id: 'cond-1',
      subject: { reference: 'Patient/p1' },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '64859006' }] },
    },
    {
      resourceType: 'MedicationRequest',
      id: 'medreq-1',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/p1' },
      medicationCodeableConcept: { text: 'alendronate 70 mg' },
    },
    {
      resourceType: 'MedicationStatement',
      id: 'medstmt-1',
      status: 'active',
      subject: { reference: 'Patient/p1' },
      medicationCodeableConcept: { text: 'prednisone 5 mg' },
    },
  ].map((resource) => ({ resource: resource as Resource }));
  // 120 observations for paging
  for (let i = 0; i < 120; i++) {
    const day = String((i % 28) + 1).padStart(2, '0');
    const month = String((i % 12) + 1).padStart(2, '0');
    entries.push({
      resource: { ...observation('p3', BQ, 'vbq-l1-l4', `2020-${month}-${day}`, 2 + i / 100) },
    });
  }
  return [collection(entries)];
}

function ids(bundle: Bundle): string[] {
  return (bundle.entry ?? []).map((e) => e.resource?.id as string);
}

describe('embedded FHIR server: search', () => {
  let server: TestFhirServer;
  let search: (query: string) => Promise<Bundle>;

  beforeAll(async () => {
    server = await startFhirServer({ seed: seed() });
    const client = clientFor(server.baseUrl);
    search = (query) => client.get(query);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('runs every prefetch template the service advertises and returns only that patient`s resources', async () => {
    const expected: Record<string, string[]> = {
      boneQuality: ['vbq-a', 'vbq-b', 'ebq-1', 'vbq-c'],
      ctHu: ['hu-1'],
      dxa: ['dxa-1'],
      vitaminD: ['vitd-1'],
      conditions: ['cond-1'],
      medicationRequests: ['medreq-1'],
      medicationStatements: ['medstmt-1'],
      serviceRequests: ['sr-late', 'sr-early'],
      imagingStudies: ['mr-1'],
    };
    const templates = shippedPrefetchTemplates();
    expect(Object.keys(templates)).toEqual(expect.arrayContaining(Object.keys(expected)));
    for (const [key, template] of Object.entries(templates)) {
      const query = template.replaceAll('{{context.patientId}}', 'p1');
      const result = await search(query);
      if (key === 'patient') {
        expect(result.resourceType).toBe('Patient');
        continue;
      }
      expect(result.type, key).toBe('searchset');
      if (expected[key]) {
        expect(ids(result), key).toEqual(expected[key]);
      }
      for (const entry of result.entry ?? []) {
        expect(JSON.stringify(entry.resource), key).toContain('Patient/p1');
      }
    }
  });

  it('expands patient=<bare id> and subject=<bare id> to Patient/<id>', async () => {
    const bare = ids(await search('Observation?patient=p2'));
    expect(bare).toEqual(['vbq-p2']);
    expect(ids(await search('Observation?patient=Patient/p2'))).toEqual(bare);
    expect(ids(await search('Observation?subject=p2'))).toEqual(bare);
    expect(ids(await search('Observation?subject:Patient=p2'))).toEqual(bare);
    expect(ids(await search('ImagingStudy?patient=p1,p2')).sort()).toEqual(['ct-1', 'mr-1', 'mr-p2']);
  });

  it('matches token OR lists with system|code and respects the system', async () => {
    const both = await search(`Observation?patient=p1&code=${BQ}|ebq,${BQ}|ct-hu-l1`);
    expect(ids(both).sort()).toEqual(['ebq-1', 'hu-1']);
    expect(ids(await search(`Observation?patient=p1&code=${LOINC}|ebq`))).toEqual([]);
    expect(ids(await search('Observation?patient=p1&code=38267-1'))).toEqual(['dxa-1']);
  });

  it('sorts dates by instant, not by string, across time-zone offsets (_sort=-date and date)', async () => {
    const q = `Observation?patient=p1&code=${BQ}|vbq-l1-l4`;
    expect(ids(await search(`${q}&_sort=-date`))).toEqual(['vbq-a', 'vbq-b', 'vbq-c']);
    expect(ids(await search(`${q}&_sort=date`))).toEqual(['vbq-c', 'vbq-b', 'vbq-a']);
    // authoredOn: sr-late = 2024-01-02T07:00Z, sr-early = 2024-01-01T20:00Z
    expect(ids(await search('ServiceRequest?patient=p1&_sort=-authored'))).toEqual(['sr-late', 'sr-early']);
    expect(ids(await search('ServiceRequest?patient=p1&_sort=authored'))).toEqual(['sr-early', 'sr-late']);
  });

  it('sorts by several keys in order (the first key dominates)', async () => {
    const result = await search(`Observation?patient=p1&_sort=code,-date&_count=3`);
    // codes ascending: 38267-1 (dxa), 62292-8 (vitamin D), ct-hu-l1, ebq, vbq-l1-l4 (newest first)
    expect(ids(result)).toEqual(['dxa-1', 'vitd-1', 'hu-1']);
    const all = await search(`Observation?patient=p1&_sort=code,-date`);
    expect(ids(all).slice(-3)).toEqual(['vbq-a', 'vbq-b', 'vbq-c']);
  });

  it('filters dates with offsets as instants', async () => {
    const q = `Observation?patient=p1&code=${BQ}|vbq-l1-l4`;
    expect(ids(await search(`${q}&date=ge2024-03-02T00:00:00Z`))).toEqual(['vbq-a']);
    expect(ids(await search(`${q}&date=lt2024-01-01`))).toEqual(['vbq-c']);
  });

  it('searches value-quantity with gt, lt, ge, le, eq, ne and units', async () => {
    const q = `Observation?patient=p1&code=${BQ}|vbq-l1-l4`;
    expect(ids(await search(`${q}&value-quantity=gt3`)).sort()).toEqual(['vbq-a', 'vbq-c']);
    expect(ids(await search(`${q}&value-quantity=lt3`))).toEqual(['vbq-b']);
    expect(ids(await search(`${q}&value-quantity=ge3.4`)).sort()).toEqual(['vbq-a', 'vbq-c']);
    expect(ids(await search(`${q}&value-quantity=le3.4`)).sort()).toEqual(['vbq-a', 'vbq-b']);
    expect(ids(await search(`${q}&value-quantity=3.4`))).toEqual(['vbq-a']);
    expect(ids(await search(`${q}&value-quantity=eq4`))).toEqual(['vbq-c']);
    expect(ids(await search(`${q}&value-quantity=ne3.4`)).sort()).toEqual(['vbq-b', 'vbq-c']);
    expect(ids(await search(`${q}&value-quantity=gt3&value-quantity=lt3.9`))).toEqual(['vbq-a']);
    expect(ids(await search(`Observation?patient=p1&value-quantity=gt90|${UCUM}|HU`))).toEqual(['hu-1']);
    expect(ids(await search(`Observation?patient=p1&value-quantity=gt90||HU`))).toEqual(['hu-1']);
    expect(ids(await search(`Observation?patient=p1&value-quantity=gt90|${UCUM}|mg`))).toEqual([]);
    expect((await statusOf(search(`${q}&value-quantity=gtabc`))).status).toBe(400);
  });

  it('pages with _count and Bundle.link[next] that works when followed', async () => {
    const client = clientFor(server.baseUrl);
    let page = await client.search('Observation', { patient: 'p3', _count: 50, _sort: '-date' });
    expect(page.total).toBe(120);
    const seen: string[] = [];
    const sizes: number[] = [];
    const dates: string[] = [];
    for (;;) {
      sizes.push(page.entry?.length ?? 0);
      seen.push(...ids(page));
      dates.push(...(page.entry ?? []).map((e) => (e.resource as Observation).effectiveDateTime as string));
      for (const entry of page.entry ?? []) {
        expect(entry.fullUrl).toBe(`${server.baseUrl}/Observation/${entry.resource?.id}`);
        expect(entry.search?.mode).toBe('match');
      }
      const next = client.nextPage(page);
      if (!next) {
        break;
      }
      page = await next;
    }
    expect(sizes).toEqual([50, 50, 20]);
    expect(new Set(seen).size).toBe(120);
    expect([...dates].sort().reverse()).toEqual(dates);
  });

  it('uses a default page size and never exceeds maxPageSize, whatever _count asks', async () => {
    const small = await startFhirServer({ seed: seed(), maxPageSize: 10, defaultPageSize: 5 });
    try {
      const client = clientFor(small.baseUrl);
      const first = await client.get('Observation?patient=p3');
      expect(first.entry?.length).toBe(5);
      const capped = await client.get('Observation?patient=p3&_count=200');
      expect(capped.entry?.length).toBe(10);
      const next = capped.link?.find((l) => l.relation === 'next')?.url ?? '';
      expect(new URL(next).searchParams.get('_count')).toBe('10');
      expect(new URL(next).searchParams.get('_offset')).toBe('10');
      const second = await client.get(next);
      expect(ids(second).some((id) => ids(capped).includes(id))).toBe(false);
      expect(second.link?.find((l) => l.relation === 'previous')).toBeDefined();
    } finally {
      await small.stop();
    }
  });

  it('answers _summary=count and _count=0 with the total and no entries', async () => {
    const counted = await search('Observation?patient=p3&_summary=count');
    expect(counted.total).toBe(120);
    expect(counted.entry).toBeUndefined();
  });

  it('supports POST _search (form body) with the same results and paging links', async () => {
    const res = await fetch(`${server.baseUrl}/Observation/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ patient: 'p3', _count: '100' }).toString(),
    });
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as Bundle;
    expect(bundle.entry?.length).toBe(100);
    const next = bundle.link?.find((l) => l.relation === 'next')?.url ?? '';
    expect(ids(await search(next)).length).toBe(20);
  });

  it('filters ImagingStudy by modality=system|code', async () => {
    const mr = await search(
      'ImagingStudy?patient=p1&modality=http://dicom.nema.org/resources/ontology/DCM|MR',
    );
    expect(ids(mr)).toEqual(['mr-1']);
  });

  it('refuses what it cannot evaluate with 400 instead of a silently wrong result', async () => {
    for (const query of [
      'Observation?patient=p1&foo=bar',
      'Observation?patient=p1&_include=Observation:subject',
      'Observation?patient=p1&_revinclude=Provenance:target',
      'Observation?subject.name=Test',
      'Observation?code:text=vbq',
      'Observation?patient=p1&_sort=nonsense',
      'Observation?patient=p1&_count=abc',
      'Observation?performer=x',
      'Observation?code-value-quantity=x',
      'Observation?date=not-a-date',
    ]) {
      const failure = await statusOf(search(query));
      expect(failure.status, query).toBe(400);
      expect((failure.data as { resourceType: string }).resourceType, query).toBe('OperationOutcome');
    }
  });

  it('stays fast with a few hundred resources', async () => {
    const entries: BundleEntry[] = [];
    for (let p = 0; p < 30; p++) {
      entries.push({ resource: patient(`perf-${p}`) });
      for (let i = 0; i < 20; i++) {
        entries.push({
          resource: observation(
            `perf-${p}`,
            BQ,
            i % 2 ? 'vbq-l1-l4' : 'ebq',
            `2021-01-${String((i % 28) + 1).padStart(2, '0')}`,
            2 + i / 10,
          ),
        });
      }
    }
    const big = await startFhirServer({ seed: [collection(entries)] });
    try {
      const client = clientFor(big.baseUrl);
      const started = performance.now();
      const templates = shippedPrefetchTemplates();
      for (const template of Object.values(templates)) {
        await client.get(template.replaceAll('{{context.patientId}}', 'perf-7'));
      }
      const elapsed = performance.now() - started;
      const bq = await client.get(templates.boneQuality?.replaceAll('{{context.patientId}}', 'perf-7') ?? '');
      expect(bq.total).toBe(20);
      // One CDS call's worth of prefetch over 630 resources: well under a second on a slow CI core.
      expect(elapsed).toBeLessThan(1000);
    } finally {
      await big.stop();
    }
  });
});
