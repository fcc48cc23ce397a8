/**
 * The console's page bodies (server-rendered; see html.ts for the layout). Each takes plain data already
 * filtered for the viewer's role: a page never receives what its role may not see.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import type { CdsCard } from '../cds/types.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { Cutoff } from '../knowledge/schema.js';
import type { AuditEntry, ClientAuthRecord, OutboxEntry } from '../store/console-queries.js';
import { AUDIT_OUTCOME_GROUPS } from '../store/console-queries.js';
import type { FeedbackAnalytics } from './analytics.js';
import type { ConsoleDriftSource } from './drift.js';
import { csrfField, esc, percent, raw, table, when, type Html } from './html.js';

// ---- overview ----------------------------------------------------------------------------------------

export function overviewPage(data: {
  role: string;
  permissions: string[];
  outbox: { state: string; count: number }[];
  drift: ConsoleDriftSource | undefined;
  knowledgeVersion: string;
}): string {
  return `<p>Knowledge base in use: <strong>${esc(data.knowledgeVersion)}</strong>.</p>
<h2>Your role</h2>
<p>Role <strong>${esc(data.role)}</strong>. ${
    data.permissions.length > 0
      ? `It may also: ${esc(data.permissions.join('; '))}.`
      : 'It sees aggregates only: no patient ids, no actions.'
  }</p>
<h2>Write-back queue</h2>
${table({
  caption: 'Outbox items by state',
  columns: ['State', 'Items'],
  rows: data.outbox.map((o) => [o.state, o.count]),
  numeric: [1],
  empty: 'The write-back outbox is empty.',
})}
<p><a href="/console/writeback">Open the write-back queue</a></p>
${driftPanel(data.drift)}`;
}

export function driftPanel(drift: ConsoleDriftSource | undefined): string {
  const head = '<h2 id="drift">Calibration drift</h2>';
  if (!drift) return `${head}<p data-testid="drift-status">Drift watch not configured.</p>`;
  const status = drift.status();
  if (!status)
    return `${head}<p data-testid="drift-status">Drift watch configured; no check has run yet.</p>`;
  const drifting = status.strata.filter((s) => s.status === 'drift').length;
  const num = (v: number | null, digits = 2) => (v === null ? '—' : v.toFixed(digits));
  return `${head}<p data-testid="drift-status">Last check ${esc(status.checkedAt ?? 'never')}: ${
    drifting > 0 ? `<strong>${drifting} stratum(s) drifting</strong>` : 'no stratum drifting'
  }.</p>
${table({
  caption: 'Score distribution of recent scans against the calibration baseline, per stratum',
  columns: [
    'Metric',
    'Field strength (T)',
    'Scanner',
    'Status',
    'Baseline n',
    'Recent n',
    'Baseline median',
    'Recent median',
    'Median shift',
    'KS statistic',
    'p-value',
  ],
  rows: status.strata.map((s) => [
    s.metric,
    s.fieldStrengthT,
    s.scanner ?? 'any',
    raw(
      `<span class="badge ${s.status === 'drift' ? 'bad' : s.status === 'stable' ? 'ok' : 'warn'}">${esc(s.status)}</span>`,
    ),
    s.baselineN,
    s.recentN,
    num(s.baselineMedian),
    num(s.recentMedian),
    num(s.medianShift),
    num(s.ksStatistic, 3),
    num(s.pValue, 4),
  ]),
  numeric: [4, 5, 6, 7, 8, 9, 10],
})}`;
}

// ---- knowledge in use --------------------------------------------------------------------------------

export interface OverridesInfo {
  path: string;
  sha256: string;
  modifiedAt: Date;
  version?: string;
  description?: string;
  cutoffIds: string[];
}

function citation(kb: KnowledgeBase, refId: string): Html {
  const ref = kb.references[refId];
  if (!ref) return raw(esc(refId));
  const short = ref.short ?? `${ref.authors.split(/[ ,]/)[0] ?? ref.authors} ${ref.year}`;
  const text = `${short}. ${ref.title}. ${ref.journal}`;
  return raw(
    ref.doi ? `${esc(text)}. <a href="https://doi.org/${esc(ref.doi)}">doi:${esc(ref.doi)}</a>` : esc(text),
  );
}

function performance(c: Cutoff): string {
  const parts: string[] = [];
  const f = (v: number | undefined, name: string) => {
    if (v !== undefined) parts.push(`${name} ${(v * 100).toFixed(0)}%`);
  };
  f(c.sensitivity, 'Se');
  f(c.specificity, 'Sp');
  if (c.auc !== undefined) parts.push(`AUC ${c.auc.toFixed(2)}`);
  f(c.npv, 'NPV');
  f(c.ppv, 'PPV');
  return parts.length > 0 ? parts.join(', ') : 'not reported';
}

function fieldStrength(c: Cutoff): string {
  if (c.fieldStrengthT !== undefined) return `${c.fieldStrengthT} T (site)`;
  if (c.cohort) return c.cohort.fieldStrength === 'unknown' ? 'unknown' : `${c.cohort.fieldStrength}`;
  return 'n/a';
}

export function knowledgePage(data: {
  kb: KnowledgeBase;
  baseCutoffIds: ReadonlySet<string>;
  overrides: OverridesInfo | undefined;
  overridesProblem?: string;
}): string {
  const { kb } = data;
  const overridden = new Set(kb.overriddenCutoffs);
  const files = kb.version.split('; ').map((part) => {
    const [name, ...rest] = part.split(' ');
    return [`${name}.json`.replace('overrides.json', 'site overrides file'), rest.join(' ')];
  });
  const cutoffRows = kb.cutoffs.map((c) => [
    raw(`<code>${esc(c.id)}</code>`),
    c.metric,
    c.region,
    `${c.comparator} ${c.threshold}${c.unit ? ` ${c.unit}` : ''}`,
    c.role,
    c.procedureLabel,
    c.outcome,
    c.population,
    fieldStrength(c),
    performance(c),
    citation(kb, c.reference),
    overridden.has(c.id)
      ? raw(
          `<span class="badge warn">${data.baseCutoffIds.has(c.id) ? 'replaced by site override' : 'added by site override'}</span>`,
        )
      : 'shipped',
  ]);
  const lists = Object.values(kb.codeLists);
  const listRows = lists.map((l) => {
    const verified = l.codes.filter((c) => c.verified).length;
    return [raw(`<code>${esc(l.id)}</code>`), l.title, l.codes.length, verified, l.codes.length - verified];
  });
  const listDetails = lists
    .map(
      (l) => `<details><summary>${esc(l.title)} (${l.codes.length} codes)</summary>
${table({
  caption: `Codes of ${l.title}`,
  columns: ['Code', 'System', 'Display', 'Verified', 'Checked against', 'Checked on'],
  rows: l.codes.map((c) => [
    c.code,
    c.system,
    c.display,
    c.verified
      ? raw('<span class="badge ok">verified</span>')
      : raw('<span class="badge warn">not verified</span>'),
    c.verifiedBy ?? '—',
    c.checkedOn ?? '—',
  ]),
})}</details>`,
    )
    .join('\n');
  let overrides: string;
  if (data.overrides) {
    const o = data.overrides;
    const provenance = kb.cutoffs.filter((c) => overridden.has(c.id) && c.provenance);
    overrides = `<dl class="facts">
<dt>File</dt><dd><code>${esc(o.path)}</code></dd>
<dt>Version</dt><dd>${esc(o.version ?? 'unversioned')}</dd>
<dt>Description</dt><dd>${esc(o.description ?? '—')}</dd>
<dt>SHA-256</dt><dd><code>${esc(o.sha256)}</code></dd>
<dt>Last modified</dt><dd>${esc(when(o.modifiedAt))}</dd>
<dt>Cutoffs it sets</dt><dd>${o.cutoffIds.map((id) => `<code>${esc(id)}</code>`).join(', ') || 'none'}</dd>
</dl>
${table({
  caption: 'Provenance of the site-calibrated cutoffs',
  columns: [
    'Cutoff',
    'Site',
    'Cohort',
    'Events',
    'Method',
    'Field strength (T)',
    'Scanner',
    'Derived on',
    'Software',
  ],
  rows: provenance.map((c) => {
    const p = c.provenance!;
    return [
      c.id,
      p.site ?? '—',
      p.cohortSize,
      p.events,
      p.method,
      p.fieldStrengthT ?? '—',
      p.scanner ?? '—',
      p.derivedOn,
      p.software ?? '—',
    ];
  }),
  empty: 'No cutoff of the overrides file carries site-calibration provenance.',
})}`;
  } else {
    overrides = `<p>${esc(data.overridesProblem ?? 'No site overrides file is configured (KNOWLEDGE_OVERRIDES_FILE): the shipped cutoffs apply.')}</p>`;
  }
  return `<h2>Knowledge files and versions</h2>
${table({ caption: 'Versions of the knowledge files in use', columns: ['File', 'Version'], rows: files })}
<h2>Cutoffs</h2>
<p>Every cutoff the service may compare a score with. Se/Sp: sensitivity/specificity as reported by the cited source.</p>
${table({
  caption: `Cutoffs in use (${kb.cutoffs.length})`,
  id: 'cutoffs',
  columns: [
    'Id',
    'Metric',
    'Region',
    'Threshold',
    'Role',
    'Procedure',
    'Outcome',
    'Population',
    'Field strength',
    'Performance',
    'Citation',
    'Source',
  ],
  rows: cutoffRows,
})}
<h2>Code lists</h2>
${table({ caption: 'Code lists and their verification status', columns: ['Id', 'Title', 'Codes', 'Verified', 'Not verified'], rows: listRows, numeric: [2, 3, 4] })}
${listDetails}
<h2>Site overrides file</h2>
${overrides}`;
}

// ---- cards and feedback ------------------------------------------------------------------------------

function renderPlot(options: Plot.PlotOptions, label: string): string {
  const { document } = parseHTML('<!doctype html><html><head></head><body></body></html>');
  const el = Plot.plot({ ...options, document }) as unknown as {
    outerHTML: string;
    tagName: string;
    querySelectorAll(s: string): Iterable<{
      setAttribute(n: string, v: string): void;
      removeAttribute(n: string): void;
      getAttribute(n: string): string | null;
    }>;
    setAttribute(n: string, v: string): void;
  };
  // One image named by `label` (the table below carries the numbers); inner labels are not announced.
  for (const node of el.querySelectorAll('[aria-label], [aria-description]')) {
    node.removeAttribute('aria-label');
    node.removeAttribute('aria-description');
  }
  const svgs = el.tagName.toLowerCase() === 'svg' ? [el] : [...el.querySelectorAll('svg')];
  svgs.forEach((svg, i) => {
    if (i === svgs.length - 1) {
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', label);
    } else svg.setAttribute('aria-hidden', 'true');
  });
  return el.outerHTML;
}

export function weeklyPlot(a: FeedbackAnalytics): string {
  if (a.weekly.length === 0)
    return '<p class="empty">No cards were shown in this period: no trend to draw.</p>';
  const series = ['shown', 'accepted', 'overridden', 'ignored'];
  // Grouped bars per week: readable from one week (a line needs two) to a year of weeks.
  return renderPlot(
    {
      width: 760,
      height: 300,
      marginLeft: 50,
      marginBottom: 40,
      color: { legend: true, domain: series, range: ['#1f2937', '#15803d', '#b45309', '#6b7280'] },
      fx: { label: 'Week starting (UTC)', padding: 0.2 },
      x: { domain: series, axis: null },
      y: { label: 'Cards', grid: true },
      marks: [Plot.barY(a.weekly, { fx: 'week', x: 'series', y: 'count', fill: 'series' }), Plot.ruleY([0])],
    },
    'Weekly trend of cards shown, accepted, overridden and ignored',
  );
}

export function feedbackPage(a: FeedbackAnalytics, query: { from: string; to: string }): string {
  const qs = `from=${encodeURIComponent(query.from)}&to=${encodeURIComponent(query.to)}`;
  return `<form class="filters" method="get" action="/console/feedback">
<label for="from">From (UTC date)<input id="from" name="from" type="date" value="${esc(query.from)}" required></label>
<label for="to">To, inclusive (UTC date)<input id="to" name="to" type="date" value="${esc(query.to)}" required></label>
<button type="submit">Show period</button>
</form>
<p><a href="/console/feedback.csv?${esc(qs)}" download>Export this period as CSV</a></p>
<p>A card counts once per period however often it was returned; its outcome is its latest feedback (ignored: no feedback).</p>
<h2>By card topic and indicator</h2>
${table({
  caption: `Cards from ${query.from} to ${query.to}`,
  id: 'topics',
  columns: [
    'Topic',
    'Service',
    'Indicator',
    'Shown',
    'Times returned',
    'Accepted',
    'Overridden',
    'Ignored',
    'Acceptance rate',
  ],
  rows: a.topics.map((r) => [
    r.topic,
    r.serviceId,
    r.indicator,
    r.shown,
    r.presentations,
    r.accepted,
    r.overridden,
    r.ignored,
    percent(r.acceptanceRate),
  ]),
  numeric: [3, 4, 5, 6, 7, 8],
  empty: 'No cards were shown in this period.',
})}
<h2>Weekly trend</h2>
<div class="plot">${weeklyPlot(a)}</div>
${table({
  caption: 'Weekly trend (the numbers behind the plot)',
  columns: ['Week starting', 'Series', 'Cards'],
  rows: a.weekly.map((p) => [p.week, p.series, p.count]),
  numeric: [2],
  empty: 'No weekly data.',
})}
<h2>Suggestions</h2>
${table({
  caption: 'Acceptance rate of each suggestion',
  id: 'suggestions',
  columns: ['Suggestion', 'Topic', 'Offered', 'Accepted', 'Acceptance rate'],
  rows: a.suggestions.map((s) => [s.label, s.topic, s.offered, s.accepted, percent(s.acceptanceRate)]),
  numeric: [2, 3, 4],
  empty: 'No card with suggestions was shown in this period.',
})}
<h2>Override reasons</h2>
${table({
  caption: 'Override reasons, most frequent first',
  id: 'reasons',
  columns: ['Reason code', 'Reason', 'Cards', 'Topics'],
  rows: a.reasons.map((r) => [r.code, r.display, r.count, r.topics.join(', ')]),
  numeric: [2],
  empty: 'No card was overridden in this period.',
})}`;
}

// ---- audit -------------------------------------------------------------------------------------------

export function auditPage(data: {
  rows: AuditEntry[];
  total: number;
  showPatients: boolean;
  facets: { services: string[]; clients: string[] };
  query: Record<string, string>;
  page: number;
  pageSize: number;
}): string {
  const q = data.query;
  const select = (name: string, label: string, options: readonly string[]) =>
    `<label for="${name}">${esc(label)}<select id="${name}" name="${name}"><option value="">any</option>${options
      .map((o) => `<option${q[name] === o ? ' selected' : ''}>${esc(o)}</option>`)
      .join('')}</select></label>`;
  const columns = ['Time (UTC)', 'Service', 'Client', 'Outcome', 'Cards', 'Duration (ms)', 'hookInstance'];
  if (data.showPatients) columns.push('Patient');
  const rows = data.rows.map((r) => {
    const row: unknown[] = [
      when(r.at),
      r.serviceId,
      r.clientIss,
      r.outcome,
      r.cardCount,
      r.durationMs,
      r.hookInstance,
    ];
    if (data.showPatients) row.push(r.patientId ?? '—');
    return row;
  });
  const pages = Math.max(1, Math.ceil(data.total / data.pageSize));
  const link = (page: number, text: string) => {
    const params = new URLSearchParams({ ...q, page: String(page) });
    return `<a href="/console/audit?${esc(params.toString())}">${esc(text)}</a>`;
  };
  return `<form class="filters" method="get" action="/console/audit">
<label for="from">From (UTC date)<input id="from" name="from" type="date" value="${esc(q.from ?? '')}"></label>
<label for="to">To, inclusive (UTC date)<input id="to" name="to" type="date" value="${esc(q.to ?? '')}"></label>
${select('service', 'Service', data.facets.services)}
${select('client', 'Client', data.facets.clients)}
${select('outcome', 'Outcome', AUDIT_OUTCOME_GROUPS)}
<button type="submit">Search</button>
</form>
<p>${
    data.showPatients
      ? 'Patient ids are shown because your role may follow a case up.'
      : 'Patient ids are hidden: they are shown to analysts and administrators only.'
  } Outcome <em>412</em> is a refused call whose FHIR data could not be obtained; <em>errors</em> are every other failure.</p>
${table({
  caption: `Hook calls: ${data.total} found, page ${data.page} of ${pages}`,
  id: 'audit',
  columns,
  rows,
  numeric: [4, 5],
  empty: 'No hook call matches.',
})}
<nav aria-label="Audit pages"><p>${data.page > 1 ? link(data.page - 1, 'Previous page') : ''} ${data.page < pages ? link(data.page + 1, 'Next page') : ''}</p></nav>`;
}

// ---- write-back --------------------------------------------------------------------------------------

const KIND_LABELS: Record<string, string> = {
  'fhir-observation': 'FHIR Observations (measured scores)',
  'dicom-sr': 'DICOM SR write-backs (to the PACS)',
};

export function writebackPage(data: {
  /** Undelivered items (pending, retrying, dead), most urgent first. */
  items: OutboxEntry[];
  counts: { kind: string; state: string; count: number }[];
  canRetry: boolean;
  showKeys: boolean;
  csrf: string;
  notice?: string;
}): string {
  const counts = new Map(data.counts.map((c) => [`${c.kind}|${c.state}`, c.count]));
  const kinds = [...new Set(['fhir-observation', 'dicom-sr', ...data.counts.map((c) => c.kind)])];
  const states = ['pending', 'retrying', 'dead', 'done'] as const;
  const summary = table({
    caption: 'Outbox items by kind and state',
    columns: ['Kind', ...states],
    rows: kinds.map((k) => [KIND_LABELS[k] ?? k, ...states.map((s) => counts.get(`${k}|${s}`) ?? 0)]),
    numeric: [1, 2, 3, 4],
  });
  const sections = kinds
    .map((kind) => {
      const items = data.items.filter((i) => i.kind === kind);
      const columns = [
        'Item',
        'State',
        'Attempts',
        'Next attempt (UTC)',
        'Reason (last error)',
        'Queued (UTC)',
        'Updated (UTC)',
      ];
      if (data.showKeys) columns.push('Key');
      if (data.canRetry) columns.push('Action');
      const rows = items.map((i) => {
        const row: unknown[] = [
          `#${i.id}`,
          raw(
            `<span class="badge ${i.state === 'dead' ? 'bad' : i.state === 'retrying' ? 'warn' : 'ok'}" data-testid="state-${i.id}">${esc(i.state)}</span>`,
          ),
          i.attempts,
          i.state === 'dead' ? '— (given up)' : when(i.nextAttemptAt),
          i.lastError ?? '—',
          when(i.createdAt),
          when(i.updatedAt),
        ];
        if (data.showKeys) row.push(raw(`<code>${esc(i.dedupeKey)}</code>`));
        if (data.canRetry) {
          row.push(
            i.state === 'dead'
              ? raw(
                  `<form method="post" action="/console/writeback/${i.id}/retry">${csrfField(data.csrf)}<button type="submit" aria-label="Retry item ${i.id}">Retry</button></form>`,
                )
              : '—',
          );
        }
        return row;
      });
      return `<h2>${esc(KIND_LABELS[kind] ?? kind)}</h2>
${table({ caption: `${KIND_LABELS[kind] ?? kind}: items not yet delivered`, columns, rows, numeric: [2], empty: 'Nothing waiting or dead.' })}`;
    })
    .join('\n');
  return `${data.notice ? `<p role="status" class="badge ok">${esc(data.notice)}</p>` : ''}
<p>${data.canRetry ? 'A dead item can be retried once its cause is fixed: it goes back to pending, due now.' : 'Retrying dead items is for administrators.'}</p>
${summary}
${sections}`;
}

