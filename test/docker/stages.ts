/**
 * Rebuilds a Dockerfile's stages without a Docker engine: each stage gets a clean directory standing for
 * the container's `/`, receives exactly what its COPY lines copy (from the build context filtered by
 * .dockerignore, or from an earlier stage), and runs its RUN lines there with the stage's ENV. What this
 * cannot reproduce (the base image's contents, file ownership) is recorded, not faked: RUN lines run with
 * this machine's node and npm, and `--chown` is kept on the step for the test to check.
 *
 * The Dockerfile is parsed by dockerfile-ast (the parser behind the Dockerfile language server); anything
 * this reproduction does not understand (wildcards, ADD, heredocs, unknown flags) throws, so a Dockerfile
 * change can never be silently skipped.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Ignore } from '@balena/dockerignore';
import {
  DockerfileParser,
  type Copy,
  type Env,
  type From,
  type Healthcheck,
  type JSONInstruction,
} from 'dockerfile-ast';

// A CommonJS module whose typings declare an ES default export: loaded with require to match both.
const ignore = createRequire(import.meta.url)('@balena/dockerignore') as () => Ignore;

export interface CopyStep {
  kind: 'copy';
  /** Stage name for `COPY --from`, or undefined for the build context. */
  from?: string;
  chown?: string;
  sources: string[];
  dest: string;
  line: number;
}
export interface RunStep {
  kind: 'run';
  command: string;
  line: number;
}
export interface Stage {
  name: string;
  /** The image the stage starts from; for `FROM <earlier stage>`, that stage's own base image. */
  baseImage: string;
  /** `FROM <earlier stage> AS name`: the stage starts as a copy of that stage's result. */
  parent?: string;
  env: Record<string, string>;
  workdir: string;
  user?: string;
  expose: string[];
  steps: (CopyStep | RunStep)[];
  cmd?: string[];
  healthcheck?: { flags: Record<string, string>; cmd: string[] };
}

function expand(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a?: string, b?: string) => {
    const name = (a ?? b) as string;
    if (!(name in vars)) throw new Error(`Dockerfile: variable ${name} is not defined (in "${value}")`);
    return vars[name] as string;
  });
}

function execForm(ins: JSONInstruction, what: string): string[] {
  const strings = ins.getJSONStrings().map((s) => s.getJSONValue());
  if (strings.length === 0)
    throw new Error(`Dockerfile line ${line(ins)}: ${what} must use the exec (JSON) form`);
  return strings;
}

function line(ins: { getRange(): { start: { line: number } } }): number {
  return ins.getRange().start.line + 1;
}

