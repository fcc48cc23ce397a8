/**
 * The demo SMART on FHIR authorization server (demo mode only): `oidc-provider`, a certified OpenID
 * Connect / OAuth 2.0 implementation, configured for SMART App Launch 2.x in front of the embedded FHIR
 * server. It issues launch contexts (EHR launch) and patient-scoped tokens, and signs in one demo
 * clinician by itself, so a launch URL opens the care-team view with no login form while still running the
 * whole authorization-code + PKCE flow. Tokens are opaque and live in this process's memory; the embedded
 * FHIR server checks them through `verifyAccessToken`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { Configuration, KoaContextWithOIDC, default as ProviderClass } from 'oidc-provider';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { memoryAdapterFactory } from './memory-adapter.js';

import {
  DEMO_CARE_TEAM_CLIENT_ID,
  DEMO_CLINICIAN_ID,
  DEMO_CONSOLE_CLIENT_ID,
  DEMO_CONSOLE_USERS,
} from './constants.js';

/** Scopes the demo server grants (SMART v2 and the v1 forms older apps ask for). */
export const DEMO_SUPPORTED_SCOPES = [
  'openid',
  'fhirUser',
  'profile',
  'launch',
  'launch/patient',
  'online_access',
  'offline_access',
  'patient/*.rs',
  'patient/*.read',
  'patient/Patient.rs',
  'patient/Observation.rs',
  'patient/Condition.rs',
  'patient/ServiceRequest.rs',
  'patient/MedicationRequest.rs',
  'patient/MedicationStatement.rs',
  'patient/Procedure.rs',
] as const;

/** What a launch (or the standalone patient picker) fixes for the tokens of one authorization. */
export interface LaunchContext {
  patient: string;
  /** The CDS card's appContext string, passed through unchanged in the token response. */
  appContext?: string;
  /** True for an EHR launch: the EHR shows the patient banner itself. */
  ehrLaunch: boolean;
}

/** What the FHIR server needs to know about a presented access token. */
export interface AccessGrant {
  patient: string;
  scopes: string[];
}

export interface DemoAuthServerOptions {
  /** The service's public base URL (no trailing slash). */
  publicBaseUrl: string;
  /** Where the authorization server is mounted (default `/demo-auth`). */
  mountPath?: string;
  /** Where the embedded FHIR server is mounted (default `/demo-fhir`); tokens are for it only. */
  fhirPath?: string;
  /** Where the care-team view is served (default `/care-team`); its redirect URL is `<this>/`. */
  appPath?: string;
  /** The patients a launch or the picker may select (the demo seed). */
  patients: { id: string; label: string }[];
  /** Receives oidc-provider's start-up notices (it writes them to the console otherwise). */
  logger?: { warn(obj: object, msg: string): void };
  /** Client id of the care-team view (default DEMO_CARE_TEAM_CLIENT_ID). */
  clientId?: string;
  /**
   * The informaticist's console as an OpenID Connect client (public, code + PKCE) with its redirect URL;
   * its users sign in with the demo console users' passwords (DEMO_CONSOLE_USERS) and get a `roles` claim.
   */
  console?: { clientId?: string; redirectUri: string };
  now?: () => Date;
}

export interface DemoAuthServer {
  /** Mount at `mountPath` (the issuer's path). */
  router: Router;
  /** Mount at `${fhirPath}/.well-known` (before the FHIR server itself). */
  wellKnownRouter: Router;
  issuer: string;
  fhirBaseUrl: string;
  /** The SMART configuration document (`.well-known/smart-configuration`). */
  smartConfiguration(): Record<string, unknown>;
  /** A launch id an EHR would pass as `launch`: the patient and card context, signed, valid 24 h. */
  createLaunch(patient: string, appContext?: string): Promise<string>;
  /** The care-team view's EHR-launch URL for a patient. */
  launchUrl(patient: string, appContext?: string): Promise<string>;
  /** The grant behind a bearer token, or undefined when it is unknown, expired or has no patient. */
  verifyAccessToken(token: string): Promise<AccessGrant | undefined>;
}

const LAUNCH_TTL_SECONDS = 24 * 3600;
const MAX_CONTEXTS = 5000;

const launchRequestSchema = z
  .object({
    patient: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
    appContext: z.string().min(1).max(4000).optional(),
  })
  .strict();

/**
 * Loads oidc-provider on first use (demo mode only). It prints notices (e.g. that it prefers Node 22) with
 * console.warn while loading; they go to the service's JSON log instead, so every log line stays JSON.
 */
