/**
 * SMART App Launch 2.x, step 2 (the redirect URL /care-team/): fhirclient exchanges the code (PKCE) and
 * the app reads the patient's record from the EHR's FHIR server with the user's token, the knowledge
 * from the service, and draws the view. Plots are Observable Plot; each has a data table as its text
 * alternative. All text goes in through textContent (no HTML from the record is ever interpreted).
 */
import * as Plot from '@observablehq/plot';
import FHIR from 'fhirclient';
import type { KnowledgeCutoff, KnowledgeView } from '../knowledge-types.js';
import {
  buildViewModel,
  crosses,
  formatThreshold,
  parseAppContext,
  performance,
  type FhirResource,
  type Observation,
  type Point,
  type Series,
  type ViewModel,
} from './model.js';

type Child = Node | string | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) {
    if (c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

const dateFmt = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  timeZone: 'UTC',
});
const fmtDate = (d: Date | string | undefined) => (d === undefined ? '' : dateFmt.format(new Date(d)));

function cite(k: KnowledgeView, refId: string): Node {
  const ref = k.references[refId];
  if (!ref) return document.createTextNode(refId);
  return el('a', { href: ref.url, rel: 'noopener noreferrer', target: '_blank' }, ref.cite);
}

function cutoffLabel(k: KnowledgeView, c: KnowledgeCutoff): string {
  const ref = k.references[c.reference]?.cite ?? c.reference;
  return `${formatThreshold(c)} ${c.outcome} (${ref})`;
}

function table(caption: string, head: string[], rows: (string | Node)[][], className = ''): HTMLTableElement {
  return el(
    'table',
    className ? { class: className } : {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((cell) => el('td', {}, cell))))),
  );
}

const POINT_COLORS = ['#1f4e79', '#7a3b00', '#3b5f1f', '#5b2a86'];
const DAY = 86_400_000;

function plotSeries(k: KnowledgeView, s: Series, describedBy: string): Element {
  const dates = s.points.map((p) => p.date.getTime());
  const lo = Math.min(...dates);
  const hi = Math.max(...dates);
  const pad = Math.max((hi - lo) * 0.15, 120 * DAY);
  const values = [
    ...s.points.flatMap((p) => [p.value, ...(p.lsc !== undefined ? [p.value - p.lsc, p.value + p.lsc] : [])]),
    ...s.drawn.map((c) => c.threshold),
  ];
  const vmin = Math.min(...values);
  const vmax = Math.max(...values);
  const vpad = Math.max((vmax - vmin) * 0.15, Math.abs(vmax) * 0.05, 0.2);
  const groups = [...new Set(s.points.map((p) => p.group))];
  const withLsc = s.points.filter((p) => p.lsc !== undefined);
  const procedureCutoffs = s.drawn.filter((c) => c.role === 'procedure-specific');
  const screeningCutoffs = s.drawn.filter((c) => c.role !== 'procedure-specific');
  const labelled = s.drawn.map((c) => ({ ...c, label: cutoffLabel(k, c) }));
  const chart = Plot.plot({
    width: 760,
    height: 260,
    marginLeft: 56,
    marginRight: 20,
    marginTop: 24,
    style: { fontSize: '12px', color: '#1a1a1a', background: '#ffffff' },
    ariaLabel: `${s.label} over time with the cutoffs for the planned procedure`,
    x: { type: 'utc', domain: [new Date(lo - pad), new Date(hi + pad)], label: 'Date', grid: false },
    y: { domain: [vmin - vpad, vmax + vpad], label: s.unit ? `${s.label} (${s.unit})` : s.label, grid: true },
    color: { type: 'categorical', domain: groups, range: POINT_COLORS, legend: groups.length > 1 },
    symbol: { type: 'ordinal', domain: groups, range: ['circle', 'triangle', 'square', 'diamond'] },
    marks: [
      Plot.ruleY(procedureCutoffs, {
        y: 'threshold',
        stroke: '#b00020',
        strokeWidth: 2,
        className: 'mark-procedure-cutoff',
      }),
      Plot.ruleY(screeningCutoffs, {
        y: 'threshold',
        stroke: '#4d4d4d',
        strokeWidth: 1.5,
        strokeDasharray: '6,4',
        className: 'mark-screening-cutoff',
      }),
      Plot.text(labelled, {
        y: 'threshold',
        text: 'label',
        frameAnchor: 'left',
        textAnchor: 'start',
        dx: 4,
        dy: -7,
        fill: (d: KnowledgeCutoff) => (d.role === 'procedure-specific' ? '#b00020' : '#333333'),
        className: 'mark-cutoff-label',
      }),
      Plot.ruleX(withLsc, {
        x: 'date',
        y1: (p: Point) => p.value - (p.lsc ?? 0),
        y2: (p: Point) => p.value + (p.lsc ?? 0),
        stroke: 'group',
        strokeWidth: 10,
        strokeOpacity: 0.25,
        className: 'mark-lsc',
      }),
      Plot.line(s.points, {
        x: 'date',
        y: 'value',
        z: 'group',
        stroke: 'group',
        strokeOpacity: 0.6,
        className: 'mark-trend',
      }),
      Plot.dot(s.points, {
        x: 'date',
        y: 'value',
        fill: 'group',
        symbol: 'group',
        r: 6,
        stroke: '#ffffff',
        className: 'mark-measurement',
        title: (p: Point) => `${fmtDate(p.date)}: ${p.value} (${p.group})`,
      }),
      Plot.text(s.points, {
        x: 'date',
        y: 'value',
        text: (p: Point) => String(p.value),
        dx: 10,
        textAnchor: 'start',
        fill: '#1a1a1a',
        className: 'mark-measurement-value',
      }),
    ],
  });
  // The plot is one image for assistive technology; the table under it is its text alternative. Plot labels
  // its inner <g> groups with aria-label, which ARIA does not allow on elements without a role.
  const svg = chart instanceof SVGSVGElement ? chart : chart.querySelector('svg');
  svg?.setAttribute('role', 'img');
  svg?.setAttribute('aria-describedby', describedBy);
  chart.querySelectorAll('g[aria-label]').forEach((g) => g.removeAttribute('aria-label'));
  return chart;
}

