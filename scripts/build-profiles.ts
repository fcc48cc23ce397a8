/**
 * Regenerates the FHIR artefacts under fhir-profiles/:
 *   1. builds hl7.fhir.r4.core#4.0.1 into the FHIR package cache if missing (SUSHI needs it);
 *   2. generates ValueSets (FSH) from cds-services/code-lists.json, the one source of truth for codes,
 *      and the card-topic / override-reason CodeSystems from cds-services/decision-points.json;
 *   3. runs `sushi build --snapshot`, leaving JSON with snapshots in fhir-profiles/fsh-generated/resources/.
 *
 * Usage: tsx scripts/build-profiles.ts [--out <dir>] [--cache <dir>] [--check]
 *   --out    SUSHI output root; JSON lands in <out>/fsh-generated/resources (default fhir-profiles)
 *   --cache  FHIR package cache (default $FHIR_PACKAGE_CACHE or ~/.fhir/packages)
 *   --check  only verify that the committed generated FSH matches its JSON sources (exit 1 when not)
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { buildFhirCorePackage, defaultPackageCacheDir } from './build-fhir-core-package.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PROFILES_DIR = join(REPO_ROOT, 'fhir-profiles');
export const CODE_LISTS_PATH = join(REPO_ROOT, 'cds-services', 'code-lists.json');
export const DECISION_POINTS_PATH = join(REPO_ROOT, 'cds-services', 'decision-points.json');
/** The generated FSH files (committed); SUSHI compiles them with the hand-written FSH. */
export const GENERATED_VALUESETS_FSH = join(PROFILES_DIR, 'input', 'fsh', 'generated-valuesets.fsh');
export const GENERATED_CODESYSTEMS_FSH = join(PROFILES_DIR, 'input', 'fsh', 'generated-codesystems.fsh');

const codeSchema = z
  .object({
    system: z.string().min(1),
    code: z.string().min(1),
    display: z.string(),
    verified: z.boolean(),
    verifiedBy: z.string().optional(),
    match: z.enum(['exact', 'prefix']).optional(),
  })
  .loose();

const codeListsSchema = z.object({
  version: z.string().min(1),
  codeLists: z.record(
    z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/),
    z
      .object({ title: z.string().min(1), description: z.string(), codes: z.array(codeSchema).min(1) })
      .loose(),
  ),
});

export type CodeLists = z.infer<typeof codeListsSchema>;

const conceptSchema = z
  .object({ code: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/), display: z.string().min(1) })
  .loose();

/** The part of decision-points.json (owned by the rules) that defines card topics and override reasons. */
const decisionPointsSchema = z
  .object({
    version: z.string().min(1),
    cardTopics: z.array(conceptSchema).min(1),
    overrideReasons: z.array(conceptSchema).min(1),
  })
  .loose();

export type DecisionPointTerms = z.infer<typeof decisionPointsSchema>;

/** Reads card topics and override reasons from cds-services/decision-points.json. */
export function readDecisionPointTerms(path: string = DECISION_POINTS_PATH): DecisionPointTerms {
  return decisionPointsSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** Parses and checks the shape of cds-services/code-lists.json. */
export function parseCodeLists(json: unknown): CodeLists {
  return codeListsSchema.parse(json);
}

/** Reads the code lists from disk (the repo copy unless a path is given). */
export function readCodeLists(path: string = CODE_LISTS_PATH): CodeLists {
  return parseCodeLists(JSON.parse(readFileSync(path, 'utf8')));
}

/** FSH resource name for a list id: `vitamin-d-25oh` -> `VitaminD25oh`. */
export function valueSetName(listId: string): string {
  return listId
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

function fshString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, ' ')}"`;
}

/**
 * Regex for a `match: "prefix"` code. Every non-alphanumeric character becomes a one-character class
 * (`M80.08X` -> `^M80[.]08X.*$`), so the pattern needs no backslash escaping through FSH and JSON, and
 * the anchors make it correct whether a consumer does full or partial matching.
 */
export function prefixRegex(code: string): string {
  const body = [...code].map((ch) => (/[A-Za-z0-9]/.test(ch) ? ch : `[${ch}]`)).join('');
  return `^${body}.*$`;
}

function fshCode(system: string, code: string): string {
  // Codes with characters FSH treats specially are quoted.
  return /^[A-Za-z0-9._\-:/]+$/.test(code) ? `${system}#${code}` : `${system}#${fshString(code)}`;
}

