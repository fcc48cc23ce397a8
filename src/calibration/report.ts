/**
 * The calibration report: one printable, self-contained HTML page (no script, no external resource) with
 * the strata, the guards' verdicts, the figures, and per field strength the ROC curves and the score
 * distributions drawn with Observable Plot, rendered to SVG on the server with linkedom. Every figure
 * has a text alternative (an accessible name and a caption stating what it shows in numbers).
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import type { CalibrationResult, PublishedComparison, StratumResult } from './calibrate.js';
import type { CalibrationOverrides } from './overrides.js';
import { lowerFirst, methodText } from './overrides.js';
import { median } from './stats.js';

export interface ReportContext {
  site: string;
  derivedOn: Date;
  software: string;
  knowledgeBaseVersion: string;
  /** The overrides written, when any stratum was accepted. */
  overrides: CalibrationOverrides | null;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** HTML-escapes text that may come from the input (site, scanner names). */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const f2 = (v: number): string => v.toFixed(2);
const f3 = (v: number): string => v.toFixed(3);
const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);
const ci = (c: [number, number], f: (v: number) => string = f3): string => `${f(c[0])}–${f(c[1])}`;

interface DomNode {
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  getAttribute(name: string): string | null;
}
interface PlotElement extends DomNode {
  outerHTML: string;
  tagName: string;
  querySelectorAll(selector: string): Iterable<DomNode>;
}

/**
 * Renders a Plot figure to markup. The chart SVG becomes one image named `label` (its caption carries
 * the numbers); Plot's labels on inner groups are removed, as an image's parts are not announced and
 * axe reports ARIA labels on generic elements.
 */
function renderPlot(options: Plot.PlotOptions, label: string): string {
  const { document } = parseHTML('<!doctype html><html><head></head><body></body></html>');
  const el = Plot.plot({ ...options, document, ariaLabel: label }) as unknown as PlotElement;
  const charts =
    el.tagName.toLowerCase() === 'svg'
      ? [el]
      : [...el.querySelectorAll('svg')].filter((s) => s.getAttribute('aria-label') === label);
  for (const node of el.querySelectorAll('[aria-label], [aria-description]')) {
    if (charts.includes(node)) continue;
    node.removeAttribute('aria-label');
    node.removeAttribute('aria-description');
  }
  // Legend swatches are decoration next to their text.
  for (const svg of el.querySelectorAll('svg'))
    if (!charts.includes(svg)) svg.setAttribute('aria-hidden', 'true');
  for (const svg of charts) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    svg.removeAttribute('aria-description');
  }
  return el.outerHTML;
}

/** Thins a ROC curve to at most `max` points (keeping both ends) so the SVG stays small. */
function thin<T>(points: readonly T[], max = 400): T[] {
  if (points.length <= max) return [...points];
  const step = (points.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => points[Math.round(i * step)]!);
}

function rocFigure(fs: string, strata: StratumResult[]): string {
  const analysed = strata.filter((s) => s.analysis !== null);
  if (analysed.length === 0) return '';
  const data = analysed.flatMap((s) =>
    thin(s.analysis!.roc).map((p) => ({ stratum: s.label, fpr: 1 - p.specificity, tpr: p.sensitivity })),
  );
  const cutoffs = analysed.map((s) => ({
    stratum: s.label,
    fpr: 1 - s.analysis!.atCutoff.specificity,
    tpr: s.analysis!.atCutoff.sensitivity,
  }));
  const label = `ROC curves at ${fs}`;
  const svg = renderPlot(
    {
      width: 520,
      height: 440,
      marginBottom: 45,
      style: { fontSize: '12px' },
      x: { label: '1 − specificity (false-positive rate)', domain: [0, 1], grid: true },
      y: { label: 'Sensitivity', domain: [0, 1], grid: true },
      color: { legend: true, scheme: 'observable10' },
      marks: [
        Plot.line(
          [
            { fpr: 0, tpr: 0 },
            { fpr: 1, tpr: 1 },
          ],
          { x: 'fpr', y: 'tpr', stroke: '#767676', strokeDasharray: '4,4' },
        ),
        Plot.line(data, { x: 'fpr', y: 'tpr', stroke: 'stratum', strokeWidth: 2, curve: 'step-after' }),
        Plot.dot(cutoffs, { x: 'fpr', y: 'tpr', stroke: 'stratum', fill: 'white', r: 5, strokeWidth: 2 }),
      ],
    },
    label,
  );
  const text = analysed
    .map((s) => {
      const a = s.analysis!;
      return (
        `${esc(s.label)}: AUC ${f3(a.auc.auc)} (95% CI ${ci(a.auc.ci95)}); the Youden cutoff ${f3(a.cutoff.threshold)} ` +
        `gives sensitivity ${pct(a.atCutoff.sensitivity)} and specificity ${pct(a.atCutoff.specificity)} (circle)`
      );
    })
    .join('; ');
  return `<figure class="chart">${svg}<figcaption><strong>${esc(label)}.</strong> ${text}. The dashed diagonal is chance.</figcaption></figure>`;
}

