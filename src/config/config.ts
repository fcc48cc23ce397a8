/**
 * Typed configuration from the environment, validated once at start. Bad configuration is a clear
 * message and exit code 1 (see src/index.ts), never a half-started service.
 */
import path from 'node:path';
import { z } from 'zod';
import { smartSettingsFromEnv } from './writeback.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const intInRange = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

const httpUrl = (name: string) =>
  z
    .string()
    .refine(
      (v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol),
      `${name} must be an http(s) URL`,
    );

const decimalInRange = (name: string, min: number, max: number, minExclusive = false) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, `${name} must be a decimal number`)
    .transform(Number)
    .refine(
      (n) => (minExclusive ? n > min : n >= min) && n <= max,
      `${name} must be ${minExclusive ? 'above' : 'at least'} ${min} and at most ${max}`,
    );

const envSchema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: intInRange('PORT', 0, 65535).optional(),
  HOST: z.string().min(1).optional(),
  PUBLIC_BASE_URL: httpUrl('PUBLIC_BASE_URL').optional(),
  CDS_CLIENTS_FILE: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'DATABASE_URL must be a postgres:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).optional(),
  FHIR_TIMEOUT_MS: intInRange('FHIR_TIMEOUT_MS', 50, 60_000).optional(),
  PATIENT_VIEW_REPEAT_HOURS: intInRange('PATIENT_VIEW_REPEAT_HOURS', 0, 24 * 90).optional(),
  HELPER_THREAD_NICE: intInRange('HELPER_THREAD_NICE', 0, 19).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  MAX_REQUEST_BYTES: intInRange('MAX_REQUEST_BYTES', 1024, 100 * 1024 * 1024).optional(),
  KNOWLEDGE_OVERRIDES_FILE: z.string().min(1).optional(),
  DEMO_MODE: z.enum(['auto', 'on', 'off'], { message: 'DEMO_MODE must be auto, on or off' }).optional(),
  FHIR_WRITE_BASE_URL: httpUrl('FHIR_WRITE_BASE_URL').optional(),
  FHIR_WRITE_TOKEN: z.string().min(1).optional(),
  DICOM_PATIENT_IDENTIFIER_SYSTEM: z.string().min(1).optional(),
  OUTBOX_POLL_MS: intInRange('OUTBOX_POLL_MS', 100, 600_000).optional(),
  DICOMWEB_BASE_URL: httpUrl('DICOMWEB_BASE_URL').optional(),
  IMAGING_MAX_UPLOAD_BYTES: intInRange('IMAGING_MAX_UPLOAD_BYTES', 1024, 4 * 1024 * 1024 * 1024).optional(),
  FHIR_MAX_RESPONSE_BYTES: intInRange('FHIR_MAX_RESPONSE_BYTES', 1024, 1024 * 1024 * 1024).optional(),
  FHIR_MAX_ENTRIES_PER_KEY: intInRange('FHIR_MAX_ENTRIES_PER_KEY', 1, 1_000_000).optional(),
  FHIR_MAX_PAGES: intInRange('FHIR_MAX_PAGES', 1, 1000).optional(),
  CLIENT_RATE_LIMIT: intInRange('CLIENT_RATE_LIMIT', 0, 1_000_000).optional(),
  CLIENT_RATE_WINDOW_SECONDS: intInRange('CLIENT_RATE_WINDOW_SECONDS', 1, 86_400).optional(),
  CLIENT_MAX_CONCURRENT: intInRange('CLIENT_MAX_CONCURRENT', 0, 100_000).optional(),
  DATABASE_STARTUP_TIMEOUT_MS: intInRange('DATABASE_STARTUP_TIMEOUT_MS', 0, 3_600_000).optional(),
  DICOM_DEFAULT_TIMEZONE: z
    .string()
    .regex(/^(Z|[+-]\d{2}:\d{2})$/, 'DICOM_DEFAULT_TIMEZONE must be Z or a UTC offset such as +01:00')
    .optional(),
  CARE_TEAM_CLIENT_ID: z.string().min(1).max(200).optional(),
  CARE_TEAM_SCOPES: z
    .string()
    .regex(
      /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/,
      'CARE_TEAM_SCOPES must be space-separated scopes',
    )
    .optional(),
  CARE_TEAM_FHIR_SERVERS: z
    .string()
    .refine(
      (v) =>
        v.split(',').every((u) => URL.canParse(u.trim()) && /^https?:$/.test(new URL(u.trim()).protocol)),
      'CARE_TEAM_FHIR_SERVERS must be comma-separated http(s) URLs',
    )
    .optional(),
  CARE_TEAM_DXA_LSC: z
    .string()
    .regex(
      /^(lumbar-spine|total-hip|femoral-neck|forearm)=\d+(\.\d+)?(,(lumbar-spine|total-hip|femoral-neck|forearm)=\d+(\.\d+)?)*$/,
      'CARE_TEAM_DXA_LSC must look like total-hip=0.3,lumbar-spine=0.25 (T-score units)',
    )
    .optional(),
  // Calibration drift watch (issue 16): see src/calibration/drift-watch.ts and the README.
  DRIFT_BASELINE_FILE: z.string().min(1).optional(),
  // setInterval's delay is a signed 32-bit number of ms: at most ~24.8 days.
  DRIFT_CHECK_INTERVAL_MS: intInRange('DRIFT_CHECK_INTERVAL_MS', 1000, 2_073_600_000).optional(),
  DRIFT_WINDOW_DAYS: intInRange('DRIFT_WINDOW_DAYS', 1, 366).optional(),
  DRIFT_ALPHA: decimalInRange('DRIFT_ALPHA', 0, 0.5, true).optional(),
  DRIFT_MIN_MEDIAN_SHIFT: decimalInRange('DRIFT_MIN_MEDIAN_SHIFT', 0, 1000).optional(),
  DRIFT_MIN_RECENT: intInRange('DRIFT_MIN_RECENT', 5, 1_000_000).optional(),
  // ---- The informaticist's console (/console, issue 13): OpenID Connect login and its session. ----
  CONSOLE_OIDC_ISSUER: httpUrl('CONSOLE_OIDC_ISSUER').optional(),
  CONSOLE_OIDC_CLIENT_ID: z.string().min(1).max(200).optional(),
  CONSOLE_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  CONSOLE_OIDC_SCOPES: z
    .string()
    .regex(
      /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/,
      'CONSOLE_OIDC_SCOPES must be space-separated scopes',
    )
    .optional(),
  CONSOLE_ROLE_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_:/.-]+$/, 'CONSOLE_ROLE_CLAIM must be a claim name (dots for nested claims)')
    .optional(),
  CONSOLE_SESSION_SECRET: z
    .string()
    .min(32, 'CONSOLE_SESSION_SECRET must be at least 32 characters')
    .optional(),
  CONSOLE_SESSION_HOURS: intInRange('CONSOLE_SESSION_HOURS', 1, 24 * 7).optional(),
  CONSOLE_TEST_FHIR_SERVER: httpUrl('CONSOLE_TEST_FHIR_SERVER').optional(),
  // --- Radiology loop (issue 17): PACS watcher and worklist -------------------------------------------
  PACS_WATCH: z.enum(['on', 'off'], { message: 'PACS_WATCH must be on or off' }).optional(),
  PACS_WATCH_INTERVAL_MS: intInRange('PACS_WATCH_INTERVAL_MS', 1000, 24 * 3600_000).optional(),
  PACS_WATCH_ORTHANC: z.enum(['on', 'off'], { message: 'PACS_WATCH_ORTHANC must be on or off' }).optional(),
  // 0 = no sweep; otherwise at least a minute, at most a week.
  PACS_WATCH_SWEEP_INTERVAL_MS: intInRange('PACS_WATCH_SWEEP_INTERVAL_MS', 0, 7 * 24 * 3600_000)
    .refine(
      (n) => n === 0 || n >= 60_000,
      'PACS_WATCH_SWEEP_INTERVAL_MS must be 0 (no sweep) or at least 60000',
    )
    .optional(),
  VIEWER_URL_TEMPLATE: z
    .string()
    .refine(
      (v) => v.includes('{StudyInstanceUID}') && URL.canParse(v.replace(/\{[A-Za-z]+\}/g, 'x')),
      'VIEWER_URL_TEMPLATE must be a URL containing {StudyInstanceUID}',
    )
    .optional(),
});

