/**
 * compose.yaml against what the service expects: every variable it sets is one the service reads and the
 * resulting configuration is valid in production, the database and PACS URLs point at the compose
 * services with matching credentials, the published port is the one the service listens on, and every
 * dependency the service waits for has a health check.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadClientsFile } from '../../src/config/clients.js';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { parseDockerfile } from './stages.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface ComposeService {
  image?: string;
  build?: string | { context: string };
  environment?: Record<string, string> | string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string; interval?: string };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Compose variable interpolation: ${X}, ${X:-default}, ${X:?error}, as `docker compose` does it. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const v = vars[name];
    if (v !== undefined && v !== '') return v;
    if (op === '-') return arg ?? '';
    if (op === '?') throw new Error(`${name}: ${arg}`);
    return '';
  });
}

function environment(service: ComposeService, vars: Record<string, string>): Record<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((e) => e.split('=', 2) as [string, string])
    : Object.entries(env).map(([k, v]) => [k, String(v)] as [string, string]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, vars)]));
}

/** "host:container", "ip:host:container" -> the container port. */
function containerPort(mapping: string): string {
  return mapping.split(':').at(-1)?.split('/')[0] ?? '';
}

const compose = parse(fs.readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8')) as ComposeFile;
const dotEnv = { POSTGRES_PASSWORD: 'pw-from-dotenv' };
const runtimeStage = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).at(-1)!;

describe('compose.yaml', () => {
  const cds = compose.services.cds!;
  const env = environment(cds, dotEnv);

  it('runs the service built from this Dockerfile with the official PostgreSQL and Orthanc images', () => {
    expect(cds.build).toBe('.');
    expect(compose.services.postgres?.image).toMatch(/^postgres:\d+/);
    expect(compose.services.orthanc?.image).toMatch(/^(orthancteam\/orthanc|jodogne\/orthanc-plugins):\d/);
  });

  it('sets only variables the service reads, and they make a valid production configuration', () => {
    for (const name of Object.keys(env)) expect(CONFIG_VARIABLES, name).toContain(name);
    // The image's own ENV (NODE_ENV=production, DATA_DIR) under the compose environment, as in the container.
    const config = loadConfig({ ...runtimeStage.env, ...env });
    expect(config).toMatchObject({ production: true, demo: false, host: '0.0.0.0', port: 3000 });
  });

  it('refuses to start without POSTGRES_PASSWORD (no default password)', () => {
    expect(() => environment(cds, {})).toThrow(/POSTGRES_PASSWORD: set POSTGRES_PASSWORD in \.env/);
    expect(() => environment(compose.services.postgres!, {})).toThrow(/POSTGRES_PASSWORD/);
  });

  it('DATABASE_URL names the postgres service with its user, database and password', () => {
    const db = new URL(env.DATABASE_URL!);
    const pg = environment(compose.services.postgres!, dotEnv);
    expect(db.hostname).toBe('postgres');
    expect(db.port).toBe('5432');
    expect(db.username).toBe(pg.POSTGRES_USER);
    expect(db.password).toBe(pg.POSTGRES_PASSWORD);
    expect(db.pathname).toBe(`/${pg.POSTGRES_DB}`);
  });

  it('DICOMWEB_BASE_URL names the Orthanc service with its DICOMweb plugin enabled', () => {
    const pacs = new URL(env.DICOMWEB_BASE_URL!);
    expect(pacs.hostname).toBe('orthanc');
    expect(pacs.port).toBe('8042');
    expect(pacs.pathname).toBe('/dicom-web');
    expect(environment(compose.services.orthanc!, dotEnv).DICOM_WEB_PLUGIN_ENABLED).toBe('true');
    expect(compose.services.orthanc?.ports?.map(containerPort)).toContain('8042');
  });

  it('publishes the port the service listens on, the one the image EXPOSEs', () => {
    expect(cds.ports?.map(containerPort)).toEqual([env.PORT]);
    expect(runtimeStage.expose).toEqual([env.PORT]);
    // PostgreSQL is reached on the compose network only.
    expect(compose.services.postgres?.ports).toBeUndefined();
  });

  it('mounts CDS_CLIENTS_FILE, and the example it is copied from is a valid clients file', () => {
    const mount = cds.volumes?.find((v) => v.split(':')[1] === env.CDS_CLIENTS_FILE);
    expect(mount).toBeDefined();
    const source = mount!.split(':')[0]!;
    expect(source).toBe('./deploy/clients.json');
    const example = path.join(ROOT, 'deploy/clients.example.json');
    expect(loadClientsFile(example).length).toBeGreaterThan(0);
  });

  it('waits for healthy dependencies, each with a health check; the service has the image HEALTHCHECK', () => {
    for (const [name, dep] of Object.entries(cds.depends_on ?? {})) {
      expect(dep.condition, name).toBe('service_healthy');
      expect(compose.services[name]?.healthcheck?.test, name).toBeDefined();
    }
    expect(Object.keys(cds.depends_on ?? {}).sort()).toEqual(['orthanc', 'postgres']);
    expect(compose.services.postgres?.healthcheck?.test).toEqual([
      'CMD',
      'pg_isready',
      '-U',
      'cds',
      '-d',
      'cds',
    ]);
    expect(runtimeStage.healthcheck?.cmd).toEqual(['node', '/app/scripts/healthcheck.mjs']);
  });

  it('declares every named volume it uses', () => {
    const named = Object.values(compose.services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0]!)
      .filter((src) => !src.startsWith('.') && !src.startsWith('/'));
    for (const v of named) expect(Object.keys(compose.volumes ?? {}), v).toContain(v);
  });
});