// ---- clients -----------------------------------------------------------------------------------------

export interface ClientView {
  iss: string;
  label?: string;
  jwksKids: string[];
  jku: string[];
  fhirServers?: string[];
  ehr?: string;
  tenants?: string[];
}

export function clientsPage(data: { clients: ClientView[]; auth: ClientAuthRecord[] }): string {
  const byIss = new Map(data.auth.map((a) => [a.clientIss, a]));
  const rows = data.clients.map((c) => {
    const a = byIss.get(c.iss);
    const keys = [...c.jwksKids.map((k) => `key ${k} (configured)`), ...c.jku.map((u) => `JWKS URL ${u}`)];
    return [
      c.iss,
      c.label ?? '—',
      c.ehr ?? 'generic',
      raw(keys.map((k) => esc(k)).join('<br>') || '—'),
      raw(c.fhirServers ? c.fhirServers.map((u) => esc(u)).join('<br>') : 'servers on public addresses only'),
      when(a?.lastSuccessAt),
      when(a?.lastFailureAt),
      a?.lastFailureReason ?? '—',
      a?.failureCount ?? 0,
    ];
  });
  const unknown = byIss.get('unknown');
  return `<p>The trusted CDS clients (CDS_CLIENTS_FILE). Authentication results are recorded per client with the stable refusal reason; tokens are never stored.</p>
${table({
  caption: 'Trusted clients and their last authentication',
  id: 'clients',
  columns: [
    'Client (iss)',
    'Label',
    'EHR profile',
    'Key sources',
    'Allowed FHIR servers',
    'Last success (UTC)',
    'Last failure (UTC)',
    'Last failure reason',
    'Failures',
  ],
  rows,
  numeric: [8],
  empty: 'No trusted client is configured.',
})}
<h2>Refused tokens naming no trusted client</h2>
<p>${
    unknown
      ? `Last at ${esc(when(unknown.lastFailureAt))}, reason <code>${esc(unknown.lastFailureReason ?? '')}</code>; ${unknown.failureCount} in total.`
      : 'None recorded.'
  }</p>`;
}

