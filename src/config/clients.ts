/**
 * The trusted CDS clients (`CDS_CLIENTS_FILE`): who may call the service and which keys prove it.
 * Validated once at start so a typo fails loudly there instead of turning into 401s at run time.
 */
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { z } from 'zod';

/**
 * Asymmetric JWS algorithms a client entry may add to the ES384/RS384 baseline. `none` and HMAC are
 * absent on purpose: with a shared secret (or a public key misused as one) anyone can mint tokens.
 */
export const EXTRA_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
  'Ed25519',
] as const;

export type JwsAlgorithm = (typeof EXTRA_ALGORITHMS)[number];

/** Algorithms every client may use: the ones CDS Hooks 2.0 names. */
export const BASELINE_ALGORITHMS: readonly JwsAlgorithm[] = ['ES384', 'RS384'];

/** Members that only a private or symmetric key has; a trust store must never hold them. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

/** True for hosts that never leave the machine, where plain http cannot be intercepted on a network. */
function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Checks a JWKS URL for the allow-list and returns its normalised form (so comparison with a token's
 * `jku` header is by URL, not by spelling). Returns an error message instead when it is not acceptable.
 */
export function normaliseJwksUrl(raw: string): { url: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: 'must be an absolute URL' };
  }
  if (url.username !== '' || url.password !== '') return { error: 'must not contain credentials' };
  if (url.hash !== '') return { error: 'must not contain a fragment' };
  if (url.protocol === 'https:') return { url: url.href };
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return { url: url.href };
  return { error: 'must use https (http is allowed only for loopback hosts)' };
}

/**
 * Checks a FHIR server base URL for a client's `fhirServers` list and returns its normalised form, so a
 * hook's `fhirServer` is compared by URL (scheme, host and port case and default port normalised, IP
 * spellings such as 2130706433 or 0x7f.1 turned into dotted form, trailing slashes dropped), not by
 * spelling. http is accepted: listing a server is the operator's explicit decision (hospital FHIR servers
 * often sit on an internal network).
 */
export function normaliseFhirServerUrl(raw: string): { url: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: 'must be an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { error: 'must use http or https' };
  if (url.username !== '' || url.password !== '') return { error: 'must not contain credentials' };
  if (url.hash !== '' || url.search !== '') return { error: 'must not contain a query or fragment' };
  return { url: url.href.replace(/\/+$/, '') };
}

const fhirServerSchema = z.string().transform((raw, ctx) => {
  const result = normaliseFhirServerUrl(raw);
  if ('error' in result) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)} ${result.error}` });
    return z.NEVER;
  }
  return result.url;
});

const jwkSchema = z
  .looseObject({
    kty: z.enum(['EC', 'RSA', 'OKP'], { message: 'kty must be EC, RSA or OKP (symmetric keys are refused)' }),
    kid: z
      .string({ error: 'kid is required (tokens select their key by kid)' })
      .min(1, 'kid is required (tokens select their key by kid)'),
    use: z.literal('sig', { message: 'use must be "sig" when present' }).optional(),
    alg: z.string().optional(),
  })
  .superRefine((jwk, ctx) => {
    for (const member of PRIVATE_JWK_MEMBERS) {
      if (member in jwk) {
        ctx.addIssue({
          code: 'custom',
          message: `private key member "${member}" must not be configured (public keys only)`,
          path: [member],
        });
      }
    }
  });

/** A JSON Web Key Set as configured out of band: public signing keys, each with a kid. */
export const jwksSchema = z.looseObject({
  keys: z.array(jwkSchema).min(1, 'keys must list at least one key'),
});

const jkuSchema = z.string().transform((raw, ctx) => {
  const result = normaliseJwksUrl(raw);
  if ('error' in result) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)} ${result.error}` });
    return z.NEVER;
  }
  return result.url;
});

const algorithmSchema = z.string().superRefine((alg, ctx) => {
  if (!(EXTRA_ALGORITHMS as readonly string[]).includes(alg)) {
    ctx.addIssue({
      code: 'custom',
      message: `algorithm ${JSON.stringify(alg)} is not allowed (asymmetric JWS algorithms only: ${EXTRA_ALGORITHMS.join(', ')}; never none or HMAC)`,
    });
  }
});

