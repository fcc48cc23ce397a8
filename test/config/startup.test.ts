/**
 * What the process prints when it starts or cannot: the "ready at" line, and a database connection failure
 * that names DATABASE_URL without its password (the error comes from the real PostgreSQL client).
 */
import net from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { describeStartError, redactDatabaseUrl, startupLine } from '../../src/config/startup.js';

/** A loopback port nobody listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('start-up line', () => {
  it('demo mode: localhost URL, says it is this machine only, and what to try next', () => {
    const line = startupLine(loadConfig({ PORT: '3000' }), 3000);
    expect(line.url).toBe('http://localhost:3000');
    expect(line.text).toBe(
      'spine-bone-health-cds ready at http://localhost:3000 (this machine only) (demo mode) — try: npm run demo -- demo-tlif-high-vbq',
    );
  });

  it('service mode on every interface: a reachable URL and the discovery endpoint to call', () => {
    const config = loadConfig({
      CDS_CLIENTS_FILE: '/etc/clients.json',
      PUBLIC_BASE_URL: 'https://cds.example.org',
    });
    const line = startupLine(config, 8080);
    expect(line.url).toBe('http://localhost:8080');
    expect(line.mode).toBe('service mode');
    expect(line.text).toContain('https://cds.example.org/cds-services');
  });

  it('a named interface is shown as is (IPv6 in brackets)', () => {
    expect(startupLine(loadConfig({ HOST: '10.1.2.3' }), 1).url).toBe('http://10.1.2.3:1');
    expect(startupLine(loadConfig({ HOST: 'fd00::5' }), 1).url).toBe('http://[fd00::5]:1');
  });
});

describe('start-up errors name the variable at fault', () => {
  it('a refused PostgreSQL connection names DATABASE_URL, never its password', async () => {
    const url = `postgres://cds:s3cr%40t-pw@127.0.0.1:${await closedPort()}/cds`;
    const client = new pg.Client({ connectionString: url });
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    const message = describeStartError(err, { databaseUrl: url });
    expect(message).toMatch(
      /^cannot connect to the PostgreSQL server in DATABASE_URL \(postgres:\/\/cds:\*\*\*@127\.0\.0\.1:\d+\/cds\): .*ECONNREFUSED/,
    );
    expect(message).not.toContain('s3cr');
  });

  it('an unknown host names DATABASE_URL too', async () => {
    const url = 'postgres://cds@db.invalid:5432/cds';
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(describeStartError(err, { databaseUrl: url })).toMatch(
      /DATABASE_URL \(postgres:\/\/cds@db\.invalid:5432\/cds\)/,
    );
  });

  it('a refused connection to another port is not blamed on DATABASE_URL', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8443'), {
      code: 'ECONNREFUSED',
      port: 8443,
    });
    expect(describeStartError(err, { databaseUrl: 'postgres://u@127.0.0.1:5432/d' })).toBe(
      'connect ECONNREFUSED 127.0.0.1:8443',
    );
  });

  it('other failures keep their own message (they name their file themselves)', () => {
    expect(describeStartError(new Error('KNOWLEDGE_OVERRIDES_FILE /x.json: bad'), {})).toBe(
      'KNOWLEDGE_OVERRIDES_FILE /x.json: bad',
    );
    expect(
      describeStartError(new Error('cds-services/x.json: bad'), { databaseUrl: 'postgres://a:pw-123@h/d' }),
    ).toBe('cds-services/x.json: bad');
  });

  it('redacts the password only', () => {
    expect(redactDatabaseUrl('postgresql://u:p@h:5/d?sslmode=require')).toBe(
      'postgresql://u:***@h:5/d?sslmode=require',
    );
    expect(redactDatabaseUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
  });
});
