/**
 * The OpenAPI 3.1 document of the service, generated at start-up from the zod schemas the routes validate
 * with (request bodies: each CDS service's own `requestSchema`, the feedback schema, the imaging ROI
 * schema), so the document cannot drift from the validation. Responses the service builds from TypeScript
 * types get documentation-only zod schemas here, each checked against its type by the compiler. JSON
 * Schema 2020-12 (what zod 4's `z.toJSONSchema` emits) is OpenAPI 3.1's own schema dialect.
 */
import { z } from 'zod';
import {
  feedbackRequestSchema,
  type CdsCard,
  type CdsHookResponse,
  type CdsServiceDefinition,
} from '../cds/types.js';
import { ERROR_CODE_SYSTEM, ERRORS, type ErrorCode } from '../errors.js';
import { jsonInputSchema as roiDocumentSchema } from '../imaging/roi.js';
import type { CdsService } from '../services/service.js';

/** A JSON Schema object as emitted by zod (plain JSON). */
type JsonSchema = Record<string, unknown>;

// ---- Response schemas (documentation only; the compiler checks them against the response types) ------

// Plain (not loose) objects: the compile-time checks below then accept the richer FHIR types, and the
// generated input schemas still allow further members.
const codingSchema = z.object({
  system: z.string().optional(),
  code: z.string().optional(),
  display: z.string().optional(),
});

const actionSchema = z.object({
  type: z.enum(['create', 'update', 'delete']),
  description: z.string(),
  resource: z
    .object({ resourceType: z.string() })
    .optional()
    .describe('The FHIR resource to create (e.g. a ServiceRequest for DXA)'),
  resourceId: z.string().optional(),
});

