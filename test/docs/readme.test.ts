/**
 * The README as a reader follows it: every in-page link lands on a heading, and the error catalogue a
 * caller reads there is the one the service answers with (a section lost in an edit fails here, not in
 * front of a hospital's integrator).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

/** The README without its fenced code blocks (a `#` there is a shell comment, not a heading). */
const prose = README.replace(/^```[\s\S]*?^```$/gm, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    const text = m[1]!.replace(/`/g, '').trim();
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** One `## ` section of `markdown` (the prose by default), up to the next. */
function section(title: string, markdown = prose): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start === -1) return '';
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end === -1 ? undefined : end);
}

describe('README', () => {
  it('has a heading for every in-page link', () => {
    const targets = anchors(prose);
    const links = [...prose.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((l) => !targets.has(l))).toEqual([]);
  });

  it('documents every error code with the status the service answers it with, and no other', () => {
    const rows = [...section('Errors').matchAll(/^\| `([a-z-]+)` +\| (\d{3}) +\|/gm)].map(
      (m) => [m[1]!, Number(m[2])] as const,
    );
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, e.status])),
    );
    expect(rows.length).toBe(Object.keys(ERRORS).length);
  });

  it('shows how to run the image and the compose stack', () => {
    const docker = section('Docker', README);
    expect(docker).toContain('docker compose up');
    expect(docker).toContain('docker build');
    expect(docker).toContain('compose.yaml');
  });
});