/** Parses the Dockerfile into stages. */
export function parseDockerfile(text: string): Stage[] {
  const doc = DockerfileParser.parse(text);
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  for (const ins of doc.getInstructions()) {
    const keyword = ins.getKeyword();
    if (keyword === 'ARG') {
      for (const a of ins.getArguments()) {
        const [k, v = ''] = a.getValue().split('=', 2);
        args[k as string] = v;
      }
      continue;
    }
    if (keyword === 'FROM') {
      const from = ins as From;
      const name = from.getBuildStage();
      if (!name) throw new Error(`Dockerfile line ${line(ins)}: every stage needs a name (FROM ... AS name)`);
      const image = expand(ins.getArguments()[0]?.getValue() ?? '', args);
      const parent = stages.find((s) => s.name === image);
      // Like Docker: a stage built FROM an earlier stage starts with its files and its image settings
      // (ENV, WORKDIR, USER, EXPOSE, CMD, HEALTHCHECK); only the steps are its own.
      stage = parent
        ? {
            ...structuredClone({ ...parent, steps: [] }),
            name,
            parent: parent.name,
          }
        : { name, baseImage: image, env: {}, workdir: '/', expose: [], steps: [] };
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`Dockerfile line ${line(ins)}: ${keyword} before FROM`);
    switch (keyword) {
      case 'ENV':
        for (const p of (ins as Env).getProperties()) {
          stage.env[p.getName()] = expand(p.getValue() ?? '', { ...args, ...stage.env });
        }
        break;
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, expand(ins.getArgumentsContent() ?? '', stage.env));
        break;
      case 'USER':
        stage.user = ins.getArgumentsContent() ?? undefined;
        break;
      case 'EXPOSE':
        stage.expose.push(...ins.getArguments().map((a) => a.getValue()));
        break;
      case 'RUN': {
        if (
          (ins as JSONInstruction).getJSONStrings().length > 0 ||
          /^<</.test(ins.getArgumentsContent() ?? '')
        ) {
          throw new Error(`Dockerfile line ${line(ins)}: only shell-form RUN is reproduced`);
        }
        stage.steps.push({ kind: 'run', command: ins.getArgumentsContent() ?? '', line: line(ins) });
        break;
      }
      case 'COPY': {
        const copy = ins as Copy;
        const step: CopyStep = { kind: 'copy', sources: [], dest: '', line: line(ins) };
        for (const flag of copy.getFlags()) {
          const value = flag.getValue() ?? '';
          if (flag.getName() === 'from') step.from = value;
          else if (flag.getName() === 'chown') step.chown = value;
          else throw new Error(`Dockerfile line ${line(ins)}: COPY --${flag.getName()} is not reproduced`);
        }
        const vars = stage.env;
        const paths = ins.getArguments().map((a) => expand(a.getValue(), vars));
        if (paths.length < 2)
          throw new Error(`Dockerfile line ${line(ins)}: COPY needs a source and a destination`);
        step.dest = paths.pop() as string;
        step.sources = paths;
        for (const s of step.sources) {
          if (/[*?[]/.test(s))
            throw new Error(`Dockerfile line ${line(ins)}: wildcards are not reproduced (${s})`);
        }
        stage.steps.push(step);
        break;
      }
      case 'CMD':
        stage.cmd = execForm(ins as JSONInstruction, 'CMD');
        break;
      case 'HEALTHCHECK': {
        const flags = Object.fromEntries(
          (ins as Healthcheck).getFlags().map((f) => [f.getName(), f.getValue() ?? ''] as const),
        );
        const content = ins.getArgumentsContent() ?? '';
        const m = /^CMD\s+(\[[\s\S]*\])\s*$/.exec(content.replace(/\\\n/g, ' '));
        if (!m?.[1])
          throw new Error(`Dockerfile line ${line(ins)}: HEALTHCHECK must be CMD in exec (JSON) form`);
        stage.healthcheck = { flags, cmd: JSON.parse(m[1]) as string[] };
        break;
      }
      default:
        throw new Error(
          `Dockerfile line ${line(ins)}: ${keyword} is not reproduced by test/docker/stages.ts`,
        );
    }
  }
  return stages;
}

/** The stage's absolute container path `p` inside the directory that stands for its `/`. */
export function inRoot(root: string, p: string): string {
  return path.join(root, p);
}

function copyInto(src: string, destPath: string, destIsDir: boolean, filter: (abs: string) => boolean): void {
  const stat = fs.statSync(src);
  if (stat.isDirectory()) {
    // Like Docker: a directory's contents are copied, not the directory itself.
    fs.mkdirSync(destPath, { recursive: true });
    fs.cpSync(src, destPath, { recursive: true, filter: (s) => filter(s), verbatimSymlinks: true });
  } else {
    const target = destIsDir ? path.join(destPath, path.basename(src)) : destPath;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(src, target);
  }
}

export interface BuiltStage {
  stage: Stage;
  /** The directory standing for the stage's `/`. */
  root: string;
  /** The environment the stage's RUN steps (and its CMD) see, paths re-rooted into `root`. */
  env: NodeJS.ProcessEnv;
}

/**
 * The stage's ENV for a process on this machine: absolute container paths are re-rooted into the stage
 * directory (the container's `/` is not this machine's `/`).
 */