function distributionFigure(fs: string, strata: StratumResult[], result: CalibrationResult): string {
  // The field-strength stratum holds every score at this field strength; scanner strata are subsets.
  const whole = strata.find((s) => s.key.scanner === null) ?? strata[0];
  if (whole === undefined) return '';
  const eventLabel = `${result.outcomeTitle}`;
  const noEventLabel = `No ${lowerFirst(result.outcomeTitle)}`;
  const data = [
    ...whole.scores.events.map((value) => ({ value, group: eventLabel })),
    ...whole.scores.nonEvents.map((value) => ({ value, group: noEventLabel })),
  ];
  const lines: { value: number; kind: string }[] = [];
  if (whole.analysis) lines.push({ value: whole.analysis.cutoff.threshold, kind: 'local cutoff' });
  const published = whole.analysis?.published ?? [];
  for (const p of published) lines.push({ value: p.threshold, kind: p.citation });
  const label = `Score distributions at ${fs}`;
  const svg = renderPlot(
    {
      width: 640,
      height: 320,
      marginBottom: 45,
      style: { fontSize: '12px' },
      x: { label: `${result.metric} score`, nice: true },
      y: { label: 'Patients', grid: true },
      color: { legend: true, domain: [eventLabel, noEventLabel], range: ['#c0392b', '#2c6fbb'] },
      marks: [
        Plot.rectY(
          data,
          Plot.binX({ y: 'count' }, {
            x: 'value',
            fill: 'group',
            mixBlendMode: 'multiply',
            fillOpacity: 0.6,
            thresholds: 30,
          } as Plot.BinXInputs<Plot.RectYOptions>),
        ),
        Plot.ruleY([0]),
        Plot.ruleX(lines.slice(0, 1), { x: 'value', stroke: 'black', strokeWidth: 2 }),
        Plot.ruleX(lines.slice(1), { x: 'value', stroke: '#595959', strokeDasharray: '3,3' }),
        Plot.text(lines, {
          x: 'value',
          text: 'kind',
          frameAnchor: 'top',
          dy: -2,
          rotate: -90,
          textAnchor: 'end',
          dx: 4,
          fill: 'black',
        }),
      ],
    },
    label,
  );
  const e = whole.scores.events;
  const ne = whole.scores.nonEvents;
  const text =
    `${e.length} patients with ${esc(lowerFirst(result.outcomeTitle))} (median score ${e.length ? f2(median(e)) : 'n/a'}) and ` +
    `${ne.length} without (median ${ne.length ? f2(median(ne)) : 'n/a'})` +
    (whole.analysis ? `; solid line: local cutoff ${f3(whole.analysis.cutoff.threshold)}` : '') +
    (published.length
      ? `; dashed lines: published cutoffs ${published.map((p) => `${esc(p.citation)} ${p.threshold}`).join(', ')}`
      : '');
  return `<figure class="chart">${svg}<figcaption><strong>${esc(label)}.</strong> ${text}.</figcaption></figure>`;
}