async function loadProvider(logger: DemoAuthServerOptions['logger']): Promise<typeof ProviderClass> {
  /* eslint-disable no-console -- the library's notices are caught here, not printed */
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    if (text.includes('oidc-provider')) logger?.warn({ library: 'oidc-provider' }, text);
    else original(...args);
  };
  try {
    return (await import('oidc-provider')).default;
  } finally {
    console.warn = original;
  }
  /* eslint-enable no-console */
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
button{font:inherit;padding:.4rem .8rem;margin:.2rem 0}li{margin:.3rem 0}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

export async function createDemoAuthServer(options: DemoAuthServerOptions): Promise<DemoAuthServer> {
  const mountPath = options.mountPath ?? '/demo-auth';
  const fhirPath = options.fhirPath ?? '/demo-fhir';
  const appPath = options.appPath ?? '/care-team';
  const issuer = `${options.publicBaseUrl}${mountPath}`;
  const fhirBaseUrl = `${options.publicBaseUrl}${fhirPath}`;
  const redirectUri = `${options.publicBaseUrl}${appPath}/`;
  const patientIds = new Set(options.patients.map((p) => p.id));
  const now = options.now ?? (() => new Date());
  const consoleClientId = options.console?.clientId ?? DEMO_CONSOLE_CLIENT_ID;

  // Launch ids are signed with a per-process key: a launch cannot be forged to pick another context, and
  // nothing needs storing. A restart invalidates outstanding launch URLs, which is fine for a demo.
  const launchKey = randomBytes(32);
  // Launch context per grant: a grant is made for each authorization (see loadExistingGrant), so a second
  // launch for another patient can never reuse the first one's context.
  const contexts = new Map<string, LaunchContext>();
  const remember = (grantId: string, context: LaunchContext) => {
    if (contexts.size >= MAX_CONTEXTS) {
      const oldest = contexts.keys().next().value;
      if (oldest !== undefined) contexts.delete(oldest);
    }
    contexts.set(grantId, context);
  };

  // ES256: generated in milliseconds at start, where an RSA key takes seconds on a busy machine.
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: 'demo-auth-1', alg: 'ES256', use: 'sig' };

  const Provider = await loadProvider(options.logger);
  const configuration: Configuration = {
    adapter: memoryAdapterFactory(),
    clients: [
      {
        client_id: options.clientId ?? DEMO_CARE_TEAM_CLIENT_ID,
        client_name: 'Bone-health care-team view',
        redirect_uris: [redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
        id_token_signed_response_alg: 'ES256',
      },
      ...(options.console
        ? [
            {
              client_id: consoleClientId,
              client_name: "Informaticist's console",
              redirect_uris: [options.console.redirectUri],
              response_types: ['code' as const],
              grant_types: ['authorization_code'],
              token_endpoint_auth_method: 'none' as const,
              id_token_signed_response_alg: 'ES256' as const,
            },
          ]
        : []),
    ],
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: [...DEMO_SUPPORTED_SCOPES],
    claims: { openid: ['sub'], fhirUser: ['fhirUser'], profile: ['name', 'roles'] },
    // SMART: `launch` (EHR launch) and `aud` (the FHIR server the token is for).
    extraParams: ['launch', 'aud'],
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: false },
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 8 * 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    // Only the grant the interaction just made counts: every authorization goes through the interaction,
    // which is where the launch context is fixed.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    findAccount(_ctx, id) {
      const consoleUser = DEMO_CONSOLE_USERS.find((u) => u.username === id);
      if (consoleUser) {
        return {
          accountId: id,
          claims: () => ({ sub: id, name: consoleUser.name, roles: [consoleUser.role] }),
        };
      }
      if (id !== DEMO_CLINICIAN_ID) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          fhirUser: `${fhirBaseUrl}/Practitioner/${id}`,
          name: 'Demo Clinician',
        }),
      };
    },
    interactions: {
      url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}`,
    },
    clientBasedCORS: () => true,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page(
        'Sign-in failed',
        `<p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p>`,
      );
    },
  };
  const provider = new Provider(issuer, configuration);
  // Behind a TLS-terminating proxy the issuer is https while the request is http.
  provider.proxy = true;

  // SMART launch context in the token response (patient, appContext, need_patient_banner).
  provider.use(async (ctx: KoaContextWithOIDC, next) => {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200) return;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (!body || typeof body.access_token !== 'string') return;
    const token = await provider.AccessToken.find(body.access_token);
    const context = token?.grantId ? contexts.get(token.grantId) : undefined;
    if (!context) return;
    body.patient = context.patient;
    body.need_patient_banner = !context.ehrLaunch;
    if (context.appContext !== undefined) body.appContext = context.appContext;
  });

  async function createLaunch(patient: string, appContext?: string): Promise<string> {
    if (!patientIds.has(patient)) throw new AppError('not-found', 'No such demo patient');
    const nowSeconds = Math.floor(now().getTime() / 1000);
    return new SignJWT({ patient, ...(appContext === undefined ? {} : { appContext }) })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + LAUNCH_TTL_SECONDS)
      .setAudience(issuer)
      .sign(launchKey);
  }

  async function readLaunch(launch: string): Promise<LaunchContext | undefined> {
    try {
      const { payload } = await jwtVerify(launch, launchKey, {
        audience: issuer,
        algorithms: ['HS256'],
        currentDate: now(),
      });
      const patient = typeof payload.patient === 'string' ? payload.patient : undefined;
      if (!patient || !patientIds.has(patient)) return undefined;
      const appContext = typeof payload.appContext === 'string' ? payload.appContext : undefined;
      return { patient, ehrLaunch: true, ...(appContext === undefined ? {} : { appContext }) };
    } catch {
      return undefined;
    }
  }

  const router = express.Router();

  /** The demo EHR asks for a launch (as an EHR does before opening a SMART app); demo patients only. */
  router.post('/launch', express.json({ limit: '16kb' }), async (req: Request, res: Response) => {
    const parsed = launchRequestSchema.safeParse(req.body);
    if (!parsed.success) {
      throw new AppError('invalid-request', 'Send {"patient": "<demo patient id>", "appContext"?: string}');
    }
    const launch = await createLaunch(parsed.data.patient, parsed.data.appContext);
    res.json({ launch, url: launchUrlFor(launch) });
  });

  const finish = async (req: Request, res: Response, result: Record<string, unknown>) => {
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  };

  /** The console's sign-in: a username/password form for the demo console users (demo mode only). */
  async function consoleSignIn(
    req: Request,
    res: Response,
    params: Record<string, unknown>,
    form?: Record<string, unknown>,
  ): Promise<void> {
    let problem = '';
    if (form !== undefined) {
      const user = DEMO_CONSOLE_USERS.find((u) => u.username === form.username);
      // Compared as digests in constant time: equal lengths, no early exit on the first differing byte.
      const digest = (v: unknown) =>
        createHash('sha256')
          .update(String(v ?? ''))
          .digest();
      if (user && timingSafeEqual(digest(form.password), digest(user.password))) {
        const grant = new provider.Grant({ accountId: user.username, clientId: consoleClientId });
        const scopes = String(params.scope ?? '')
          .split(' ')
          .filter((s) => s === 'openid' || s === 'profile');
        grant.addOIDCScope(scopes.join(' '));
        grant.addOIDCClaims(['name', 'roles']);
        const grantId = await grant.save();
        await finish(req, res, { login: { accountId: user.username }, consent: { grantId } });
        return;
      }
      problem = '<p role="alert">Unknown user or wrong password.</p>';
    }
    const users = DEMO_CONSOLE_USERS.map(
      (u) =>
        `<li><code>${escapeHtml(u.username)}</code> / <code>${escapeHtml(u.password)}</code> (${escapeHtml(u.role)})</li>`,
    ).join('');
    res.type('html').send(
      page(
        'Sign in to the console (demo)',
        `${problem}<form method="post"><p><label for="username">User name</label><br><input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p></form>
