/**
 * CDS Hooks 2.0 types of our own (no maintained npm package exists). Request shapes are zod schemas, so
 * the validation at the edge and the TypeScript types can never disagree. Unknown fields and `extension`
 * are tolerated (`.loose()`), as the spec requires.
 */
import { z } from 'zod';
import type { Bundle, Coding, FhirResource, Resource } from 'fhir/r4.js';

const nonEmpty = z.string().min(1);
const uuidLike = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID');

/** A FHIR resource as it arrives in JSON: only `resourceType` is checked at the edge. */
export const resourceSchema = z.object({ resourceType: nonEmpty, id: z.string().optional() }).loose();

export const fhirAuthorizationSchema = z
  .object({
    access_token: nonEmpty,
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().nonnegative(),
    scope: nonEmpty,
    subject: nonEmpty,
    patient: z.string().optional(),
  })
  .loose();

export const bundleSchema = z
  .object({
    resourceType: z.literal('Bundle'),
    entry: z.array(z.object({ resource: resourceSchema.optional() }).loose()).optional(),
  })
  .loose();

const userIdSchema = z
  .string()
  .regex(
    /^(Practitioner|PractitionerRole)\/[A-Za-z0-9\-.]{1,64}$/,
    'must be Practitioner/<id> or PractitionerRole/<id>',
  );
const patientIdSchema = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, 'must be a FHIR id');

export const orderSignContextSchema = z
  .object({
    userId: userIdSchema,
    patientId: patientIdSchema,
    encounterId: z.string().optional(),
    draftOrders: bundleSchema,
  })
  .loose();

export const orderSelectContextSchema = orderSignContextSchema.extend({
  selections: z
    .array(z.string().regex(/^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'must be ResourceType/id'))
    .min(1),
});

const baseRequestShape = {
  hookInstance: uuidLike,
  fhirServer: z.url({ protocol: /^https?$/ }).optional(),
  fhirAuthorization: fhirAuthorizationSchema.optional(),
  prefetch: z.record(z.string(), z.union([resourceSchema, z.null()])).optional(),
};

/** Cross-field rules of the request: fhirServer with fhirAuthorization; `patient` with patient/ scopes. */
function requireFhirServerWithAuthorization(
  req: {
    fhirServer?: string | undefined;
    fhirAuthorization?: { scope: string; patient?: string | undefined };
  },
  ctx: z.core.$RefinementCtx,
): void {
  if (req.fhirAuthorization !== undefined && req.fhirServer === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['fhirServer'],
      message: 'fhirServer is required when fhirAuthorization is present',
    });
  }
  const auth = req.fhirAuthorization;
  if (auth && /(^|\s)patient\//.test(auth.scope) && !auth.patient) {
    ctx.addIssue({
      code: 'custom',
      path: ['fhirAuthorization', 'patient'],
      message: 'patient is required when the granted scopes include patient/ scopes',
    });
  }
}

export const orderSignRequestSchema = z
  .object({ hook: z.literal('order-sign'), context: orderSignContextSchema, ...baseRequestShape })
  .loose()
  .superRefine(requireFhirServerWithAuthorization);

/** patient-view: the user may be a practitioner, the patient or a related person (spec). */
export const patientViewContextSchema = z
  .object({
    userId: z
      .string()
      .regex(
        /^(Practitioner|PractitionerRole|Patient|RelatedPerson)\/[A-Za-z0-9\-.]{1,64}$/,
        'must be Practitioner/, PractitionerRole/, Patient/ or RelatedPerson/<id>',
      ),
    patientId: patientIdSchema,
    encounterId: z.string().optional(),
  })
  .loose();

export const patientViewRequestSchema = z
  .object({ hook: z.literal('patient-view'), context: patientViewContextSchema, ...baseRequestShape })
  .loose()
  .superRefine(requireFhirServerWithAuthorization);

export const orderSelectRequestSchema = z
  .object({ hook: z.literal('order-select'), context: orderSelectContextSchema, ...baseRequestShape })
  .loose()
  .superRefine(requireFhirServerWithAuthorization);

export type FhirAuthorization = z.infer<typeof fhirAuthorizationSchema>;
/** order-sign context after validation (unknown extra fields are kept but not typed). */
export interface OrderSignContext {
  userId: string;
  patientId: string;
  encounterId?: string;
  draftOrders: Bundle;
}
export interface OrderSelectContext extends OrderSignContext {
  selections: string[];
}
export interface PatientViewContext {
  userId: string;
  patientId: string;
  encounterId?: string;
}
export type HookName = 'order-sign' | 'order-select' | 'patient-view';

