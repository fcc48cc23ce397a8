/**
 * Acts as an EHR against a service in demo mode: reads discovery, fills the prefetch from the embedded
 * FHIR server as an EHR would, and sends a signed order-sign request. Used by `npm run demo` and by the
 * end-to-end tests, so what the README promises is what the tests check.
 */
import { randomUUID } from 'node:crypto';
import type { FhirResource } from 'fhir/r4.js';
import { renderTemplate } from '../src/cds/prefetch.js';
import type { CdsCard, CdsServiceDefinition } from '../src/cds/types.js';
import { demoPatients, readDemoSeed } from '../src/demo/seed/index.js';
import { signDemoJwt } from '../src/demo/demo-client.js';

export const DEMO_SERVICE = 'spine-surgery-bone-health';

export class DemoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoError';
  }
}

export interface DemoRun {
  orderCodes: string[];
  cards: CdsCard[];
}

export interface DemoOptions {
  /** The service's base URL (its PUBLIC_BASE_URL). */
  base: string;
  /** The service's DATA_DIR, which holds the demo client's key pair. */
  dataDir: string;
  patientId: string;
  /** Sign a single draft ServiceRequest with this CPT code instead of the demo patient's own draft orders. */
  cpt?: string;
}

/** The draft orders to sign: the demo patient's own, or one ServiceRequest with `cpt`. */
export function demoDraftOrders(patientId: string, cpt?: string): FhirResource[] {
  if (cpt === undefined && demoPatients().some((p) => p.id === patientId)) {
    return readDemoSeed(patientId).draftOrders;
  }
  return [
    {
      resourceType: 'ServiceRequest',
      id: 'demo-order-1',
      status: 'draft',
      intent: 'order',
      subject: { reference: `Patient/${patientId}` },
      code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: cpt ?? '22630' }] },
    },
  ];
}

/** Runs one order-sign call as the demo EHR. Throws DemoError with a readable message on failure. */
export async function runDemoOrderSign(options: DemoOptions): Promise<DemoRun> {
  const base = options.base.replace(/\/+$/, '');
  const signedFetch = async (pathname: string, init: RequestInit = {}): Promise<Response> => {
    const token = await signDemoJwt(options.dataDir, base + pathname);
    return fetch(base + pathname, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
    });
  };

  let discovery: Response;
  try {
    discovery = await signedFetch('/cds-services');
  } catch {
    throw new DemoError(`No service answers at ${base}. Start it first (npm start), or set DEMO_BASE_URL.`);
  }
  if (!discovery.ok) {
    throw new DemoError(
      `Discovery failed with HTTP ${discovery.status}. Is the service running in demo mode (no CDS_CLIENTS_FILE) with the same DATA_DIR?`,
    );
  }
  const { services } = (await discovery.json()) as { services: CdsServiceDefinition[] };
  const service = services.find((s) => s.id === DEMO_SERVICE);
  if (!service) throw new DemoError(`service ${DEMO_SERVICE} is not in the discovery document`);

  const draftOrders = demoDraftOrders(options.patientId, options.cpt);
  const fhirServer = `${base}/demo-fhir`;
  const context = {
    userId: 'Practitioner/demo-surgeon',
    patientId: options.patientId,
    draftOrders: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: draftOrders.map((resource) => ({ resource })),
    },
  };
  // Fill the prefetch as an EHR would, from its own FHIR server.
  const prefetch: Record<string, unknown> = {};
  for (const [key, template] of Object.entries(service.prefetch ?? {})) {
    const query = renderTemplate(template, context);
    if (!query) continue;
    const res = await fetch(`${fhirServer}/${query}`, { headers: { accept: 'application/fhir+json' } });
    prefetch[key] = res.status === 404 ? null : await res.json();
  }
  if (prefetch.patient === null) {
    throw new DemoError(`No demo patient "${options.patientId}". See README, "Demo patients".`);
  }

  const res = await signedFetch(`/cds-services/${DEMO_SERVICE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hook: 'order-sign', hookInstance: randomUUID(), fhirServer, context, prefetch }),
  });
  const body = (await res.json()) as { cards?: CdsCard[] };
  if (!res.ok)
    throw new DemoError(`order-sign failed with HTTP ${res.status}:\n${JSON.stringify(body, null, 2)}`);
  return {
    orderCodes: draftOrders.map(
      (o) => (o as { code?: { coding?: { code?: string }[] } }).code?.coding?.[0]?.code ?? '?',
    ),
    cards: body.cards ?? [],
  };
}
