/**
 * What the process says when it starts or cannot: the "ready at …" line for people, and start-up errors
 * that name the variable at fault (never a password).
 */
import type { Config } from './config.js';

export interface StartupLine {
  /** Where to point a browser or curl on this machine. */
  url: string;
  mode: 'demo mode' | 'service mode';
  /** What to try next, without a patient id (this goes to the log too). */
  next: string;
  /** The line for a person at a terminal. */
  text: string;
}

/** Wildcard addresses are not reachable as such: a person on this machine reaches them on localhost. */
function browsableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '' || host === '127.0.0.1' || host === '::1') {
    return 'localhost';
  }
  return host.includes(':') ? `[${host}]` : host;
}

export function startupLine(config: Config, port: number): StartupLine {
  const url = `http://${browsableHost(config.host)}:${port}`;
  const mode = config.demo ? 'demo mode' : 'service mode';
  const next = config.demo
    ? 'npm run demo -- <demo patient id> (README, "Demo patients")'
    : `curl ${config.publicBaseUrl}/cds-services with a signed JWT from a client in CDS_CLIENTS_FILE`;
  // The person at the terminal gets a command to paste: a synthetic demo patient, never a real one.
  const tryText = config.demo ? 'npm run demo -- demo-tlif-high-vbq' : next;
  const where = config.host === '127.0.0.1' || config.host === '::1' ? ' (this machine only)' : '';
  const text = `spine-bone-health-cds ready at ${url}${where} (${mode}) — try: ${tryText}`;
  return { url, mode, next, text };
}

/** Error codes a PostgreSQL client raises when it cannot reach or log in to the server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** SQLSTATE classes: 08 connection exception, 28 invalid authorization, 3D invalid catalog (no such db). */
const SQLSTATE_CONNECT = /^(08|28|3D)[0-9A-Z]{3}$/;

function errorChain(err: unknown): { code?: unknown; message?: unknown; errors?: unknown }[] {
  const out: { code?: unknown; message?: unknown; errors?: unknown }[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const e = cur as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
    out.push(e);
    if (Array.isArray(e.errors)) out.push(...(e.errors as (typeof out)[number][]));
    cur = e.cause;
  }
  return out;
}

function isDatabaseConnectError(err: unknown, databaseUrl: string): boolean {
  const dbPort = Number(URL.canParse(databaseUrl) ? new URL(databaseUrl).port || 5432 : 5432);
  return errorChain(err).some((e) => {
    const port = (e as { port?: unknown }).port;
    // A network error about another port (not the database's) is someone else's failure.
    if (typeof port === 'number' && port !== dbPort) return false;
    return (
      (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || SQLSTATE_CONNECT.test(e.code))) ||
      (typeof e.message === 'string' && /when trying to connect|Connection terminated/i.test(e.message))
    );
  });
}

/** DATABASE_URL without its password, for messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function messageOf(err: unknown): string {
  const chain = errorChain(err);
  const msg = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).find((m) => m !== '');
  const code = chain.map((e) => e.code).find((c) => typeof c === 'string');
  return msg ?? (typeof code === 'string' ? code : String(err));
}

/** The start-up failure as one sentence that names the variable at fault. */
export function describeStartError(err: unknown, config: Pick<Config, 'databaseUrl'>): string {
  let message = messageOf(err);
  if (config.databaseUrl) {
    // A driver message could echo the URL; the password never reaches the terminal or the log.
    const u = URL.canParse(config.databaseUrl) ? new URL(config.databaseUrl) : undefined;
    if (u?.password) {
      for (const secret of new Set([u.password, decodeURIComponent(u.password)])) {
        message = message.split(secret).join('***');
      }
    }
    if (isDatabaseConnectError(err, config.databaseUrl)) {
      return `cannot connect to the PostgreSQL server in DATABASE_URL (${redactDatabaseUrl(config.databaseUrl)}): ${message}`;
    }
  }
  return message;
}