// ---- try a patient -----------------------------------------------------------------------------------

export interface TryForm {
  patients: { id: string; label: string }[];
  patientsProblem?: string;
  procedures: { code: string; system: string; display: string }[];
  services: { id: string; hook: string; title: string }[];
  testFhirServer?: string;
  selected: { patient?: string; procedure?: string; service?: string };
  csrf: string;
}

export interface TryResult {
  status: number;
  request: unknown;
  response: unknown;
  cards: CdsCard[];
}

/**
 * The subset of GitHub-flavoured Markdown our cards use (paragraphs, `**bold**`, `_italic_`, `- ` lists),
 * rendered after escaping, so nothing in a card can inject markup.
 */
export function cardMarkdown(markdown: string): string {
  const inline = (text: string) =>
    esc(text)
      .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[\s(])_(.+?)_(?=[\s).,:;!?]|$)/g, '$1<em>$2</em>');
  return markdown
    .split(/\n{2,}/)
    .map((block) => {
      const lines = block.split('\n');
      if (lines.every((l) => /^\s*[-*] /.test(l))) {
        return `<ul>${lines.map((l) => `<li>${inline(l.replace(/^\s*[-*] /, ''))}</li>`).join('')}</ul>`;
      }
      return `<p>${lines.map(inline).join('<br>')}</p>`;
    })
    .join('\n');
}