/** One trusted CDS client (an EHR or the sandbox). */
export const cdsClientSchema = z
  .strictObject({
    iss: z.string().min(1, 'iss must be a non-empty string'),
    jku: z.array(jkuSchema).min(1, 'jku, when given, must list at least one URL').optional(),
    jwks: jwksSchema.optional(),
    tenants: z
      .array(z.string().min(1))
      .min(1, 'tenants, when given, must list at least one tenant')
      .optional(),
    algorithms: z.array(algorithmSchema).optional(),
    fhirServers: z
      .array(fhirServerSchema)
      .min(1, 'fhirServers, when given, must list at least one URL')
      .optional(),
    label: z.string().optional(),
    // How this client's EHR takes cards (see src/cds/ehr-profiles.ts and the README's EHR sections).
    ehr: z.enum(['epic', 'oracle', 'generic']).optional(),
    cdsHooksVersion: z.enum(['2.0', '3.0']).optional(),
    smartLinks: z.boolean().optional(),
    allowedLinks: z.array(z.url({ protocol: /^https?$/ })).optional(),
    allowCritical: z.boolean().optional(),
    maxIndicator: z.enum(['info', 'warning', 'critical']).optional(),
    actionSelectionBehavior: z.boolean().optional(),
  })
  .refine((c) => c.jku !== undefined || c.jwks !== undefined, {
    message: 'needs "jku" (allowed JWKS URLs) or "jwks" (keys given out of band), or both',
  });

/** The whole clients file: a non-empty array with unique issuers. */
export const cdsClientsSchema = z
  .array(cdsClientSchema)
  .min(1, 'must list at least one client')
  .superRefine((clients, ctx) => {
    const seen = new Map<string, number>();
    clients.forEach((client, index) => {
      const first = seen.get(client.iss);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `duplicate iss ${JSON.stringify(client.iss)} (also entry ${first})`,
          path: [index, 'iss'],
        });
      } else {
        seen.set(client.iss, index);
      }
    });
  });

export type CdsClient = z.output<typeof cdsClientSchema>;
/** A client entry as written (before URL normalisation), e.g. the demo client built in code. */
export type CdsClientInput = Omit<z.input<typeof cdsClientSchema>, 'jwks'> & {
  /** Typed loosely so keys straight from jose's exportJWK fit; checked at run time. */
  jwks?: { keys: readonly JWK[] };
};
export type JsonWebKeySet = z.output<typeof jwksSchema>;

/** A problem with the clients configuration; the message names the source and the entry. */
export class ClientsConfigError extends Error {
  readonly source: string;
  readonly problems: string[];

  constructor(source: string, problems: string[]) {
    super(`${source}: invalid CDS clients configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ClientsConfigError';
    this.source = source;
    this.problems = problems;
  }
}

/** Describes where in the array an issue is, naming the entry by index and iss so an operator finds it. */
function describeIssue(input: unknown, issue: z.core.$ZodIssue): string {
  const [first, ...rest] = issue.path;
  if (typeof first !== 'number') return issue.message;
  const entry: unknown = Array.isArray(input) ? input[first] : undefined;
  const iss =
    entry !== null && typeof entry === 'object' && typeof (entry as Record<string, unknown>).iss === 'string'
      ? ` (iss ${JSON.stringify((entry as Record<string, unknown>).iss)})`
      : '';
  const where = rest.length > 0 ? `${rest.map(String).join('.')}: ` : '';
  return `entry ${first}${iss}: ${where}${issue.message}`;
}

/**
 * Validates parsed clients configuration (from the file, or built in code such as the demo client).
 * `source` names where it came from in error messages. Throws ClientsConfigError.
 */
export function parseClients(input: unknown, source: string): CdsClient[] {
  const result = cdsClientsSchema.safeParse(input);
  if (!result.success) {
    throw new ClientsConfigError(
      source,
      result.error.issues.map((issue) => describeIssue(input, issue)),
    );
  }
  return result.data;
}

/**
 * Reads and validates the `CDS_CLIENTS_FILE` JSON. Throws ClientsConfigError naming the file (and the
 * entry) on any problem, including an unreadable file or invalid JSON.
 */
export function loadClientsFile(path: string): CdsClient[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
    throw new ClientsConfigError(path, [`cannot read file (${reason})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ClientsConfigError(path, [
      `not valid JSON (${err instanceof Error ? err.message : 'parse error'})`,
    ]);
  }
  return parseClients(json, path);
}