function publishedTable(rows: PublishedComparison[]): string {
  if (rows.length === 0) return '<p>No published cutoff answers this question for this metric.</p>';
  const body = rows
    .map((p) => {
      const c = p.calibrationInTheLarge;
      return (
        `<tr><th scope="row">${esc(p.citation)} (${esc(p.cutoffId)})</th><td>${p.comparator} ${p.threshold}</td>` +
        `<td>${pct(p.published.sensitivity)} / ${pct(p.published.specificity)}</td>` +
        `<td>${pct(p.local.sensitivity)} / ${pct(p.local.specificity)}</td>` +
        `<td>${pct(p.local.ppv)} / ${pct(p.local.npv)}</td>` +
        `<td>${pct(c.observedPositiveRate)} (${ci(c.observedPositiveRateCi95, (v) => pct(v))})</td>` +
        `<td>${pct(c.expectedPositiveRate)}</td>` +
        `<td>${c.observedOverExpected === null ? 'n/a' : f2(c.observedOverExpected)}</td></tr>`
      );
    })
    .join('');
  return (
    `<table><caption>Published cutoffs on the local data</caption><thead><tr><th scope="col">Cutoff</th><th scope="col">Rule</th>` +
    `<th scope="col">Published sens. / spec.</th><th scope="col">Local sens. / spec.</th><th scope="col">Local PPV / NPV</th>` +
    `<th scope="col">Flagged here (95% CI)</th><th scope="col">Expected to flag</th><th scope="col">Observed / expected</th></tr></thead>` +
    `<tbody>${body}</tbody></table>`
  );
}

function stratumSection(s: StratumResult): string {
  const verdict =
    s.status === 'accepted'
      ? '<p class="verdict accepted">Accepted: a cutoff was written for this stratum.</p>'
      : `<p class="verdict refused">Refused: no cutoff was written.</p><ul>${s.refusals
          .map((r) => `<li><code>${esc(r.code)}</code>: ${esc(r.message)}</li>`)
          .join('')}</ul>`;
  const a = s.analysis;
  const figures = a
    ? `<dl>
<dt>Youden-optimal cutoff</dt><dd>${a.cutoff.comparator} ${f3(a.cutoff.threshold)} (bootstrap 95% CI ${ci(a.cutoff.ci95)}, width ${f3(a.cutoff.ci95[1] - a.cutoff.ci95[0])}; Youden J ${f3(a.cutoff.youden)})</dd>
<dt>AUC</dt><dd>${f3(a.auc.auc)} (DeLong 95% CI ${ci(a.auc.ci95)}; bootstrap 95% CI ${ci(a.bootstrap.aucCi95)}${a.aucCrossCheck.agree ? ', the two agree' : `, <strong>the two differ by up to ${f3(a.aucCrossCheck.maxBoundDifference)}</strong>`})</dd>
<dt>At the local cutoff</dt><dd>sensitivity ${pct(a.atCutoff.sensitivity)}, specificity ${pct(a.atCutoff.specificity)}, PPV ${pct(a.atCutoff.ppv)}, NPV ${pct(a.atCutoff.npv)} (TP ${a.atCutoff.truePositives}, FN ${a.atCutoff.falseNegatives}, FP ${a.atCutoff.falsePositives}, TN ${a.atCutoff.trueNegatives})</dd>
</dl>${publishedTable(a.published)}`
    : '';
  return `<section class="stratum" aria-labelledby="s-${esc(slugId(s.label))}"><h3 id="s-${esc(slugId(s.label))}">${esc(s.label)}</h3>
<p>${s.n} patients, ${s.events} events, ${s.nonEvents} non-events (prevalence ${pct(s.prevalence)}), scans ${esc(s.period.start)} to ${esc(s.period.end)}; largest gap between score and reference standard ${s.largestGapMonths} months.</p>
${verdict}${figures}</section>`;
}

const UNKNOWN_FIELD = 'unknown field strength';