function cardHtml(card: CdsCard): string {
  const suggestions = (card.suggestions ?? [])
    .map(
      (s) =>
        `<li><button type="button" disabled>${esc(s.label)}</button>${s.isRecommended ? ' (recommended)' : ''}</li>`,
    )
    .join('');
  const links = (card.links ?? [])
    .map((l) => `<li><a href="${esc(l.url)}" rel="noreferrer">${esc(l.label)}</a> (${esc(l.type)})</li>`)
    .join('');
  const reasons = (card.overrideReasons ?? []).map((r) => `<li>${esc(r.display ?? r.code)}</li>`).join('');
  return `<article class="card ${esc(card.indicator)}" aria-label="${esc(card.indicator)} card">
<h3>${esc(card.summary)}</h3>
<p><span class="badge">${esc(card.indicator)}</span> Source: ${
    card.source.url
      ? `<a href="${esc(card.source.url)}" rel="noreferrer">${esc(card.source.label)}</a>`
      : esc(card.source.label)
  }${card.source.topic?.display ? ` · topic ${esc(card.source.topic.display)}` : ''}</p>
${card.detail ? `<div class="detail">${cardMarkdown(card.detail)}</div>` : ''}
${suggestions ? `<h4>Suggestions</h4><ul>${suggestions}</ul>` : ''}
${links ? `<h4>Links</h4><ul>${links}</ul>` : ''}
${reasons ? `<h4>Override reasons offered</h4><ul>${reasons}</ul>` : ''}
</article>`;
}