const cardSchema = z
  .object({
    uuid: z.string().optional().describe('Stable card id: feedback refers to it'),
    summary: z.string().max(140),
    detail: z.string().optional().describe('GitHub-flavoured markdown'),
    indicator: z.enum(['info', 'warning', 'critical']),
    source: z.object({
      label: z.string(),
      url: z.string().optional(),
      icon: z.string().optional(),
      topic: codingSchema.optional().describe('The card topic: feedback metrics and analytics group by it'),
    }),
    suggestions: z
      .array(
        z.object({
          label: z.string(),
          uuid: z.string().optional(),
          isRecommended: z.boolean().optional(),
          actions: z.array(actionSchema).optional(),
          actionSelectionBehavior: z.enum(['all', 'any', 'at-most-one']).optional(),
        }),
      )
      .optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z.array(codingSchema).optional(),
    links: z
      .array(
        z.object({
          label: z.string(),
          url: z.string(),
          type: z.enum(['absolute', 'smart']),
          appContext: z.string().optional(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'Card' });

const hookResponseSchema = z
  .object({ cards: z.array(cardSchema), systemActions: z.array(actionSchema).optional() })
  .meta({ id: 'HookResponse' });

/**
 * Compile-time checks: every value of the response types is described by its documentation schema (a
 * field added to a type but not here fails the build, as the schemas are not loose).
 */
export const describes = {
  card: (c: CdsCard): z.input<typeof cardSchema> => c,
  hookResponse: (r: CdsHookResponse): z.input<typeof hookResponseSchema> => r,
  service: (d: CdsServiceDefinition): z.input<typeof discoverySchema>['services'][number] => d,
};

const discoverySchema = z
  .object({
    services: z.array(
      z.object({
        hook: z.enum(['order-sign', 'order-select', 'patient-view']),
        id: z.string(),
        title: z.string().optional(),
        description: z.string(),
        prefetch: z.record(z.string(), z.string()).optional(),
        usageRequirements: z.string().optional(),
        version: z.string().optional(),
        hookVersion: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'Discovery' });

const errorCodes = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

const operationOutcomeSchema = z
  .object({
    resourceType: z.literal('OperationOutcome'),
    issue: z
      .array(
        z.object({
          severity: z.enum(['fatal', 'error']),
          code: z.string().describe('FHIR issue type'),
          details: z.object({
            coding: z
              .array(z.object({ system: z.string(), code: z.string() }))
              .describe(
                `The first coding has system ${ERROR_CODE_SYSTEM} and one of the stable error codes: ${errorCodes.join(', ')}`,
              ),
            text: z.string(),
          }),
          diagnostics: z.string().optional(),
          expression: z.array(z.string()).optional(),
        }),
      )
      .min(1),
  })
  .meta({
    id: 'OperationOutcome',
    description:
      'Every error is a FHIR OperationOutcome (application/fhir+json) whose issue.details.coding carries a ' +
      'stable error code (see the x-error-codes of each response); never a stack trace.',
  });

const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
const readinessSchema = z
  .object({
    status: z.enum(['ready', 'not-ready']),
    checks: z
      .record(z.string(), z.boolean())
      .describe('Each check (store, knowledge base, …) and its result'),
  })
  .meta({ id: 'Readiness' });

const indexSchema = z
  .object({
    service: z.string(),
    links: z.array(z.object({ rel: z.string(), href: z.string(), title: z.string() })),
  })
  .meta({ id: 'Index' });

const measurementSchema = z
  .object({
    metric: z.string().describe('VBQ, CVBQ, EBQ, … (see the README "Imaging" section)'),
    value: z.number().nullable(),
    unit: z.enum(['1', 'HU']),
    levels: z.array(z.object({}).loose()),
    csf: z.object({}).loose().nullable(),
    exclusions: z.array(z.object({}).loose()),
    validity: z.object({
      valid: z.boolean(),
      reasons: z.array(z.object({ code: z.string(), message: z.string() }).loose()),
    }),
    acquisition: z.object({}).loose(),
    studyInstanceUID: z.string(),
    seriesInstanceUID: z.string(),
    roiSource: z.object({
      kind: z.enum(['json', 'sr']),
      srSopInstanceUID: z.string().optional(),
      roiDigest: z.string(),
    }),
  })
  .loose()
  .meta({ id: 'Measurement' });

const writeEntrySchema = z
  .object({
    metric: z.string(),
    status: z.enum(['queued', 'already-queued', 'refused']),
    outboxId: z.number().int().optional(),
    identifier: z.object({ system: z.string(), value: z.string() }).optional(),
    reason: z
      .object({ code: z.enum(['no-effective-date', 'no-patient-id']), message: z.string() })
      .optional(),
  })
  .meta({ id: 'WriteEntry' });

const uploadResultSchema = z
  .object({
    results: z.array(measurementSchema),
    skipped: z.array(z.string()).optional(),
    writes: z.array(writeEntrySchema).optional().describe('Present when write=true'),
  })
  .meta({ id: 'VbqResult' });

const studyResultSchema = z
  .object({
    results: z.array(measurementSchema),
    skipped: z.array(z.string()).optional(),
    roiReport: z.object({ sopInstanceUID: z.string() }),
    writes: z.array(writeEntrySchema),
    sr: z.object({
      sopInstanceUID: z.string(),
      seriesInstanceUID: z.string(),
      status: z.enum(['queued', 'already-queued']),
      outboxId: z.number().int(),
    }),
  })
  .meta({ id: 'VbqStudyResult' });

/** GET /imaging/worklist (src/pacs-watch/worklist.ts). */
const worklistSchema = z
  .object({
    entries: z.array(
      z.object({
        studyInstanceUID: z.string(),
        studyDate: z.string().optional().describe('YYYY-MM-DD'),
        studyDescription: z.string().optional(),
        accessionNumber: z.string().optional(),
        patientId: z.string().optional().describe('DICOM PatientID'),
        series: z
          .object({
            seriesInstanceUID: z.string(),
            description: z.string().optional(),
            region: z.enum(['lumbar', 'cervical']),
          })
          .describe('The sagittal T1 series VBQ would be measured on'),
        requested: z
          .object({
            task: z.string().describe('Task/<id> asking radiology to measure VBQ'),
            plannedSurgeryDate: z.string().optional(),
            authoredOn: z.string().optional(),
          })
          .optional(),
        viewerUrl: z.string().optional().describe('Opens the study in the viewer (VIEWER_URL_TEMPLATE)'),
      }),
    ),
  })
  .meta({ id: 'RadiologyWorklist' });

const uploadSchema = z
  .object({
    files: z
      .array(z.string().meta({ contentMediaType: 'application/dicom' }))
      .describe('DICOM Part-10 files of one series (repeat the part)'),
    rois: roiDocumentSchema
      .optional()
      .describe('The ROIs as JSON (a part, or a file part); either this or `sr`'),
    sr: z
      .string()
      .meta({ contentMediaType: 'application/dicom' })
      .optional()
      .describe('The ROIs as a DICOM SR (TID 1500, e.g. from OHIF); either this or `rois`'),
    write: z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .describe('Queue the results as FHIR Observations (needs FHIR_WRITE_BASE_URL)'),
  })
  .meta({ id: 'VbqUpload' });

// ---- Document ---------------------------------------------------------------------------------------

const PASCAL = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/** Generates every registered schema as components, references between them as $ref. */
function components(named: [string, z.ZodType][]): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of named) {
    if (!registry.has(schema)) registry.add(schema, { id });
  }
  for (const s of [
    cardSchema,
    hookResponseSchema,
    discoverySchema,
    operationOutcomeSchema,
    healthSchema,
    readinessSchema,
    indexSchema,
    measurementSchema,
    writeEntrySchema,
    uploadResultSchema,
    studyResultSchema,
    worklistSchema,
    uploadSchema,
  ]) {
    const id = z.globalRegistry.get(s)?.id;
    if (id && !registry.has(s)) registry.add(s, { id });
  }
  const out = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
    // Refinements (cross-field rules) have no JSON Schema form; they are described in the text.
    unrepresentable: 'any',
  }) as { schemas: Record<string, JsonSchema> };
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    // `$id`/`$schema` are implied by the document (OpenAPI 3.1's default dialect is 2020-12).
    const { $id: _id, $schema: _schema, ...rest } = schema;
    schemas[id] = rest;
  }
  return schemas;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** The error responses of an operation: one per status, listing the stable codes a caller may see. */
function errorResponses(codes: ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'internal' as const]) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        String(status),
        {
          description: `OperationOutcome with error code ${list.map((c) => `\`${c}\``).join(' or ')}`,
          'x-error-codes': list,
          content: { 'application/fhir+json': { schema: ref('OperationOutcome') } },
        },
      ]),
  );
}

const json = (schema: unknown) => ({ 'application/json': { schema } });

/** Options of the document: the services it describes and the public base URL (servers). */
export interface OpenApiOptions {
  services: readonly Pick<CdsService, 'definition' | 'requestSchema'>[];
  publicBaseUrl?: string;
  version: string;
}

const SECURED = [{ cdsClientJwt: [] }];
const AUTH_ERRORS: ErrorCode[] = ['unauthorized', 'not-ready'];
const JSON_BODY_ERRORS: ErrorCode[] = ['invalid-json', 'payload-too-large', 'unsupported-media-type'];

/** Builds the OpenAPI 3.1 document for the given services. */
export function buildOpenApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const named: [string, z.ZodType][] = [['FeedbackRequest', feedbackRequestSchema]];
  const requestIds = new Map<z.ZodType, string>();
  for (const s of options.services) {
    if (requestIds.has(s.requestSchema)) continue;
    let id = `${PASCAL(s.definition.hook)}Request`;
    if ([...requestIds.values()].includes(id)) id = `${PASCAL(s.definition.id)}Request`;
    requestIds.set(s.requestSchema, id);
    named.push([id, s.requestSchema]);
  }
  named.push(['RoiDocument', roiDocumentSchema]);

  const paths: Record<string, Record<string, unknown>> = {
    '/': {
      get: {
        operationId: 'index',
        summary:
          'Start page: links to discovery, the API docs, the console, the care-team view, health and metrics',
        tags: ['Service'],
        responses: {
          '200': {
            description: 'An HTML page for browsers; JSON when the request asks for application/json',
            content: { 'text/html': { schema: { type: 'string' } }, ...json(ref('Index')) },
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This OpenAPI 3.1 document (generated from the validation schemas)',
        tags: ['Service'],
        responses: { '200': { description: 'The document', content: json({ type: 'object' }) } },
      },
    },
    '/docs': {
      get: {
        operationId: 'docs',
        summary: 'The API documentation rendered from /openapi.json (Redoc, served locally: no CDN)',
        tags: ['Service'],
        responses: {
          '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/docs/init.js': {
      get: {
        operationId: 'docsInit',
        summary: 'The start-up script of /docs (a file, not inline, for a strict Content-Security-Policy)',
        tags: ['Service'],
        responses: {
          '200': {
            description: 'JavaScript',
            content: { 'text/javascript': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/docs/redoc.standalone.js': {
      get: {
        operationId: 'docsRenderer',
        summary: 'The renderer script of /docs (from the redoc npm package)',
        tags: ['Service'],
        responses: {
          '200': {
            description: 'JavaScript',
            content: { 'text/javascript': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Liveness: the process answers',
        tags: ['Operations'],
        responses: { '200': { description: 'Alive', content: json(ref('Health')) } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'ready',
        summary: 'Readiness: the store answers and the knowledge base is loaded',
        tags: ['Operations'],
        responses: {
          '200': { description: 'Ready', content: json(ref('Readiness')) },
          '503': { description: 'Not ready (each check says which)', content: json(ref('Readiness')) },
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format); see the README "Metrics" section',
        tags: ['Operations'],
        responses: {
          '200': {
            description: 'Metrics',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/cds-services': {
      get: {
        operationId: 'discovery',
        summary: 'CDS Hooks discovery: the services, their hooks and prefetch templates',
        tags: ['CDS Hooks'],
        security: SECURED,
        responses: {
          '200': { description: 'The services', content: json(ref('Discovery')) },
          ...errorResponses(AUTH_ERRORS),
        },
      },
    },
  };

  for (const s of options.services) {
    const id = s.definition.id;
    const requestId = requestIds.get(s.requestSchema)!;
    paths[`/cds-services/${id}`] = {
      post: {
        operationId: `call-${id}`,
        summary: `${s.definition.hook}: ${s.definition.title ?? id}`,
        description:
          `${s.definition.description}\n\nPrefetch keys: ${Object.keys(s.definition.prefetch).join(', ')}. ` +
          'Keys the client omits are fetched from `fhirServer` with `fhirAuthorization`; a required key that ' +
          'cannot be obtained answers 412 `prefetch-unavailable`. `fhirServer` requires `fhirAuthorization`; ' +
          'patient/ scopes require `fhirAuthorization.patient`.',
        tags: ['CDS Hooks'],
        security: SECURED,
        requestBody: { required: true, content: json(ref(requestId)) },
        responses: {
          '200': { description: 'The cards (possibly none)', content: json(ref('HookResponse')) },
          ...errorResponses([
            'invalid-request',
            ...JSON_BODY_ERRORS,
            ...AUTH_ERRORS,
            'prefetch-unavailable',
            'upstream-unavailable',
          ]),
        },
      },
    };
    paths[`/cds-services/${id}/feedback`] = {
      post: {
        operationId: `feedback-${id}`,
        summary: `Feedback on the cards of ${id} (accepted / overridden, with the override reason)`,
        description:
          'Entries are stored once (an exact duplicate is acknowledged, not stored again). `accepted` needs ' +
          '`acceptedSuggestions`.',
        tags: ['CDS Hooks'],
        security: SECURED,
        requestBody: { required: true, content: json(ref('FeedbackRequest')) },
        responses: {
          '200': { description: 'Stored', content: json({ type: 'object' }) },
          ...errorResponses(['invalid-feedback', ...JSON_BODY_ERRORS, ...AUTH_ERRORS]),
        },
      },
    };
  }

  paths['/imaging/vbq'] = {
    post: {
      operationId: 'measureUpload',
      summary: 'Measure VBQ-family scores on an uploaded MRI series with ROIs (JSON or DICOM SR)',
      tags: ['Imaging'],
      security: SECURED,
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: ref('VbqUpload'),
            encoding: {
              files: { contentType: 'application/dicom, application/octet-stream' },
              rois: { contentType: 'application/json' },
              sr: { contentType: 'application/dicom, application/octet-stream' },
            },
          },
        },
      },
      responses: {
        '200': { description: 'At least one valid measurement', content: json(ref('VbqResult')) },
        ...errorResponses([
          'invalid-request',
          'invalid-roi',
          'invalid-dicom',
          'payload-too-large',
          'unsupported-media-type',
          'measurement-refused',
          ...AUTH_ERRORS,
        ]),
      },
    },
  };
  paths['/imaging/vbq/studies/{studyInstanceUID}'] = {
    post: {
      operationId: 'measureStudy',
      summary:
        'Pull a study and its ROI report from the PACS (DICOMweb), measure, and queue the Observations and our SR',
      tags: ['Imaging'],
      security: SECURED,
      parameters: [
        {
          name: 'studyInstanceUID',
          in: 'path',
          required: true,
          schema: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 },
        },
      ],
      responses: {
        '200': { description: 'Measured and queued', content: json(ref('VbqStudyResult')) },
        ...errorResponses([
          'invalid-request',
          'invalid-roi',
          'invalid-dicom',
          'not-found',
          'measurement-refused',
          'upstream-unavailable',
          ...AUTH_ERRORS,
        ]),
      },
    },
  };

  paths['/imaging/worklist'] = {
    get: {
      operationId: 'radiologyWorklist',
      summary:
        'Spine MR studies with a sagittal T1 series and no VBQ yet: requested ones first (soonest surgery), then newest first',
      tags: ['Imaging'],
      security: SECURED,
      parameters: [
        {
          name: 'limit',
          in: 'query',
          required: false,
          schema: { type: 'integer', minimum: 1, maximum: 1000 },
        },
      ],
      responses: {
        '200': { description: 'The worklist', content: json(ref('RadiologyWorklist')) },
        ...errorResponses(['invalid-request', 'upstream-unavailable', ...AUTH_ERRORS]),
      },
    },
  };

  // The care-team view (a SMART app): its launch and pages are for browsers, documented for completeness.
  const page = (operationId: string, summary: string, type: string) => ({
    get: {
      operationId,
      summary,
      tags: ['Care-team view'],
      responses: {
        '200': { description: 'OK', content: { [type]: { schema: { type: 'string' as const } } } },
        ...errorResponses(['not-found']),
      },
    },
  });
  paths['/care-team/launch'] = {
    get: {
      operationId: 'careTeamLaunch',
      summary:
        'SMART App Launch of the care-team view (EHR launch with `iss` and `launch`, or standalone with `iss`): redirects to the EHR authorization server',
      tags: ['Care-team view'],
      parameters: [
        { name: 'iss', in: 'query', required: true, schema: { type: 'string', format: 'uri' } },
        { name: 'launch', in: 'query', required: false, schema: { type: 'string' } },
      ],
      responses: {
        '302': { description: 'Redirect to the authorization server' },
        '200': { description: 'The launch page', content: { 'text/html': { schema: { type: 'string' } } } },
        ...errorResponses(['invalid-request', 'not-ready']),
      },
    },
  };
  paths['/care-team/'] = page(
    'careTeamView',
    'The care-team view (redirect URL of its SMART registration)',
    'text/html',
  );
  paths['/care-team/index.html'] = page('careTeamViewIndex', 'The care-team view (same page)', 'text/html');
  paths['/care-team/config.json'] = page(
    'careTeamConfig',
    "The view's SMART client settings (client id, scopes)",
    'application/json',
  );
  paths['/care-team/knowledge.json'] = page(
    'careTeamKnowledge',
    'The knowledge the view draws (cutoffs with citations, references, code lists; no patient data)',
    'application/json',
  );
  paths['/care-team/assets/{file}'] = {
    get: {
      ...page('careTeamAsset', "The view's bundled scripts and styles", 'text/javascript').get,
      parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
    },
  };

  // The informaticist's console (src/console/): server-rendered pages behind OpenID Connect sign-in. Every
  // path answers 404 `console-not-configured` when no identity provider is configured.
  const CONSOLE_SESSION = [{ consoleSession: [] }];
  const consoleErrors: ErrorCode[] = ['console-not-configured'];
  const day = (name: string, description: string) => ({
    name,
    in: 'query',
    required: false,
    description,
    schema: { type: 'string' as const, format: 'date' },
  });
  const consolePage = (
    operationId: string,
    summary: string,
    extra: { parameters?: unknown[]; errors?: ErrorCode[]; type?: string } = {},
  ) => ({
    get: {
      operationId,
      summary,
      tags: ['Console'],
      security: CONSOLE_SESSION,
      ...(extra.parameters ? { parameters: extra.parameters } : {}),
      responses: {
        '200': {
          description: 'The page',
          content: { [extra.type ?? 'text/html']: { schema: { type: 'string' as const } } },
        },
        '302': { description: 'No session: redirect to /console/login' },
        ...errorResponses([...consoleErrors, ...(extra.errors ?? [])]),
      },
    },
  });
  const consoleAction = (
    operationId: string,
    summary: string,
    errors: ErrorCode[],
    parameters?: unknown[],
  ) => ({
    post: {
      operationId,
      summary,
      tags: ['Console'],
      security: CONSOLE_SESSION,
      ...(parameters ? { parameters } : {}),
      requestBody: {
        required: true,
        description: "An HTML form carrying `_csrf`, the session's synchronizer token",
        content: {
          'application/x-www-form-urlencoded': {
            schema: {
              type: 'object' as const,
              properties: { _csrf: { type: 'string' as const } },
              required: ['_csrf'],
            },
          },
        },
      },
      responses: {
        '200': {
          description: 'The resulting page',
          content: { 'text/html': { schema: { type: 'string' as const } } },
        },
        '303': { description: 'Done: redirect to the resulting page' },
        ...errorResponses([...consoleErrors, 'unauthorized', 'csrf-invalid', ...errors]),
      },
    },
  });
  paths['/console/'] = consolePage(
    'consoleOverview',
    'Console overview: your role, write-back queue, calibration drift',
  );
  paths['/console/login'] = {
    get: {
      operationId: 'consoleLogin',
      summary:
        'Starts OpenID Connect sign-in (authorization code + PKCE) at the configured identity provider',
      tags: ['Console'],
      parameters: [
        {
          name: 'returnTo',
          in: 'query',
          required: false,
          schema: { type: 'string' },
          description: 'A /console path',
        },
      ],
      responses: {
        '302': { description: 'Redirect to the identity provider' },
        ...errorResponses([...consoleErrors, 'upstream-unavailable']),
      },
    },
  };
  paths['/console/callback'] = {
    get: {
      operationId: 'consoleCallback',
      summary: "The identity provider's redirect back (code, state); starts the console session",
      tags: ['Console'],
      responses: {
        '302': { description: 'Signed in: redirect to the page asked for' },
        '401': { description: 'The answer could not be verified (page)' },
        '403': { description: 'The account has no console role (page)' },
        ...errorResponses([...consoleErrors, 'invalid-request']),
      },
    },
  };
  paths['/console/signed-out'] = {
    get: {
      operationId: 'consoleSignedOut',
      summary: 'Signed-out page',
      tags: ['Console'],
      responses: {
        '200': { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } },
        ...errorResponses(consoleErrors),
      },
    },
  };
  paths['/console/logout'] = consoleAction('consoleLogout', 'Ends the console session', []);
  paths['/console/assets/console.css'] = {
    get: {
      operationId: 'consoleStyles',
      summary: "The console's stylesheet",
      tags: ['Console'],
      responses: {
        '200': { description: 'CSS', content: { 'text/css': { schema: { type: 'string' } } } },
        ...errorResponses(consoleErrors),
      },
    },
  };
  paths['/console/knowledge'] = consolePage(
    'consoleKnowledge',
    'Knowledge in use: file versions, every cutoff with citation and performance, code lists, site overrides',
  );
  const periodParams = [
    day('from', 'First day (UTC), default 27 days before `to`'),
    day('to', 'Last day (UTC, inclusive), default today'),
  ];
  paths['/console/feedback'] = consolePage(
    'consoleFeedback',
    'Cards and feedback per topic and indicator over a period, suggestion acceptance, override reasons, weekly trend',
    { parameters: periodParams, errors: ['invalid-request'] },
  );
  paths['/console/feedback.csv'] = consolePage('consoleFeedbackCsv', 'The same analytics as CSV', {
    parameters: periodParams,
    errors: ['invalid-request'],
    type: 'text/csv',
  });
  paths['/console/audit'] = consolePage(
    'consoleAudit',
    'Audit trail search (patient ids for analysts and administrators only)',
    {
      parameters: [
        day('from', 'First day (UTC)'),
        day('to', 'Last day (UTC, inclusive)'),
        { name: 'service', in: 'query', required: false, schema: { type: 'string' } },
        { name: 'client', in: 'query', required: false, schema: { type: 'string' } },
        {
          name: 'outcome',
          in: 'query',
          required: false,
          schema: { type: 'string', enum: ['cards', 'no-cards', '412', 'errors'] },
        },
        { name: 'page', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
      ],
      errors: ['invalid-request'],
    },
  );
  paths['/console/writeback'] = consolePage(
    'consoleWriteback',
    'The write-back outbox by state (FHIR Observations and DICOM SR)',
  );
  paths['/console/writeback/{item}/retry'] = consoleAction(
    'consoleRetryOutboxItem',
    'Administrators: puts a dead outbox item back in the queue (pending, due now)',
    ['invalid-request', 'forbidden'],
    [{ name: 'item', in: 'path', required: true, schema: { type: 'integer' } }],
  );
  paths['/console/radiology'] = consolePage(
    'consoleRadiology',
    'The radiology worklist (spine MR studies waiting for a VBQ) and the ROI reports the PACS watcher did not measure',
  );
  paths['/console/try'] = {
    ...consolePage('consoleTryForm', 'Try a patient: the form (analysts and administrators)', {
      errors: ['forbidden'],
    }),
    ...consoleAction(
      'consoleTryRun',
      'Try a patient: runs a hook for a test patient and shows the cards, request and response',
      ['invalid-request', 'forbidden', 'not-ready'],
    ),
  };
  paths['/console/clients'] = consolePage(
    'consoleClients',
    'Trusted clients, allowed FHIR servers, key sources and last authentication success/failure',
  );

  return {
    openapi: '3.1.1',
    info: {
      title: 'Spine bone-health CDS',
      version: options.version,
      summary:
        'CDS Hooks service advising a bone-health workup before spine surgery, with MRI VBQ measurement',
      description:
        'Generated from the zod schemas the service validates requests with. Every error is a FHIR ' +
        `OperationOutcome whose \`issue[0].details.coding\` holds a stable code of \`${ERROR_CODE_SYSTEM}\`. ` +
        'Unknown paths answer 404 `not-found`, other methods on a known path 405 `method-not-allowed`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    ...(options.publicBaseUrl ? { servers: [{ url: options.publicBaseUrl.replace(/\/+$/, '') }] } : {}),
    tags: [
      { name: 'CDS Hooks', description: 'CDS Hooks 2.0 discovery, services and feedback' },
      { name: 'Imaging', description: 'VBQ measurement from MRI' },
      { name: 'Operations', description: 'Health and metrics' },
      { name: 'Service', description: 'Start page and these docs' },
      {
        name: 'Console',
        description: "The informaticist's console (browser pages behind OpenID Connect sign-in)",
      },
      { name: 'Care-team view', description: 'The SMART app for the care team' },
    ],
    paths,
    components: {
      schemas: components(named),
      securitySchemes: {
        consoleSession: {
          type: 'apiKey',
          in: 'cookie',
          name: 'sbh_console',
          description:
            'The console session (signed id; the session is server-side), set by OpenID Connect sign-in',
        },
        cdsClientJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'CDS Hooks 2.0 client JWT: signed by a trusted client (CDS_CLIENTS_FILE), `aud` = the URL called, ' +
            'short-lived, unique `jti`.',
        },
      },
    },
  };
}