/** Every variable the service reads (besides the SMART write-back ones read in writeback/setup.ts). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);
/** SMART v2 scopes the care-team view asks for; EHRs on SMART v1 get `patient/*.read` instead. */
export const CARE_TEAM_DEFAULT_SCOPES = 'launch launch/patient openid fhirUser patient/*.rs';

export interface Config {
  production: boolean;
  port: number;
  host: string;
  /** Externally visible base URL without trailing slash; JWT `aud` = this + the path called. */
  publicBaseUrl: string;
  cdsClientsFile?: string;
  databaseUrl?: string;
  dataDir: string;
  fhirTimeoutMs: number;
  /** patient-view: a card shown to a chart is not repeated within this many hours unless its data changed. */
  patientViewRepeatHours: number;
  /**
   * Nice value of the process's helper threads (JWT signature checks, V8 background work), so the event
   * loop gets a core first on a small machine; 0 leaves them alone (src/helper-threads.ts).
   */
  helperThreadNice: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Largest accepted JSON request body (bytes); above it: 413. */
  maxRequestBytes: number;
  knowledgeOverridesFile?: string;
  /** Demo mode: embedded FHIR server at /demo-fhir and a generated demo CDS client. */
  demo: boolean;
  /**
   * Write-back of measured Observations (imaging): the FHIR server, its credentials (a static bearer token
   * or SMART Backend Services) and the identifier system that maps a DICOM PatientID to a FHIR Patient.
   */
  fhirWrite?: {
    baseUrl: string;
    token?: string;
    smart?: NonNullable<ReturnType<typeof smartSettingsFromEnv>>;
    patientIdentifierSystem: string;
    outboxPollMs: number;
  };
  dicomwebBaseUrl?: string;
  /**
   * The PACS watcher (PACS_WATCH=on): polls the PACS every `intervalMs` for new ROI reports; with
   * PACS_WATCH_ORTHANC=on through Orthanc's change feed at `orthancUrl` (DICOMWEB_BASE_URL's parent).
   */
  pacsWatch?: {
    intervalMs: number;
    orthancUrl?: string;
    /**
     * With QIDO-RS (not the Orthanc feed): how often a poll also sweeps the PACS without a date filter,
     * so reports and MR series imported later with old dates are found (PACS_WATCH_SWEEP_INTERVAL_MS,
     * default 1 hour; 0 = never).
     */
    sweepIntervalMs: number;
  };
  /** Viewer link of a study on the radiology worklist: {StudyInstanceUID} is replaced (VIEWER_URL_TEMPLATE). */
  viewerUrlTemplate?: string;
  /** Largest imaging upload (all parts together); above it: 413. */
  imagingMaxUploadBytes?: number;
  /** UTC offset for DICOM times that carry none; without it Observations carry the date only. */
  dicomDefaultTimezone?: string;
  /** Limits on the service's own FHIR reads, per prefetch key (see src/fhir/client.ts). */
  fhirLimits: { maxResponseBytes: number; maxEntries: number; maxPages: number };
  /** Per-client limits on /cds-services* (0 disables one); see src/http/rate-limit.ts. */
  clientLimits: { requests: number; windowSeconds: number; maxConcurrent: number };
  /** How long start-up waits for DATABASE_URL's server to accept connections (0: one attempt). */
  databaseStartupTimeoutMs: number;
  /** The care-team view (SMART app at /care-team): registration with the EHR's authorization server. */
  careTeam: {
    /** Client id registered with the EHR; in demo mode the demo authorization server's client by default. */
    clientId?: string;
    scope: string;
    /** FHIR servers (iss) the view may be launched against; undefined = any (demo: the demo FHIR server is added). */
    fhirServers?: string[];
    /** DXA least significant change by site in T-score units, drawn as a band; absent sites get a note. */
    dxaLsc: Record<string, number>;
  };
  /**
   * Calibration drift watch: the baseline written by `vbq calibrate --baseline`, how often recent scores
   * are compared with it, what counts as recent, and what counts as drift. Undefined: no drift watch.
   */
  drift?: {
    baselineFile: string;
    intervalMs: number;
    windowDays: number;
    alpha: number;
    minMedianShift: number;
    minRecent: number;
  };
  /**
   * The informaticist's console at /console (src/console/). `oidc` is undefined when no identity provider
   * is configured: the console then answers 404 `console-not-configured` (demo mode configures it against
   * the demo authorization server in src/server.ts).
   */
  console: {
    oidc?: { issuer: string; clientId: string; clientSecret?: string; scope: string };
    /** The claim holding the console role(s) (viewer, analyst, admin); dots reach nested claims. */
    roleClaim: string;
    /** Signs the session cookie; random per process when unset (sessions then end at restart). */
    sessionSecret?: string;
    sessionHours: number;
    /** The FHIR server "Try a patient" reads test patients from (demo mode: the demo FHIR server). */
    testFhirServer?: string;
  };
}