<h2>Demo users</h2><p>Demo mode only; synthetic data.</p><ul>${users}</ul>`,
      ),
    );
  }

  async function completeInteraction(
    req: Request,
    res: Response,
    picked?: string,
    form?: Record<string, unknown>,
  ): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const params = details.params as Record<string, unknown>;
    if (options.console && params.client_id === consoleClientId) {
      await consoleSignIn(req, res, params, form);
      return;
    }
    const scopes = String(params.scope ?? '')
      .split(' ')
      .filter(Boolean);
    if (params.aud !== fhirBaseUrl) {
      await finish(req, res, {
        error: 'invalid_request',
        error_description: `aud must be the FHIR server ${fhirBaseUrl}`,
      });
      return;
    }
    let context: LaunchContext | undefined;
    if (typeof params.launch === 'string') {
      context = await readLaunch(params.launch);
      if (!context) {
        await finish(req, res, { error: 'invalid_request', error_description: 'unknown or expired launch' });
        return;
      }
    } else if (scopes.includes('launch/patient')) {
      // Standalone launch: the user picks the patient, as an EHR's patient picker would.
      if (picked === undefined || !patientIds.has(picked)) {
        const items = options.patients
          .map(
            (p) =>
              `<li><button type="submit" name="patient" value="${escapeHtml(p.id)}">${escapeHtml(p.label)}</button></li>`,
          )
          .join('');
        res
          .type('html')
          .send(
            page(
              'Choose a demo patient',
              `<p>Signed in as the demo clinician. Synthetic patients only.</p><form method="post"><ul>${items}</ul></form>`,
            ),
          );
        return;
      }
      context = { patient: picked, ehrLaunch: false };
    }
    const grant = new provider.Grant({ accountId: DEMO_CLINICIAN_ID, clientId: String(params.client_id) });
    const granted = scopes.filter((s) => (DEMO_SUPPORTED_SCOPES as readonly string[]).includes(s));
    grant.addOIDCScope(granted.join(' '));
    grant.addOIDCClaims(['fhirUser', 'name']);
    const grantId = await grant.save();
    if (context) remember(grantId, context);
    await finish(req, res, { login: { accountId: DEMO_CLINICIAN_ID }, consent: { grantId } });
  }

  router.get('/interaction/:uid', async (req: Request, res: Response) => {
    await completeInteraction(req, res);
  });
  router.post(
    '/interaction/:uid',
    express.urlencoded({ extended: false, limit: '4kb' }),
    async (req: Request, res: Response) => {
      const body = (req.body as Record<string, unknown> | undefined) ?? {};
      const picked = body.patient;
      await completeInteraction(req, res, typeof picked === 'string' ? picked : undefined, body);
    },
  );
  router.use(provider.callback());

  function smartConfiguration(): Record<string, unknown> {
    return {
      issuer,
      jwks_uri: `${issuer}/jwks`,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      revocation_endpoint: `${issuer}/token/revocation`,
      userinfo_endpoint: `${issuer}/me`,
      grant_types_supported: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['none'],
      response_types_supported: ['code'],
      scopes_supported: [...DEMO_SUPPORTED_SCOPES],
      code_challenge_methods_supported: ['S256'],
      capabilities: [
        'launch-ehr',
        'launch-standalone',
        'client-public',
        'context-ehr-patient',
        'context-standalone-patient',
        'context-passthrough-banner',
        'permission-patient',
        'permission-v1',
        'permission-v2',
        'permission-offline',
        'permission-online',
        'sso-openid-connect',
      ],
    };
  }

  const wellKnownRouter = express.Router();
  wellKnownRouter.get('/smart-configuration', (_req: Request, res: Response) => {
    res.json(smartConfiguration());
  });

  const launchUrlFor = (launch: string) =>
    `${options.publicBaseUrl}${appPath}/launch?iss=${encodeURIComponent(fhirBaseUrl)}&launch=${encodeURIComponent(launch)}`;

  return {
    router,
    wellKnownRouter,
    issuer,
    fhirBaseUrl,
    smartConfiguration,
    createLaunch,
    async launchUrl(patient, appContext) {
      return launchUrlFor(await createLaunch(patient, appContext));
    },
    async verifyAccessToken(value) {
      const token = await provider.AccessToken.find(value);
      if (!token || token.isExpired) return undefined;
      const context = token.grantId ? contexts.get(token.grantId) : undefined;
      if (!context) return undefined;
      return {
        patient: context.patient,
        scopes: String(token.scope ?? '')
          .split(' ')
          .filter(Boolean),
      };
    },
  };
}

/**
 * For `npm run demo` (a separate process): asks the running service's demo authorization server for a
 * launch and returns the care-team view URL that opens on `patientId` with no login step.
 */
export async function requestDemoLaunchUrl(options: {
  serviceBaseUrl: string;
  patientId: string;
  appContext?: string;
  signal?: AbortSignal;
}): Promise<string> {
  const res = await fetch(`${options.serviceBaseUrl.replace(/\/+$/, '')}/demo-auth/launch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      patient: options.patientId,
      ...(options.appContext === undefined ? {} : { appContext: options.appContext }),
    }),
    signal: options.signal ?? AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`demo launch refused (HTTP ${res.status})`);
  const body = (await res.json()) as { url?: unknown };
  if (typeof body.url !== 'string') throw new Error('demo launch answer has no url');
  return body.url;
}
