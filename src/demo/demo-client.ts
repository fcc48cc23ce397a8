/**
 * The demo CDS client: an ES384 key pair generated once into DATA_DIR, registered as a trusted client in
 * demo mode only, and used by `npm run demo` to sign requests exactly as an EHR would.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { CdsClientInput } from '../config/clients.js';

export const DEMO_CLIENT_ISS = 'urn:spine-bone-health-cds:demo-ehr';
const ALG = 'ES384';

interface DemoKeyFile {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

function keyFile(dataDir: string): string {
  return path.join(dataDir, 'demo-client', 'es384-key.json');
}

/** Loads the demo key pair from DATA_DIR, generating it (file mode 0600) on first use. */
export async function loadOrCreateDemoKeys(dataDir: string): Promise<DemoKeyFile> {
  const file = keyFile(dataDir);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as DemoKeyFile;
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = randomUUID();
  const keys: DemoKeyFile = {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' },
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

/**
 * The trusted-client entry for the demo client (public key only). `fhirServers` lists the embedded FHIR
 * server, which is on loopback and so is read only because it is listed.
 */
export async function demoClient(dataDir: string, fhirServers?: string[]): Promise<CdsClientInput> {
  const keys = await loadOrCreateDemoKeys(dataDir);
  return {
    iss: DEMO_CLIENT_ISS,
    jwks: { keys: [keys.publicJwk] },
    ...(fhirServers ? { fhirServers } : {}),
  } as CdsClientInput;
}

/** The URLs under which the demo client may name the embedded FHIR server. */
export function demoFhirServers(publicBaseUrl: string, port: number): string[] {
  return [
    `${publicBaseUrl.replace(/\/+$/, '')}/demo-fhir`,
    `http://localhost:${port}/demo-fhir`,
    `http://127.0.0.1:${port}/demo-fhir`,
  ];
}

/** Signs a CDS Hooks client JWT for `audience` (the exact URL to be called). */
export async function signDemoJwt(dataDir: string, audience: string, lifetimeSeconds = 300): Promise<string> {
  const keys = await loadOrCreateDemoKeys(dataDir);
  const key = await importJWK(keys.privateJwk, ALG);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: ALG, kid: keys.kid, typ: 'JWT' })
    .setIssuer(DEMO_CLIENT_ISS)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .setJti(randomUUID())
    .sign(key);
}