export function stageEnv(stage: Stage, root: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(stage.env)) env[k] = v.startsWith('/') ? inRoot(root, v) : v;
  return { ...env, ...extra };
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/**
 * Builds the stages into `workDir`/<stage name>. Stages that do not depend on each other (`FROM` or
 * `COPY --from`) are built at the same time, as BuildKit does (here: the build stage's tsc while the deps
 * stage prunes).
 */
export async function buildStages(
  stages: Stage[],
  context: string,
  workDir: string,
  options: { runEnv?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<Map<string, BuiltStage>> {
  const dockerignore = fs.existsSync(path.join(context, '.dockerignore'))
    ? fs.readFileSync(path.join(context, '.dockerignore'), 'utf8')
    : '';
  const ig = ignore().add(dockerignore);
  const inContext = (abs: string): boolean => {
    const rel = path.relative(context, abs);
    return rel === '' || !ig.ignores(rel.split(path.sep).join('/'));
  };
  const built = new Map<string, BuiltStage>();
  const pending = new Map<string, Promise<BuiltStage>>();
  const buildOne = async (stage: Stage): Promise<BuiltStage> => {
    for (const step of stage.steps) {
      if (step.kind !== 'copy' || !step.from) continue;
      const dependency = pending.get(step.from);
      if (!dependency) {
        throw new Error(
          `Dockerfile line ${step.line}: COPY --from=${step.from}: no earlier stage of that name`,
        );
      }
      await dependency;
    }
    const root = path.join(workDir, stage.name);
    if (stage.parent) {
      const parent = pending.get(stage.parent);
      if (!parent) throw new Error(`Dockerfile: FROM ${stage.parent}: no earlier stage of that name`);
      // A copy, not links: the two stages' later steps must not see each other's changes.
      fs.cpSync((await parent).root, root, { recursive: true, verbatimSymlinks: true });
    }
    fs.mkdirSync(inRoot(root, stage.workdir), { recursive: true });
    const env = stageEnv(stage, root, options.runEnv);
    const cwd = inRoot(root, stage.workdir);
    for (const step of stage.steps) {
      if (step.kind === 'run') {
        options.log?.(`[${stage.name}] RUN ${step.command}`);
        try {
          await run(step.command, cwd, env);
        } catch (err) {
          throw new Error(
            `Dockerfile line ${step.line} (stage ${stage.name}): RUN ${step.command} failed: ${(err as Error).message}`,
          );
        }
        continue;
      }
      const fromRoot = step.from ? built.get(step.from)?.root : undefined;
      if (step.from && !fromRoot) {
        throw new Error(
          `Dockerfile line ${step.line}: COPY --from=${step.from}: no earlier stage of that name`,
        );
      }
      const destAbs = path.posix.resolve(stage.workdir, step.dest);
      const destIsDir = step.dest.endsWith('/') || step.sources.length > 1;
      for (const source of step.sources) {
        const src = fromRoot
          ? inRoot(fromRoot, path.posix.resolve('/', source))
          : path.join(context, path.posix.normalize(source));
        if (!fromRoot) {
          const rel = path.relative(context, src);
          if (rel.startsWith('..'))
            throw new Error(`Dockerfile line ${step.line}: ${source} is outside the context`);
          if (!inContext(src)) {
            throw new Error(`Dockerfile line ${step.line}: ${source} is excluded by .dockerignore`);
          }
        }
        if (!fs.existsSync(src)) {
          throw new Error(
            `Dockerfile line ${step.line} (stage ${stage.name}): COPY ${step.from ? `--from=${step.from} ` : ''}${source}: not found`,
          );
        }
        copyInto(src, inRoot(root, destAbs), destIsDir, fromRoot ? () => true : inContext);
      }
    }
    const result = { stage, root, env };
    built.set(stage.name, result);
    return result;
  };
  for (const stage of stages) {
    const promise = buildOne(stage);
    // Reported through Promise.all below; this only keeps an early failure from being "unhandled".
    promise.catch(() => undefined);
    pending.set(stage.name, promise);
  }
  await Promise.all(pending.values());
  return built;
}
