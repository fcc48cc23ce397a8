/**
 * Server-rendered HTML for the console: one layout (skip link, navigation, main landmark, headings), table
 * helpers with captions and header scopes, and escaping. No client script at all: every page works with
 * the keyboard and a screen reader as plain HTML, and nothing is loaded from outside the service.
 */
import type { ConsoleRole } from './roles.js';
import { CSRF_FIELD } from './csrf.js';

/** Escapes text for HTML content and double-quoted attributes. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Marks markup as already safe (built by these helpers). */
export interface Html {
  readonly html: string;
}
export const raw = (html: string): Html => ({ html });
const render = (v: unknown): string =>
  v !== null && typeof v === 'object' && 'html' in v ? (v as Html).html : esc(v);

export const NAV = [
  { path: '/', label: 'Overview' },
  { path: '/knowledge', label: 'Knowledge in use' },
  { path: '/feedback', label: 'Cards and feedback' },
  { path: '/audit', label: 'Audit' },
  { path: '/writeback', label: 'Write-back' },
  { path: '/radiology', label: 'Radiology' },
  { path: '/try', label: 'Try a patient' },
  { path: '/clients', label: 'Clients' },
] as const;

export interface PageUser {
  name: string;
  role: ConsoleRole;
}

export function layout(options: {
  title: string;
  active: string;
  user: PageUser;
  csrf: string;
  body: string;
}): string {
  const nav = NAV.map(
    (n) =>
      `<li><a href="/console${n.path === '/' ? '/' : n.path}"${n.path === options.active ? ' aria-current="page"' : ''}>${esc(n.label)}</a></li>`,
  ).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(options.title)} · Console · Spine bone-health CDS</title>
<link rel="stylesheet" href="/console/assets/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<p class="brand">Spine bone-health CDS · console</p>
<nav aria-label="Console"><ul>${nav}</ul></nav>
<form method="post" action="/console/logout" class="who">
<span>Signed in as <strong>${esc(options.user.name)}</strong> (<span data-testid="role">${esc(options.user.role)}</span>)</span>
${csrfField(options.csrf)}
<button type="submit">Sign out</button>
</form>
</header>
<main id="main" tabindex="-1">
<h1>${esc(options.title)}</h1>
${options.body}
</main>
</body>
</html>
`;
}

export function csrfField(token: string): string {
  return `<input type="hidden" name="${CSRF_FIELD}" value="${esc(token)}">`;
}

/** A data table: caption, column headers (scope=col), first cell of each row as its row header. */
export function table(options: {
  caption: string;
  columns: string[];
  rows: unknown[][];
  empty?: string;
  id?: string;
  numeric?: number[];
}): string {
  if (options.rows.length === 0) {
    return `<p class="empty"${options.id ? ` id="${esc(options.id)}"` : ''}>${esc(options.empty ?? `${options.caption}: none.`)}</p>`;
  }
  const numeric = new Set(options.numeric ?? []);
  const head = options.columns
    .map((c, i) => `<th scope="col"${numeric.has(i) ? ' class="num"' : ''}>${esc(c)}</th>`)
    .join('');
  const body = options.rows
    .map(
      (row) =>
        `<tr>${row
          .map((cell, i) =>
            i === 0
              ? `<th scope="row">${render(cell)}</th>`
              : `<td${numeric.has(i) ? ' class="num"' : ''}>${render(cell)}</td>`,
          )
          .join('')}</tr>`,
    )
    .join('\n');
  return `<div class="scroll" role="region" tabindex="0" aria-label="${esc(options.caption)}"><table${options.id ? ` id="${esc(options.id)}"` : ''}><caption>${esc(options.caption)}</caption><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table></div>`;
}

export function when(date: Date | null | undefined): string {
  return date
    ? date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, 'Z')
    : '—';
}

export function percent(value: number | null): string {
  return value === null ? '—' : `${(value * 100).toFixed(1)} %`;
}

export const CONSOLE_CSS = `
:root { color-scheme: light; --ink: #1a1a1a; --muted: #4a4a4a; --line: #c8c8c8; --accent: #0645ad; --bg: #ffffff; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0; color: var(--ink); background: var(--bg); line-height: 1.45; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, summary:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; }
.skip:focus { left: .5rem; }
.top { background: #f3f5f8; border-bottom: 1px solid var(--line); padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
.brand { font-weight: 600; margin: 0; }
.top nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
.top nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
.who { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
main { padding: 1rem 1.5rem 3rem; max-width: 84rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; text-align: left; }
thead th { background: #eef1f5; }
tbody th { font-weight: 500; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
form.filters { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: flex-end; margin-bottom: 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: .9rem; gap: .2rem; }
input, select, button { font: inherit; padding: .3rem .5rem; }
button { cursor: pointer; }
.empty { color: var(--muted); font-style: italic; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: .3rem; border: 1px solid var(--line); font-size: .85rem; }
.ok { background: #e6f4ea; } .warn { background: #fff4ce; } .bad { background: #fde7e9; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: .75rem; overflow: auto; max-height: 32rem; font-size: .85rem; }
.card { border: 1px solid var(--line); border-left: 6px solid #6b7280; padding: .6rem .9rem; margin: .75rem 0; max-width: 52rem; }
.card.info { border-left-color: #1d4ed8; } .card.warning { border-left-color: #b45309; } .card.critical { border-left-color: #b91c1c; }
.card h3 { margin: .2rem 0 .4rem; }
.card .detail p { margin: .4rem 0; }
.plot svg { max-width: 100%; height: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { font-weight: 600; }
`;