/** A validated hook request; `context.draftOrders` is typed as a FHIR Bundle after edge validation. */
export interface HookRequest {
  hook: HookName;
  hookInstance: string;
  fhirServer?: string;
  fhirAuthorization?: FhirAuthorization;
  context: OrderSignContext | OrderSelectContext | PatientViewContext;
  prefetch?: Record<string, Resource | null>;
}

/** Prefetch after hydration: every key the service declared, each a resource (usually a Bundle) or null. */
export type HydratedPrefetch = Record<string, FhirResource | null>;

// ---- Feedback --------------------------------------------------------------------------------------
// Explicit limits: everything here is stored, so every string is bounded (a card id is indexed), every
// array capped and the timestamp kept to instants PostgreSQL and JavaScript both represent exactly.

/** Most entries in one feedback call (an EHR batching feedback sends a few dozen at most). */
export const MAX_FEEDBACK_ENTRIES = 100;
const boundedString = (max: number) => z.string().max(max, `must be at most ${max} characters`);
const boundedId = z.string().min(1).max(128, 'must be at most 128 characters');
/** Earliest and latest accepted outcomeTimestamp (years 0000 or 275760 are valid ISO but not storable). */
const EARLIEST_TIMESTAMP = Date.UTC(1900, 0, 1);
const LATEST_TIMESTAMP = Date.UTC(9999, 11, 30);

const feedbackTimestampSchema = z.iso
  .datetime({ offset: true })
  .max(40)
  .superRefine((value, ctx) => {
    const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
    const day = new Date(Date.UTC(y, m - 1, d));
    const t = Date.parse(value);
    if (day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d || !Number.isFinite(t)) {
      ctx.addIssue({ code: 'custom', message: 'is not a calendar date' });
    } else if (t < EARLIEST_TIMESTAMP || t > LATEST_TIMESTAMP) {
      ctx.addIssue({ code: 'custom', message: 'must be between the years 1900 and 9999' });
    }
  });

const codingSchema = z
  .object({
    system: boundedString(1024).optional(),
    code: z.string().min(1).max(256, 'must be at most 256 characters'),
    display: boundedString(1024).optional(),
  })
  .loose();

export const feedbackEntrySchema = z
  .object({
    card: boundedId,
    outcome: z.enum(['accepted', 'overridden']),
    acceptedSuggestions: z
      .array(z.object({ id: boundedId }).loose())
      .max(50, 'must list at most 50 suggestions')
      .optional(),
    overrideReason: z
      .object({ reason: codingSchema.optional(), userComment: boundedString(4000).optional() })
      .loose()
      .optional(),
    outcomeTimestamp: feedbackTimestampSchema,
  })
  .loose()
  .superRefine((entry, ctx) => {
    if (entry.outcome === 'accepted' && (entry.acceptedSuggestions?.length ?? 0) === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['acceptedSuggestions'],
        message: 'required when outcome is accepted',
      });
    }
  });

export const feedbackRequestSchema = z
  .object({
    feedback: z
      .array(feedbackEntrySchema)
      .min(1)
      .max(MAX_FEEDBACK_ENTRIES, `must hold at most ${MAX_FEEDBACK_ENTRIES} entries`),
  })
  .loose();
export type FeedbackEntry = z.infer<typeof feedbackEntrySchema>;

// ---- Responses -------------------------------------------------------------------------------------

export type Indicator = 'info' | 'warning' | 'critical';

export interface CdsAction {
  type: 'create' | 'update' | 'delete';
  description: string;
  resource?: FhirResource;
  resourceId?: string;
}

export interface CdsSuggestion {
  label: string;
  uuid?: string;
  isRecommended?: boolean;
  actions?: CdsAction[];
  /** CDS Hooks 3.0 (STU): only for clients that document support for it. */
  actionSelectionBehavior?: 'all' | 'any' | 'at-most-one';
}

export interface CdsLink {
  label: string;
  url: string;
  type: 'absolute' | 'smart';
  appContext?: string;
}

export interface CdsSource {
  label: string;
  url?: string;
  icon?: string;
  topic?: Coding;
}

export interface CdsCard {
  uuid?: string;
  summary: string;
  detail?: string;
  indicator: Indicator;
  source: CdsSource;
  suggestions?: CdsSuggestion[];
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: Coding[];
  links?: CdsLink[];
}

export interface CdsHookResponse {
  cards: CdsCard[];
  systemActions?: CdsAction[];
}

export interface PrefetchTemplateMap {
  [key: string]: string;
}

export interface CdsServiceDefinition {
  hook: HookName;
  id: string;
  title?: string;
  description: string;
  prefetch?: PrefetchTemplateMap;
  usageRequirements?: string;
  /** CDS Hooks 3.0: the semantic version of the specification implemented (2.0 clients ignore it). */
  version?: string;
  /** CDS Hooks 3.0: the version of the hook definition supported. */
  hookVersion?: string;
}
