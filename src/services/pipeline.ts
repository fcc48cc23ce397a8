/**
 * THE hook pipeline, in one place: validate -> plan from the request alone (relevant orders found once)
 * -> hydrate the prefetch -> 412 when a required key cannot be had -> evaluate -> cross-hook dedupe ->
 * audit. The router (src/cds/router.ts) only adapts HTTP to it. The clock is read once per call.
 */
import { checkRequestStructure, hydratePrefetch, type HydrationOptions } from '../cds/prefetch.js';
import { ehrProfile, shapeCards, type EhrProfile } from '../cds/ehr-profiles.js';
import { describeIssues, type HookEndpoint, type RequestClient } from '../cds/router.js';
import type { CdsCard, HookRequest, HydratedPrefetch } from '../cds/types.js';
import { AppError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { CallLog } from '../http/middleware.js';
import type { Metrics } from '../http/metrics.js';
import type { AuditRow } from '../store/store.js';
import type { CdsService, Evaluation } from './service.js';

const GENERIC = ehrProfile();

/** How long card ids are remembered per hookInstance for cross-hook deduplication. */
const CARD_DEDUP_TTL_MS = 24 * 60 * 60 * 1000;

/** Cross-hook card deduplication (in memory on a single instance, in the database for replicas). */
export interface CardClaims {
  /** Records the cards `hook` shows; resolves the uuids a *different* hook of the instance already showed. */
  claimCards(hookInstance: string, hook: string, cardUuids: string[], expiresAt: Date): Promise<Set<string>>;
}

/** Cards already shown to a patient's chart by a service (patient-view), shared by replicas. */
export interface Reminders {
  /** Records the cards; resolves the uuids already shown to this patient by this service and not expired. */
  claimReminders(
    serviceId: string,
    patientId: string,
    cardUuids: string[],
    now: Date,
    expiresAt: Date,
  ): Promise<Set<string>>;
}

/** Where audit rows go: off the request path, written in batches. */
export interface AuditSink {
  record(row: AuditRow): void;
}

export interface HookPipelineDeps {
  /** The EHR profile of an authenticated client (generic when unknown). */
  profileOf?: (iss: string) => EhrProfile;
  cardClaims: CardClaims;
  reminders: Reminders;
  audit: AuditSink;
  logger: Logger;
  metrics: Metrics;
  fhirTimeoutMs: number;
  now: () => Date;
  clientFactory?: HydrationOptions['clientFactory'];
  /** Which FHIR servers each client may name, and the fetch limits (SSRF guard). */
  fhirAccess?: HydrationOptions['access'];
}

interface Outcome {
  outcome: 'cards' | 'no-cards' | 'not-triggered';
  cards: CdsCard[];
  suppressed: number;
  fetched: number;
}

/** Builds the HTTP-facing endpoint of each service around the one pipeline. */
export function createHookPipeline(services: CdsService[], deps: HookPipelineDeps): HookEndpoint[] {
  return services.map((service) => ({
    definition: service.definition,
    handle: (body, client, call) => run(service, body, client, deps, call),
  }));
}

async function run(
  service: CdsService,
  body: unknown,
  client: RequestClient,
  deps: HookPipelineDeps,
  call: CallLog | undefined,
): Promise<CdsCard[]> {
  const parsed = service.requestSchema.safeParse(body);
  if (!parsed.success) {
    throw new AppError(
      'invalid-request',
      `Invalid ${service.definition.hook} request`,
      describeIssues(parsed.error),
    );
  }
  const request = parsed.data as HookRequest;
  // Malformed FHIR inside draftOrders or prefetch is a 400 naming the path, before any reader sees it.
  checkRequestStructure(request);
  const started = process.hrtime.bigint();
  const now = deps.now();
  const log = call?.log ?? deps.logger;
  let result: Outcome | undefined;
  let errorCode: string | undefined;
  try {
    result = await evaluate(service, request, client, now, deps, log);
    // What the client's EHR can take (topic codes, one action per suggestion, links, indicator ceiling).
    result.cards = shapeCards(result.cards, deps.profileOf?.(client.iss) ?? GENERIC);
    for (const card of result.cards)
      deps.metrics.cards.inc({ service: service.definition.id, indicator: card.indicator });
    return result.cards;
  } catch (err) {
    errorCode = err instanceof AppError ? err.code : 'error';
    throw err;
  } finally {
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    const outcome = result?.outcome ?? errorCode ?? 'error';
    const cardIds = (result?.cards ?? []).flatMap((c) => (c.uuid ? [c.uuid] : []));
    deps.audit.record({
      at: now,
      serviceId: service.definition.id,
      hookInstance: request.hookInstance,
      clientIss: client.iss,
      patientId: request.context.patientId,
      outcome,
      cardIds,
      durationMs,
    });
    // One line per hook call, never patient data: the patient id stays in the audit table. Over HTTP the
    // summary joins the request's own line (status, route, request id); otherwise it is a line of its own.
    const summary = {
      cdsService: service.definition.id,
      hookInstance: request.hookInstance,
      client: client.iss,
      outcome,
      cards: cardIds.length,
      ...(result ? { fetched: result.fetched, suppressed: result.suppressed } : {}),
      evaluationMs: Math.round(durationMs * 10) / 10,
    };
    if (call) call.annotate(summary, 'hook call');
    else log.info(summary, 'hook call');
  }
}

async function evaluate(
  service: CdsService,
  request: HookRequest,
  client: RequestClient,
  now: Date,
  deps: HookPipelineDeps,
  log: Logger,
): Promise<Outcome> {
  const plan = service.plan(request);
  const nothing: Outcome = { outcome: 'not-triggered', cards: [], suppressed: 0, fetched: 0 };
  if (plan === undefined) return nothing;
  const templates = service.definition.prefetch;
  const hydrate = async (keys: readonly string[]) => {
    const subset = Object.fromEntries(keys.filter((k) => k in templates).map((k) => [k, templates[k]!]));
    const hydration = await hydratePrefetch(request, subset, {
      timeoutMs: deps.fhirTimeoutMs,
      clientFactory: deps.clientFactory,
      access: deps.fhirAccess,
      clientIss: client.iss,
      onFailure: (f) =>
        log.info(
          { cdsService: service.definition.id, prefetchKey: f.key, reason: f.reason },
          'prefetch key unavailable',
        ),
      onFetch: (key, outcome, seconds) => deps.metrics.fhirFetchDuration.observe({ key, outcome }, seconds),
    });
    const needed = hydration.failures.filter((f) => service.requiredPrefetch.includes(f.key));
    if (needed.length > 0) {
      log.warn({ cdsService: service.definition.id, keys: needed.map((f) => f.key) }, 'prefetch unavailable');
      throw new AppError(
        'prefetch-unavailable',
        `Prefetch data the service needs could not be obtained: ${needed.map((f) => f.key).join(', ')}`,
        needed.map((f) => `${f.key}: ${f.reason}`),
      );
    }
    return hydration;
  };

  let evaluation: Evaluation;
  let prefetch: HydratedPrefetch;
  let fetched: number;
  if (typeof plan === 'function') {
    const all = await hydrate(Object.keys(templates));
    evaluation = plan;
    prefetch = all.prefetch;
    fetched = all.fetched.length;
  } else {
    // Staged: the first keys decide whether there is anything to do before the rest is fetched.
    const first = await hydrate(plan.keys);
    const next = plan.next(first.prefetch, now);
    if (next === undefined) return { ...nothing, fetched: first.fetched.length };
    const rest = await hydrate(Object.keys(templates).filter((k) => !plan.keys.includes(k)));
    evaluation = next;
    prefetch = { ...first.prefetch, ...rest.prefetch };
    fetched = first.fetched.length + rest.fetched.length;
  }

  const cards = evaluation({ prefetch, now });
  const uuids = cards.flatMap((c) => (c.uuid ? [c.uuid] : []));
  // A claim matters only when there is a card another hook of the same instance could have shown.
  if (uuids.length === 0) return { outcome: 'no-cards', cards: [], suppressed: 0, fetched };
  const suppressed =
    service.repeatWindowMs !== undefined
      ? await deps.reminders.claimReminders(
          service.definition.id,
          request.context.patientId,
          uuids,
          now,
          new Date(now.getTime() + service.repeatWindowMs),
        )
      : await deps.cardClaims.claimCards(
          request.hookInstance,
          request.hook,
          uuids,
          new Date(now.getTime() + CARD_DEDUP_TTL_MS),
        );
  const shown = suppressed.size === 0 ? cards : cards.filter((c) => !c.uuid || !suppressed.has(c.uuid));
  return {
    outcome: shown.length > 0 ? 'cards' : 'no-cards',
    cards: shown,
    suppressed: suppressed.size,
    fetched,
  };
}