function seriesSection(k: KnowledgeView, s: Series, idx: number): HTMLElement {
  const id = `series-${s.metric}`;
  const rows = s.points.map((p) => {
    const verdicts = s.drawn.filter((c) => crosses(c, p.value)).map((c) => formatThreshold(c));
    return [
      fmtDate(p.date),
      String(p.value),
      s.kind === 'dxa'
        ? p.group
        : s.kind === 'ct'
          ? 'CT'
          : p.fieldStrengthT !== undefined
            ? `${p.fieldStrengthT} T`
            : 'not recorded',
      ...(s.kind === 'dxa' ? [p.lsc !== undefined ? `± ${p.lsc}` : 'precision not on record'] : []),
      verdicts.length ? `crosses ${verdicts.join('; ')}` : 'crosses none of the drawn cutoffs',
    ];
  });
  const head = [
    'Date',
    s.unit ? `Value (${s.unit})` : 'Value',
    s.kind === 'dxa' ? 'Site' : s.kind === 'ct' ? 'Modality' : 'Field strength',
    ...(s.kind === 'dxa' ? ['Least significant change'] : []),
    'Against the drawn cutoffs',
  ];
  const cutRows = s.drawn.map((c) => [
    formatThreshold(c),
    c.outcome,
    c.role === 'procedure-specific' ? 'procedure (solid red line)' : 'screening (dashed grey line)',
    performance(c),
    cite(k, c.reference),
  ]);
  return el(
    'section',
    { class: 'series', 'aria-labelledby': id, 'data-metric': s.metric },
    el('h3', { id }, `${idx + 1}. ${s.label}`),
    el(
      'figure',
      { class: 'plot' },
      plotSeries(k, s, `${id}-caption`),
      el(
        'figcaption',
        { id: `${id}-caption` },
        `${s.label}: every measurement on record, with the cutoffs that apply. Values and cutoffs are listed in the tables below.`,
      ),
    ),
    table(`${s.label} measurements`, head, rows, 'values'),
    s.drawn.length > 0 &&
      table(
        `Cutoffs drawn on the ${s.label} plot`,
        ['Cutoff', 'Predicts', 'Kind', 'Performance', 'Source'],
        cutRows,
        'drawn',
      ),
  );
}

