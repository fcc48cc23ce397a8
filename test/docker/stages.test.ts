/**
 * The stage reproduction itself, on small Dockerfiles: COPY semantics, .dockerignore, COPY --from, ENV in
 * RUN, and loud failures for what it cannot reproduce or what Docker would refuse.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildStages, inRoot, parseDockerfile } from './stages.js';

const dirs: string[] = [];
function tmp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function context(files: Record<string, string>): string {
  const dir = tmp('sbh-ctx-');
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('Dockerfile stage reproduction', () => {
  it('copies files and directory contents, runs RUN with the stage ENV, and copies between stages', async () => {
    const ctx = context({
      'a.txt': 'A',
      'lib/x.js': 'X',
      'lib/secret.key': 'S',
      '.dockerignore': '**/*.key\n',
      Dockerfile: [
        'FROM node:24-bookworm-slim AS one',
        'ENV GREETING=hello OUT=/out',
        'WORKDIR /app',
        'COPY a.txt ./',
        'COPY lib ./lib',
        'RUN mkdir -p "$OUT" && echo "$GREETING" > "$OUT/greeting.txt" && cat a.txt lib/x.js > both.txt',
        'FROM node:24-bookworm-slim AS two',
        'WORKDIR /srv',
        'COPY --from=one /app/both.txt ./',
        'COPY --from=one --chown=node:node /out /data',
        'CMD ["node", "x.js"]',
      ].join('\n'),
    });
    const stages = parseDockerfile(fs.readFileSync(path.join(ctx, 'Dockerfile'), 'utf8'));
    const built = await buildStages(stages, ctx, tmp('sbh-stages-'));
    const one = built.get('one')!.root;
    const two = built.get('two')!.root;
    expect(fs.readFileSync(inRoot(one, '/app/both.txt'), 'utf8')).toBe('AX');
    expect(fs.existsSync(inRoot(one, '/app/lib/x.js'))).toBe(true);
    // .dockerignore keeps a file out of the context even inside a copied directory.
    expect(fs.existsSync(inRoot(one, '/app/lib/secret.key'))).toBe(false);
    expect(fs.readFileSync(inRoot(one, '/out/greeting.txt'), 'utf8')).toBe('hello\n');
    expect(fs.readFileSync(inRoot(two, '/srv/both.txt'), 'utf8')).toBe('AX');
    expect(fs.readFileSync(inRoot(two, '/data/greeting.txt'), 'utf8')).toBe('hello\n');
    expect(built.get('two')!.stage.steps[1]).toMatchObject({ chown: 'node:node', dest: '/data' });
    expect(built.get('two')!.stage.cmd).toEqual(['node', 'x.js']);
  });

  it('starts a stage FROM an earlier one with its files and settings; sibling stages do not share changes', async () => {
    const ctx = context({
      'a.txt': 'A',
      Dockerfile: [
        'FROM node:24-bookworm-slim AS base',
        'ENV GREETING=hello',
        'WORKDIR /app',
        'COPY a.txt ./',
        'RUN echo base > made.txt',
        'FROM base AS left',
        'RUN echo "$GREETING left" >> made.txt && rm a.txt',
        'FROM base AS right',
        'RUN cat a.txt made.txt > seen.txt',
      ].join('\n'),
    });
    const stages = parseDockerfile(fs.readFileSync(path.join(ctx, 'Dockerfile'), 'utf8'));
    expect(stages.map((s) => [s.name, s.parent, s.baseImage, s.workdir, s.env.GREETING])).toEqual([
      ['base', undefined, 'node:24-bookworm-slim', '/app', 'hello'],
      ['left', 'base', 'node:24-bookworm-slim', '/app', 'hello'],
      ['right', 'base', 'node:24-bookworm-slim', '/app', 'hello'],
    ]);
    // Each stage's own steps only.
    expect(stages.map((s) => s.steps.length)).toEqual([2, 1, 1]);
    const built = await buildStages(stages, ctx, tmp('sbh-stages-'));
    const file = (stage: string, p: string): string =>
      fs.readFileSync(inRoot(built.get(stage)!.root, p), 'utf8');
    expect(file('left', '/app/made.txt')).toBe('base\nhello left\n');
    expect(fs.existsSync(inRoot(built.get('left')!.root, '/app/a.txt'))).toBe(false);
    // The right stage saw the base's files, not the left stage's changes; the base itself is unchanged.
    expect(file('right', '/app/seen.txt')).toBe('Abase\n');
    expect(file('base', '/app/made.txt')).toBe('base\n');
    expect(fs.existsSync(inRoot(built.get('base')!.root, '/app/a.txt'))).toBe(true);
  });

  it.each([
    ['a file the context lacks', 'COPY missing.txt ./', /COPY missing\.txt: not found/],
    ['a file .dockerignore excludes', 'COPY lib/secret.key ./', /excluded by \.dockerignore/],
    ['a failing RUN', 'RUN exit 3', /line 3 \(stage one\): RUN exit 3 failed/],
    ['a later stage', 'COPY --from=nope /x ./', /no earlier stage of that name/],
  ])('fails loudly on %s', async (_what, line, message) => {
    const ctx = context({ 'lib/secret.key': 'S', '.dockerignore': '**/*.key\n' });
    const stages = parseDockerfile(`FROM node:24 AS one\nWORKDIR /app\n${line}\n`);
    await expect(buildStages(stages, ctx, tmp('sbh-stages-'))).rejects.toThrow(message);
  });

  it.each([
    ['wildcards', 'COPY *.json ./', /wildcards are not reproduced/],
    ['ADD', 'ADD x.tar ./', /ADD is not reproduced/],
    ['an unnamed stage', null, /every stage needs a name/],
    ['a shell-form CMD', 'CMD node x.js', /CMD must use the exec \(JSON\) form/],
  ])('refuses what it cannot reproduce: %s', (_what, line, message) => {
    const text = line === null ? 'FROM node:24\n' : `FROM node:24 AS one\n${line}\n`;
    expect(() => parseDockerfile(text)).toThrow(message);
  });
});