function slugId(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** The full report page. */
export function renderReport(result: CalibrationResult, ctx: ReportContext): string {
  const day = ctx.derivedOn.toISOString().slice(0, 10);
  const byField = new Map<string, StratumResult[]>();
  for (const s of result.strata) {
    const k = s.key.fieldStrengthT === null ? UNKNOWN_FIELD : `${s.key.fieldStrengthT} T`;
    byField.set(k, [...(byField.get(k) ?? []), s]);
  }
  const summaryRows = result.strata
    .map((s) => {
      const a = s.analysis;
      return (
        `<tr><th scope="row">${esc(s.label)}</th><td>${s.n}</td><td>${s.events}</td>` +
        `<td class="${s.status}">${s.status}${s.refusals.length ? `: ${s.refusals.map((r) => esc(r.code)).join(', ')}` : ''}</td>` +
        `<td>${a ? `${f3(a.cutoff.threshold)} (${ci(a.cutoff.ci95)})` : '—'}</td>` +
        `<td>${a ? `${f3(a.auc.auc)} (${ci(a.auc.ci95)})` : '—'}</td>` +
        `<td>${a ? `${pct(a.atCutoff.sensitivity)} / ${pct(a.atCutoff.specificity)}` : '—'}</td></tr>`
      );
    })
    .join('');
  const sections = [...byField.entries()]
    .map(
      ([
        fs,
        strata,
      ]) => `<section aria-labelledby="fs-${esc(slugId(fs))}"><h2 id="fs-${esc(slugId(fs))}">${esc(fs)}</h2>
${fs === UNKNOWN_FIELD ? '' : `<div class="figures">${rocFigure(fs, strata)}${distributionFigure(fs, strata, result)}</div>`}
${strata.map(stratumSection).join('\n')}</section>`,
    )
    .join('\n');
  const skipped = result.skipped.length
    ? `<section aria-labelledby="skipped"><h2 id="skipped">Scanner strata not attempted</h2><ul>${result.skipped
        .map((s) => `<li>${esc(s.label)}: ${esc(s.reason)}</li>`)
        .join('')}</ul></section>`
    : '';
  const written = ctx.overrides
    ? `<p>Cutoffs written to the overrides file: ${ctx.overrides.cutoffs.map((c) => `<code>${esc(c.id)}</code> (${c.comparator} ${c.threshold})`).join(', ')}.</p>`
    : '<p><strong>No cutoff was written: every stratum was refused.</strong></p>';
  const st = result.settings;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Site calibration: ${esc(result.metric)} for ${esc(result.outcomeTitle)} — ${esc(ctx.site)}</title>
<style>
  body { font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; max-width: 1100px; margin: 0 auto; padding: 1.5rem; line-height: 1.4; }
  h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; } h3 { font-size: 1.1rem; }
  table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
  caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
  th, td { border: 1px solid #bbb; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  thead th { background: #f0f0f0; }
  .accepted { color: #1b5e20; } .refused { color: #8b0000; }
  .verdict { font-weight: 600; }
  .figures { display: flex; flex-wrap: wrap; gap: 1.5rem; }
  figure.chart { margin: 0; max-width: 660px; break-inside: avoid; }
  figcaption { font-size: .85rem; margin-top: .3rem; }
  dt { font-weight: 600; } dd { margin: 0 0 .4rem 1rem; }
  .note { background: #fff8e1; border-left: 4px solid #b26a00; padding: .5rem .8rem; }
  @media print { body { padding: 0; max-width: none; } h2 { break-after: avoid; } section.stratum, table { break-inside: avoid; } }
</style>
</head>
<body>
<header>
<h1>Site calibration of ${esc(result.metric)} for ${esc(lowerFirst(result.outcomeTitle))}</h1>
<p>${esc(ctx.site)} · derived ${esc(day)} · ${esc(ctx.software)} · knowledge base ${esc(ctx.knowledgeBaseVersion)}</p>
</header>
<main>
<p class="note">A site-calibrated cutoff replaces the published one only for scores from its field strength (and scanner). It is a
screening aid derived from this site's own data, supplementary to DXA; review the refusals, the confidence intervals and the
published comparisons below before loading the overrides file.</p>
<h2 id="summary">Summary</h2>
<p>Reference standard: ${esc(result.referenceStandard)}.</p>
<p>Guards: at least ${st.minEvents} events and ${st.minEvents} non-events per stratum; reference standard within ${st.maxGapMonths} months of the score; cutoff bootstrap 95% CI at most ${st.maxCutoffCiWidth} wide; field strength known.${st.fieldStrengthT === null ? '' : ` Only scores at ${st.fieldStrengthT} T.`}</p>
<p>Method: ${esc(methodText(result))}.</p>
<table><caption>Strata</caption><thead><tr><th scope="col">Stratum</th><th scope="col">Patients</th><th scope="col">Events</th><th scope="col">Verdict</th><th scope="col">Cutoff (95% CI)</th><th scope="col">AUC (DeLong 95% CI)</th><th scope="col">Sens. / spec.</th></tr></thead>
<tbody>${summaryRows}</tbody></table>
${written}
${sections}
${skipped}
</main>
</body>
</html>
`;
}