export function tryPage(form: TryForm, result?: TryResult): string {
  if (!form.testFhirServer) {
    return '<p>No test FHIR server is configured (CONSOLE_TEST_FHIR_SERVER; demo mode uses the demo FHIR server).</p>';
  }
  const opt = (value: string, label: string, selected: string | undefined) =>
    `<option value="${esc(value)}"${selected === value ? ' selected' : ''}>${esc(label)}</option>`;
  const formHtml = `<p>Test FHIR server: <code>${esc(form.testFhirServer)}</code>. The request is sent to the service's own hook pipeline exactly as an EHR's would be (no prefetch: the service reads the server).</p>
${form.patientsProblem ? `<p role="alert">${esc(form.patientsProblem)}</p>` : ''}
<form method="post" action="/console/try" class="filters">
${csrfField(form.csrf)}
<label for="patient">Patient<select id="patient" name="patient" required>${form.patients.map((p) => opt(p.id, p.label, form.selected.patient)).join('')}</select></label>
<label for="procedure">Procedure code<select id="procedure" name="procedure" required>${form.procedures
    .map((p) => opt(`${p.system}|${p.code}`, `${p.code} ${p.display}`, form.selected.procedure))
    .join('')}</select></label>
<label for="service">Hook<select id="service" name="service" required>${form.services
    .map((s) => opt(s.id, `${s.hook} (${s.id})`, form.selected.service))
    .join('')}</select></label>
<button type="submit">Run the hook</button>
</form>`;
  if (!result) return formHtml;
  return `${formHtml}
<h2>Cards as the EHR would show them</h2>
<p data-testid="try-status">HTTP ${result.status}: ${result.cards.length} card(s).</p>
<div id="cards">${result.cards.map(cardHtml).join('\n') || '<p class="empty">No cards.</p>'}</div>
<h2>Request</h2>
<pre id="request-json" tabindex="0" aria-label="Request JSON">${esc(JSON.stringify(result.request, null, 2))}</pre>
<h2>Response</h2>
<pre id="response-json" tabindex="0" aria-label="Response JSON">${esc(JSON.stringify(result.response, null, 2))}</pre>`;
}