function render(k: KnowledgeView, patient: FhirResource, vm: ViewModel, needBanner: boolean): HTMLElement {
  const name = (patient.name as { given?: string[]; family?: string; text?: string }[] | undefined)?.[0];
  const patientName = name?.text ?? [...(name?.given ?? []), name?.family ?? ''].join(' ').trim();
  const banner = el(
    'section',
    { class: needBanner ? 'banner' : 'banner compact', 'aria-label': 'Patient' },
    el(
      'p',
      {},
      el('strong', {}, patientName || 'Patient'),
      ` · born ${fmtDate(patient.birthDate as string | undefined)} · ${String(patient.gender ?? '')}`,
    ),
  );
  const main = el('main', { id: 'app' });
  main.append(el('h1', {}, 'Bone health before spine surgery'), banner);
  if (vm.finding) {
    main.append(
      el(
        'p',
        { class: 'finding', role: 'note' },
        'Opened from the card: ',
        el('strong', {}, vm.finding.display),
      ),
    );
  }
  main.append(
    el(
      'section',
      { 'aria-labelledby': 'procedure-h' },
      el('h2', { id: 'procedure-h' }, 'Planned procedure'),
      vm.procedure
        ? el(
            'p',
            { id: 'procedure' },
            el('strong', {}, vm.procedure.display),
            ` (${vm.procedure.familyLabel}, ${vm.procedure.region})`,
          )
        : el('p', { id: 'procedure' }, 'No planned spine procedure found; screening cutoffs only.'),
    ),
  );

  const trend = el(
    'section',
    { 'aria-labelledby': 'trend-h' },
    el('h2', { id: 'trend-h' }, 'Bone-quality measurements over time'),
  );
  if (vm.series.length === 0)
    trend.append(el('p', {}, 'No bone-quality score, DXA T-score or CT attenuation on record.'));
  vm.series.forEach((s, i) => trend.append(seriesSection(k, s, i)));
  if (vm.missing.length > 0)
    trend.append(
      el('p', {}, `Not on record (published cutoffs exist for this procedure): ${vm.missing.join(', ')}.`),
    );
  if (vm.dxaLscNote) trend.append(el('p', { class: 'note' }, vm.dxaLscNote));
  main.append(trend);

  const cutRows = vm.applicable.map((c) => [
    k.metrics.find((m) => m.id === c.metric)?.label ?? c.metric,
    formatThreshold(c),
    c.outcome,
    c.procedureLabel,
    performance(c),
    c.fieldStrengthT !== undefined ? `${c.fieldStrengthT} T` : 'not stated',
    c.population,
    el('span', {}, cite(k, c.reference), c.local ? ' (local)' : ''),
  ]);
  main.append(
    el(
      'section',
      { 'aria-labelledby': 'cutoffs-h' },
      el('h2', { id: 'cutoffs-h' }, 'Published cutoffs that apply'),
      table(
        vm.procedure
          ? `Cutoffs for ${vm.procedure.familyLabel} and screening cutoffs for the ${vm.procedure.region} spine`
          : 'Screening cutoffs',
        [
          'Measure',
          'Cutoff',
          'Predicts',
          'Procedure',
          'Performance',
          'Field strength',
          'Population',
          'Source',
        ],
        cutRows,
        'cutoffs',
      ),
    ),
  );

  const caveats = el(
    'section',
    { 'aria-labelledby': 'caveats-h' },
    el('h2', { id: 'caveats-h' }, 'Caveats and confounders on record'),
  );
  if (vm.confounders.length > 0) {
    caveats.append(
      table(
        'Conditions and medications on record that bear on bone quality',
        ['On record', 'Group', 'Why it matters', 'Date'],
        vm.confounders.map((c) => [c.display, c.listTitle, c.description, fmtDate(c.date)]),
        'confounders',
      ),
    );
  } else {
    caveats.append(
      el('p', {}, 'No confounding condition or medication found on the problem list or medication list.'),
    );
  }
  if (vm.caveats.length > 0) {
    caveats.append(
      el(
        'ul',
        { class: 'caveats' },
        ...vm.caveats.map((c) => el('li', {}, c.text, ...c.references.flatMap((r) => [' ', cite(k, r)]))),
      ),
    );
  }
  main.append(caveats);

  main.append(
    el(
      'section',
      { 'aria-labelledby': 'inplace-h' },
      el('h2', { id: 'inplace-h' }, 'Already ordered or in place'),
      vm.inPlace.length > 0
        ? table(
            'Bone-health orders, referrals and treatment on record',
            ['What', 'Group', 'Status', 'Date'],
            vm.inPlace.map((x) => [x.display, x.listTitle, x.status ?? '', fmtDate(x.date)]),
            'inplace',
          )
        : el(
            'p',
            {},
            'No DXA order, bone-health referral, vitamin D test or osteoporosis treatment on record.',
          ),
    ),
  );

  main.append(
    el(
      'section',
      { 'aria-labelledby': 'refs-h' },
      el('h2', { id: 'refs-h' }, 'Cited papers'),
      el(
        'ol',
        { class: 'references' },
        ...vm.referenceIds.map((id) => {
          const r = k.references[id]!;
          return el(
            'li',
            {},
            `${r.authors} ${r.title}. ${r.journal}. `,
            el(
              'a',
              { href: r.url, rel: 'noopener noreferrer', target: '_blank' },
              r.doi ? `doi:${r.doi}` : 'Find on PubMed',
            ),
          );
        }),
      ),
    ),
    el(
      'footer',
      {},
      el(
        'p',
        {},
        `Knowledge base ${k.version}. `,
        el('a', { href: k.source.url, rel: 'noopener noreferrer', target: '_blank' }, k.source.label),
        '. Decision support only: the care team decides.',
      ),
    ),
    el('p', { class: 'no-print' }, el('button', { type: 'button', id: 'print' }, 'Print this view')),
  );
  return main;
}

