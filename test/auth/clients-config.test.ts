/**
 * CDS_CLIENTS_FILE (issue 2, Configuration): validated at start with messages that name the file and
 * the entry, so the config loader can exit 1 with something an operator can act on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientsConfigError, loadClientsFile, parseClients } from '../../src/config/clients.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';

let dir: string;
let client: TestClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cds-clients-'));
  client = await createTestClient({ alg: 'ES384', iss: 'https://ehr.example.org', kid: 'k1' });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function problems(input: unknown): string[] {
  try {
    parseClients(input, 'test');
  } catch (err) {
    expect(err).toBeInstanceOf(ClientsConfigError);
    return (err as ClientsConfigError).problems;
  }
  throw new Error('expected a configuration error');
}

describe('CDS_CLIENTS_FILE: JSON array of trusted CDS clients', () => {
  it('loads a valid file with jku, jwks, tenants, algorithms and label', () => {
    const path = write('ok.json', [
      {
        iss: 'https://sandbox.cds-hooks.org',
        jku: ['https://SANDBOX.cds-hooks.org/.well-known/jwks.json'],
        label: 'CDS Hooks sandbox',
      },
      { iss: client.iss, jwks: client.jwks, tenants: ['t1'], algorithms: ['ES256', 'PS384'] },
      {
        iss: 'urn:oid:1.2.3',
        jku: ['http://127.0.0.1:8080/jwks', 'http://localhost/jwks', 'http://[::1]:9/j'],
      },
    ]);
    const clients = loadClientsFile(path);
    expect(clients.map((c) => c.iss)).toEqual(['https://sandbox.cds-hooks.org', client.iss, 'urn:oid:1.2.3']);
    // URLs are normalised so a token's jku is compared by URL.
    expect(clients[0]?.jku).toEqual(['https://sandbox.cds-hooks.org/.well-known/jwks.json']);
    expect(clients[1]?.jwks?.keys[0]?.kid).toBe('k1');
    expect(clients[1]?.algorithms).toEqual(['ES256', 'PS384']);
  });

  it('names the file when it cannot be read or is not JSON', () => {
    const missing = join(dir, 'nope.json');
    expect(() => loadClientsFile(missing)).toThrow(ClientsConfigError);
    expect(() => loadClientsFile(missing)).toThrow(new RegExp(`${missing}.*ENOENT`, 's'));
    const bad = write('bad.json', '[{"iss": ');
    expect(() => loadClientsFile(bad)).toThrow(new RegExp(`${bad}.*not valid JSON`, 's'));
  });

  it('names the file and the entry for an invalid entry', () => {
    const path = write('entry.json', [
      { iss: 'https://a.example.org', jwks: client.jwks },
      { iss: 'https://b.example.org' },
    ]);
    expect(() => loadClientsFile(path)).toThrow(
      new RegExp(`${path}.*entry 1 \\(iss "https://b.example.org"\\): needs "jku".*or "jwks"`, 's'),
    );
  });

  it('refuses an empty list, a non-array and a missing iss', () => {
    expect(problems([])).toEqual(['must list at least one client']);
    expect(problems({ iss: 'x', jwks: client.jwks })[0]).toMatch(/expected array/);
    expect(problems([{ jwks: client.jwks }])[0]).toMatch(/^entry 0: iss: /);
  });

  it('refuses duplicate iss', () => {
    const result = problems([
      { iss: 'https://a.example.org', jwks: client.jwks },
      { iss: 'https://b.example.org', jwks: client.jwks },
      { iss: 'https://a.example.org', jku: ['https://a.example.org/jwks'] },
    ]);
    expect(result).toEqual([
      'entry 2 (iss "https://a.example.org"): iss: duplicate iss "https://a.example.org" (also entry 0)',
    ]);
  });

  it('refuses unknown members (typos such as jwks_uri)', () => {
    expect(problems([{ iss: 'a', jwks: client.jwks, jwks_uri: 'https://a/jwks' }]).join()).toMatch(
      /jwks_uri/,
    );
  });
});

describe('jku: allowed JWKS URLs, absolute https (http only for loopback hosts)', () => {
  it.each([
    ['http://jwks.example.org/keys', /https/],
    ['ftp://jwks.example.org/keys', /https/],
    ['/relative/jwks.json', /absolute URL/],
    ['https://user:pw@jwks.example.org/keys', /credentials/],
    ['https://jwks.example.org/keys#frag', /fragment/],
    ['http://127.0.0.1.evil.example.org/keys', /https/],
  ])('refuses %s', (url, message) => {
    const result = problems([{ iss: 'a', jku: [url] }]);
    expect(result).toHaveLength(1);
    expect(result[0]).toMatch(/^entry 0 \(iss "a"\): jku\.0: /);
    expect(result[0]).toMatch(message);
  });

  it('refuses an empty jku list', () => {
    expect(problems([{ iss: 'a', jku: [] }]).join()).toMatch(/at least one URL/);
  });
});

describe('jwks: keys given out of band (public signing keys with kid)', () => {
  it('refuses private key material', async () => {
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'p' };
    expect(problems([{ iss: 'a', jwks: { keys: [privateJwk] } }]).join()).toMatch(/private key member "d"/);
  });

  it('refuses symmetric keys', async () => {
    const secret = await generateSecret('HS256', { extractable: true });
    const octJwk = { ...(await exportJWK(secret)), kid: 's' };
    expect(problems([{ iss: 'a', jwks: { keys: [octJwk] } }]).join()).toMatch(/symmetric keys are refused/);
  });

  it('refuses keys without kid, encryption keys and an empty set', () => {
    const { kid: _kid, ...noKid } = client.publicJwk;
    expect(problems([{ iss: 'a', jwks: { keys: [noKid] } }]).join()).toMatch(/kid is required/);
    expect(problems([{ iss: 'a', jwks: { keys: [{ ...client.publicJwk, use: 'enc' }] } }]).join()).toMatch(
      /use must be "sig"/,
    );
    expect(problems([{ iss: 'a', jwks: { keys: [] } }]).join()).toMatch(/at least one key/);
  });
});

describe('algorithms: extra algorithms, never none nor HMAC', () => {
  it.each(['none', 'HS256', 'HS384', 'hs512', 'RSA-OAEP', ''])('refuses %j', (alg) => {
    expect(problems([{ iss: 'a', jwks: client.jwks, algorithms: [alg] }]).join()).toMatch(
      /is not allowed .*never none or HMAC/,
    );
  });
});