/**
 * Variables whose empty value is a mistake rather than "unset": `PORT=` in a compose file or a shell
 * would otherwise silently become 3000 and listen where nobody expects.
 */
const EMPTY_IS_ERROR = ['PORT', 'HOST'] as const;

/** Loopback: demo mode serves an embedded FHIR server and a demo client key, so not on every interface. */
const DEMO_DEFAULT_HOST = '127.0.0.1';
const DEFAULT_HOST = '0.0.0.0';

/** Parses and validates the environment. Throws ConfigError naming every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  for (const name of EMPTY_IS_ERROR) {
    if (env[name] !== undefined && env[name].trim() === '') {
      problems.push(`${name}: ${name} is set but empty (unset it to use the default)`);
    }
  }
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  // The rules below need the parsed values; with schema errors they are checked on what did parse, so
  // one run lists every problem.
  const e: z.infer<typeof envSchema> = parsed.success ? parsed.data : partialEnv(env);
  const production = e.NODE_ENV === 'production';
  const port = e.PORT ?? 3000;
  const demoSetting = e.DEMO_MODE ?? 'auto';
  if (production && !e.CDS_CLIENTS_FILE) {
    problems.push('CDS_CLIENTS_FILE is required when NODE_ENV=production');
  }
  if (production && demoSetting === 'on') {
    problems.push('DEMO_MODE=on is not allowed when NODE_ENV=production');
  }
  const demo = demoSetting === 'on' || (demoSetting === 'auto' && !production && !e.CDS_CLIENTS_FILE);
  let smart: ReturnType<typeof smartSettingsFromEnv>;
  try {
    smart = smartSettingsFromEnv(env);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if ((e.FHIR_WRITE_TOKEN || smart) && !e.FHIR_WRITE_BASE_URL) {
    problems.push('FHIR write-back credentials are set but FHIR_WRITE_BASE_URL is not');
  }
  if (e.FHIR_WRITE_TOKEN && smart) {
    problems.push(
      'set either FHIR_WRITE_TOKEN or the SMART Backend Services variables (FHIR_WRITE_TOKEN_URL...), not both',
    );
  }
  if (e.FHIR_WRITE_BASE_URL && !e.DICOM_PATIENT_IDENTIFIER_SYSTEM) {
    problems.push(
      'DICOM_PATIENT_IDENTIFIER_SYSTEM is required with FHIR_WRITE_BASE_URL (the identifier system of the DICOM PatientID, e.g. your MRN system)',
    );
  }
  const driftTuning = [
    'DRIFT_CHECK_INTERVAL_MS',
    'DRIFT_WINDOW_DAYS',
    'DRIFT_ALPHA',
    'DRIFT_MIN_MEDIAN_SHIFT',
    'DRIFT_MIN_RECENT',
  ].filter((name) => env[name] !== undefined && env[name] !== '');
  if (!e.DRIFT_BASELINE_FILE && driftTuning.length > 0) {
    problems.push(
      `${driftTuning.join(', ')} set but DRIFT_BASELINE_FILE is not (no drift watch runs without it)`,
    );
  }
  if (e.DRIFT_BASELINE_FILE && !e.FHIR_WRITE_BASE_URL) {
    problems.push(
      'DRIFT_BASELINE_FILE needs FHIR_WRITE_BASE_URL: the drift watch compares the scores this service measures and writes back',
    );
  }
  // Console: an issuer needs its client id; a production console needs a stable session secret (replicas
  // and restarts must accept each other's cookies).
  if (e.CONSOLE_OIDC_ISSUER && !e.CONSOLE_OIDC_CLIENT_ID) {
    problems.push('CONSOLE_OIDC_CLIENT_ID is required with CONSOLE_OIDC_ISSUER');
  }
  if (!e.CONSOLE_OIDC_ISSUER && (e.CONSOLE_OIDC_CLIENT_ID || e.CONSOLE_OIDC_CLIENT_SECRET)) {
    problems.push('CONSOLE_OIDC_CLIENT_ID/SECRET are set but CONSOLE_OIDC_ISSUER is not');
  }
  if (production && e.CONSOLE_OIDC_ISSUER && !e.CONSOLE_SESSION_SECRET) {
    problems.push('CONSOLE_SESSION_SECRET is required with CONSOLE_OIDC_ISSUER when NODE_ENV=production');
  }
  if (e.PACS_WATCH === 'on' && (!e.DICOMWEB_BASE_URL || !e.FHIR_WRITE_BASE_URL)) {
    problems.push(
      'PACS_WATCH=on needs DICOMWEB_BASE_URL (the PACS to watch) and FHIR_WRITE_BASE_URL (where results are written)',
    );
  }
  if (
    e.PACS_WATCH_ORTHANC === 'on' &&
    e.DICOMWEB_BASE_URL &&
    !/\/[^/]+\/?$/.test(new URL(e.DICOMWEB_BASE_URL).pathname)
  ) {
    problems.push(
      'PACS_WATCH_ORTHANC=on needs DICOMWEB_BASE_URL under Orthanc, e.g. http://orthanc:8042/dicom-web',
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const publicBaseUrl = (e.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  return {
    production,
    port,
    host: e.HOST ?? (demo ? DEMO_DEFAULT_HOST : DEFAULT_HOST),
    publicBaseUrl,
    cdsClientsFile: e.CDS_CLIENTS_FILE,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR ?? './data'),
    fhirTimeoutMs: e.FHIR_TIMEOUT_MS ?? 2000,
    patientViewRepeatHours: e.PATIENT_VIEW_REPEAT_HOURS ?? 24,
    helperThreadNice: e.HELPER_THREAD_NICE ?? 10,
    logLevel: e.LOG_LEVEL ?? 'info',
    maxRequestBytes: e.MAX_REQUEST_BYTES ?? 5 * 1024 * 1024,
    knowledgeOverridesFile: e.KNOWLEDGE_OVERRIDES_FILE,
    demo,
    fhirWrite:
      e.FHIR_WRITE_BASE_URL && e.DICOM_PATIENT_IDENTIFIER_SYSTEM
        ? {
            baseUrl: e.FHIR_WRITE_BASE_URL.replace(/\/+$/, ''),
            token: e.FHIR_WRITE_TOKEN,
            smart,
            patientIdentifierSystem: e.DICOM_PATIENT_IDENTIFIER_SYSTEM,
            outboxPollMs: e.OUTBOX_POLL_MS ?? 1000,
          }
        : undefined,
    dicomwebBaseUrl: e.DICOMWEB_BASE_URL?.replace(/\/+$/, ''),
    pacsWatch:
      e.PACS_WATCH === 'on'
        ? {
            intervalMs: e.PACS_WATCH_INTERVAL_MS ?? 30_000,
            sweepIntervalMs: e.PACS_WATCH_SWEEP_INTERVAL_MS ?? 3600_000,
            ...(e.PACS_WATCH_ORTHANC === 'on' && e.DICOMWEB_BASE_URL
              ? { orthancUrl: e.DICOMWEB_BASE_URL.replace(/\/+$/, '').replace(/\/[^/]+$/, '') }
              : {}),
          }
        : undefined,
    viewerUrlTemplate: e.VIEWER_URL_TEMPLATE,
    imagingMaxUploadBytes: e.IMAGING_MAX_UPLOAD_BYTES,
    dicomDefaultTimezone: e.DICOM_DEFAULT_TIMEZONE,
    fhirLimits: {
      maxResponseBytes: e.FHIR_MAX_RESPONSE_BYTES ?? 10 * 1024 * 1024,
      maxEntries: e.FHIR_MAX_ENTRIES_PER_KEY ?? 5000,
      maxPages: e.FHIR_MAX_PAGES ?? 20,
    },
    clientLimits: {
      requests: e.CLIENT_RATE_LIMIT ?? 600,
      windowSeconds: e.CLIENT_RATE_WINDOW_SECONDS ?? 60,
      maxConcurrent: e.CLIENT_MAX_CONCURRENT ?? 32,
    },
    databaseStartupTimeoutMs: e.DATABASE_STARTUP_TIMEOUT_MS ?? 30_000,
    careTeam: {
      clientId: e.CARE_TEAM_CLIENT_ID,
      scope: e.CARE_TEAM_SCOPES ?? CARE_TEAM_DEFAULT_SCOPES,
      fhirServers: e.CARE_TEAM_FHIR_SERVERS?.split(',').map((u) => u.trim().replace(/\/+$/, '')),
      dxaLsc: Object.fromEntries(
        (e.CARE_TEAM_DXA_LSC?.split(',') ?? []).map((pair) => {
          const [site, value] = pair.split('=');
          return [site ?? '', Number(value)];
        }),
      ),
    },
    drift: e.DRIFT_BASELINE_FILE
      ? {
          baselineFile: path.resolve(e.DRIFT_BASELINE_FILE),
          intervalMs: e.DRIFT_CHECK_INTERVAL_MS ?? 86_400_000,
          windowDays: e.DRIFT_WINDOW_DAYS ?? 30,
          alpha: e.DRIFT_ALPHA ?? 0.01,
          minMedianShift: e.DRIFT_MIN_MEDIAN_SHIFT ?? 0.15,
          minRecent: e.DRIFT_MIN_RECENT ?? 30,
        }
      : undefined,
    console: {
      oidc:
        e.CONSOLE_OIDC_ISSUER && e.CONSOLE_OIDC_CLIENT_ID
          ? {
              issuer: e.CONSOLE_OIDC_ISSUER,
              clientId: e.CONSOLE_OIDC_CLIENT_ID,
              clientSecret: e.CONSOLE_OIDC_CLIENT_SECRET,
              scope: e.CONSOLE_OIDC_SCOPES ?? 'openid profile',
            }
          : undefined,
      roleClaim: e.CONSOLE_ROLE_CLAIM ?? 'roles',
      sessionSecret: e.CONSOLE_SESSION_SECRET,
      sessionHours: e.CONSOLE_SESSION_HOURS ?? 8,
      testFhirServer: e.CONSOLE_TEST_FHIR_SERVER?.replace(/\/+$/, ''),
    },
  };
}

/** The variables that parse on their own, so the cross-variable rules can still run when others are bad. */
function partialEnv(env: NodeJS.ProcessEnv): z.infer<typeof envSchema> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(envSchema.shape)) {
    const value = env[key];
    if (value === undefined || value === '') continue;
    const r = schema.safeParse(value);
    if (r.success) out[key] = r.data;
  }
  return out as z.infer<typeof envSchema>;
}