async function main(): Promise<void> {
  const client = await FHIR.oauth2.ready();
  const patientId = client.patient.id;
  if (!patientId) throw new Error('the launch gave no patient');
  const tokenResponse = (client.state.tokenResponse ?? {}) as Record<string, unknown>;
  const appContext = parseAppContext(tokenResponse.appContext);
  const pid = encodeURIComponent(patientId);
  const all = { pageLimit: 0, flat: true } as const;
  const [knowledge, patient, observations, conditions, serviceRequests, medRequests, medStatements] =
    await Promise.all([
      fetch('knowledge.json').then((r) => {
        if (!r.ok) throw new Error(`knowledge HTTP ${r.status}`);
        return r.json() as Promise<KnowledgeView>;
      }),
      client.request<FhirResource>(`Patient/${pid}`),
      client.request<Observation[]>(`Observation?patient=${pid}&_count=200`, all),
      client.request<FhirResource[]>(`Condition?patient=${pid}&_count=200`, all),
      client.request<FhirResource[]>(`ServiceRequest?patient=${pid}&_count=200`, all),
      client.request<FhirResource[]>(`MedicationRequest?patient=${pid}&_count=200`, all),
      client
        .request<FhirResource[]>(`MedicationStatement?patient=${pid}&_count=200`, all)
        .catch(() => [] as FhirResource[]),
    ]);
  const vm = buildViewModel(
    knowledge,
    { patient, observations, conditions, serviceRequests, medications: [...medRequests, ...medStatements] },
    appContext,
  );
  const view = render(knowledge, patient, vm, tokenResponse.need_patient_banner !== false);
  document.getElementById('app')?.replaceWith(view);
  document.getElementById('print')?.addEventListener('click', () => window.print());
  document.body.dataset.ready = 'true';
}

main().catch((err: unknown) => {
  const status = document.getElementById('status');
  if (status) {
    status.textContent = `Could not load the view: ${(err as Error).message}`;
    status.setAttribute('role', 'alert');
  }
  document.getElementById('app')?.setAttribute('aria-busy', 'false');
  document.body.dataset.ready = 'error';
});