/**
 * Generates one FSH ValueSet per code list. Exact codes become enumerated concepts; prefix codes
 * become `code regex` filters (see fhir-profiles/README.md). Output is deterministic: list order and
 * code order follow the JSON, so a diff against the committed file means the lists changed.
 */
export function generateValueSetFsh(codeLists: CodeLists): string {
  const lines: string[] = [
    '// GENERATED by scripts/build-profiles.ts from cds-services/code-lists.json. Do not edit by hand:',
    '// change the code lists and run `npm run profiles`.',
    `// Code lists version ${codeLists.version}.`,
  ];
  for (const [listId, list] of Object.entries(codeLists.codeLists)) {
    const unverified = list.codes.filter((c) => !c.verified).map((c) => c.code);
    const description =
      list.description +
      (unverified.length > 0
        ? ` Codes not yet verified against their code system: ${unverified.join(', ')}.`
        : '');
    lines.push(
      '',
      `ValueSet: ${valueSetName(listId)}`,
      `Id: ${listId}`,
      `Title: ${fshString(list.title)}`,
      `Description: ${fshString(description)}`,
      '* ^status = #active',
      '* ^experimental = false',
    );
    for (const c of list.codes) {
      if (c.match === 'prefix') {
        lines.push(
          `* include codes from system ${c.system} where code regex ${fshString(prefixRegex(c.code))}`,
        );
      } else {
        lines.push(`* ${fshCode(c.system, c.code)} ${fshString(c.display)}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Generates the card-topic and override-reason CodeSystems. The rules keep these lists in
 * decision-points.json (their code is typed against it), so the CodeSystems follow that file.
 */
export function generateCodeSystemFsh(terms: DecisionPointTerms): string {
  const lines: string[] = [
    '// GENERATED by scripts/build-profiles.ts from cds-services/decision-points.json. Do not edit by hand:',
    '// change the decision points and run `npm run profiles`.',
    `// Decision points version ${terms.version}.`,
  ];
  const codeSystem = (
    name: string,
    id: string,
    title: string,
    description: string,
    concepts: { code: string; display: string }[],
  ) => {
    lines.push(
      '',
      `CodeSystem: ${name}`,
      `Id: ${id}`,
      `Title: ${fshString(title)}`,
      `Description: ${fshString(description)}`,
      '* ^status = #active',
      '* ^experimental = false',
      '* ^caseSensitive = true',
      '* ^content = #complete',
    );
    for (const c of concepts) lines.push(`* #${c.code} ${fshString(c.display)}`);
  };
  codeSystem(
    'CardTopicCodeSystem',
    'card-topic',
    'CDS card topics',
    'Topics of the cards the spine bone-health CDS service returns (CDS Hooks Card.source.topic), one per kind of finding. The decision points and their sources are in cds-services/decision-points.json.',
    terms.cardTopics,
  );
  codeSystem(
    'OverrideReasonCodeSystem',
    'override-reason',
    'Card override reasons',
    'Reasons a clinician may give when dismissing a card of the spine bone-health CDS service (CDS Hooks overrideReasons and feedback).',
    terms.overrideReasons,
  );
  return lines.join('\n') + '\n';
}

export interface BuildProfilesOptions {
  /** SUSHI project folder (holding sushi-config.yaml and input/fsh). */
  projectDir?: string;
  /** SUSHI output root: SUSHI writes `<outRoot>/fsh-generated/resources/` (default: projectDir). */
  outRoot?: string;
  /** FHIR package cache, a `<home>/.fhir/packages` folder; SUSHI runs with HOME=<home>. */
  cacheDir?: string;
  /** Code lists file. */
  codeListsPath?: string;
  /** Decision points file (card topics, override reasons). */
  decisionPointsPath?: string;
  /** Forwarded SUSHI output. */
  log?: (line: string) => void;
}

/** Writes a generated file only when its content changed; returns true when it did. */
function writeIfChanged(target: string, content: string): boolean {
  const previous = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  if (previous === content) return false;
  writeFileSync(target, content);
  return true;
}

/** Regenerates both generated FSH files inside a SUSHI project. */
export function writeGeneratedFsh(
  projectDir: string,
  codeListsPath: string = CODE_LISTS_PATH,
  decisionPointsPath: string = DECISION_POINTS_PATH,
): void {
  const fshDir = join(projectDir, 'input', 'fsh');
  writeIfChanged(join(fshDir, 'generated-valuesets.fsh'), generateValueSetFsh(readCodeLists(codeListsPath)));
  writeIfChanged(
    join(fshDir, 'generated-codesystems.fsh'),
    generateCodeSystemFsh(readDecisionPointTerms(decisionPointsPath)),
  );
}

/** Path of the SUSHI CLI installed with the project. */
export function sushiBin(): string {
  return join(REPO_ROOT, 'node_modules', '.bin', 'sushi');
}

/**
 * Runs the whole build. SUSHI reads the package cache from `$HOME/.fhir/packages`, so a non-default
 * cache must be laid out as `<home>/.fhir/packages`; we then run SUSHI with HOME=<home>.
 */
export async function buildProfiles(options: BuildProfilesOptions = {}): Promise<{ resourcesDir: string }> {
  const projectDir = resolve(options.projectDir ?? PROFILES_DIR);
  const outRoot = resolve(options.outRoot ?? projectDir);
  const cacheDir = resolve(options.cacheDir ?? defaultPackageCacheDir());
  const log = options.log ?? ((line: string) => console.log(line));

  const env: NodeJS.ProcessEnv = { ...process.env };
  if (!cacheDir.endsWith(join('.fhir', 'packages'))) {
    throw new Error(`package cache must be a <home>/.fhir/packages folder for SUSHI, got ${cacheDir}`);
  }
  env['HOME'] = dirname(dirname(cacheDir));
  // SUSHI tries to fetch its "automatic dependencies" (tools, terminology, extensions packages) from the
  // FHIR registry. A closed local port makes that fail at once everywhere, so the output never depends on
  // whether a machine happens to have network access.
  env['FPL_REGISTRY'] = 'http://127.0.0.1:9';
  // SUSHI also asks the npm registry for its latest version (npm view, then a direct HTTPS request);
  // offline npm and a dead HTTPS proxy end both at once. Neither affects the output.
  env['npm_config_offline'] = 'true';
  env['HTTPS_PROXY'] = 'http://127.0.0.1:9';
  env['https_proxy'] = 'http://127.0.0.1:9';
  delete env['NO_PROXY'];
  delete env['no_proxy'];

  const core = buildFhirCorePackage({ cacheDir });
  if (core.built) log(`built hl7.fhir.r4.core#4.0.1 into ${core.packageDir}`);

  writeGeneratedFsh(projectDir, options.codeListsPath, options.decisionPointsPath);

  await runSushi(projectDir, outRoot, env, log);
  return { resourcesDir: join(outRoot, 'fsh-generated', 'resources') };
}

function runSushi(projectDir: string, outRoot: string, env: NodeJS.ProcessEnv, log: (line: string) => void) {
  return new Promise<void>((resolvePromise, reject) => {
    const child = spawn(
      sushiBin(),
      ['build', projectDir, '--snapshot', '--out', outRoot, '--log-level', 'warn'],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => {
      for (const line of output.split('\n')) if (line.trim().length > 0) log(line);
      // SUSHI exits 0 with warnings only; any error count makes it exit non-zero.
      if (code === 0) resolvePromise();
      else reject(new Error(`sushi exited with code ${code ?? 'null'}`));
    });
  });
}

function parseArgs(argv: string[]): BuildProfilesOptions & { check: boolean } {
  const options: BuildProfilesOptions & { check: boolean } = { check: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const value = argv[++i];
      if (!value) throw new Error(`${arg ?? ''} needs a value`);
      return value;
    };
    if (arg === '--out') options.outRoot = next();
    else if (arg === '--cache') options.cacheDir = next();
    else if (arg === '--check') options.check = true;
    else throw new Error(`unknown argument: ${arg ?? ''}`);
  }
  return options;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = parseArgs(process.argv.slice(2));
  if (options.check) {
    const pairs: [string, string][] = [
      [GENERATED_VALUESETS_FSH, generateValueSetFsh(readCodeLists())],
      [GENERATED_CODESYSTEMS_FSH, generateCodeSystemFsh(readDecisionPointTerms())],
    ];
    const stale = pairs.filter(
      ([path, expected]) => !existsSync(path) || readFileSync(path, 'utf8') !== expected,
    );
    if (stale.length > 0) {
      console.error(`out of date: ${stale.map(([p]) => p).join(', ')}: run \`npm run profiles\``);
      process.exit(1);
    }
    console.log('generated FSH matches cds-services/code-lists.json and decision-points.json');
  } else {
    const started = Date.now();
    buildProfiles(options).then(
      ({ resourcesDir }) => console.log(`profiles built into ${resourcesDir} in ${Date.now() - started} ms`),
      (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exit(1);
      },
    );
  }
}
