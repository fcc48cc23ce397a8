/**
 * Demo mode's pieces, loaded with a dynamic import only when demo mode is on, so that production never
 * loads the embedded FHIR server, Medplum's definitions or the profile validator: the demo CDS client,
 * and the embedded FHIR server (seeded with the demo patients, validating writes against our profiles).
 */
import type { Bundle } from 'fhir/r4.js';
import type { Router } from 'express';
import type { CdsClientInput } from '../config/clients.js';
import type { Logger } from '../http/logger.js';
import { demoClient, demoFhirServers } from './demo-client.js';
import { createEmbeddedFhirServer } from './fhir-server/server.js';
import { getProfileValidator } from './profile-validator/validator.js';
import { demoPatients, readDemoSeed } from './seed/index.js';
import { DEMO_CARE_TEAM_CLIENT_ID, DEMO_CONSOLE_CLIENT_ID } from './auth-server/constants.js';
import { deferredRouter } from '../web/deferred-router.js';

/** The demo patients' records as the demo FHIR server holds them (synthetic data only). */
export function loadDemoSeed(): Bundle[] {
  return demoPatients().map((p) => ({
    resourceType: 'Bundle',
    type: 'collection',
    entry: readDemoSeed(p.id).stored.map((resource) => ({ resource })),
  }));
}

export interface DemoMode {
  client: CdsClientInput;
  mounts: { path: string; router: Router; label: string }[];
  /** The care-team view's client id at the demo authorization server. */
  careTeamClientId: string;
  /** The embedded FHIR server's base URL (the view may be launched against it). */
  fhirBaseUrl: string;
  /** The console's OpenID Connect settings against the demo authorization server. */
  console: { issuer: string; clientId: string };
}

export async function startDemo(options: {
  dataDir: string;
  publicBaseUrl: string;
  port: number;
  logger: Logger;
  careTeamClientId?: string;
}): Promise<DemoMode> {
  const { logger } = options;
  const careTeamClientId = options.careTeamClientId ?? DEMO_CARE_TEAM_CLIENT_ID;
  // The demo SMART authorization server (oidc-provider) in front of the embedded FHIR server, which then
  // holds requests carrying its tokens to them. It starts in the background; early requests wait for it.
  const auth = import('./auth-server/index.js').then((m) =>
    m.createDemoAuthServer({
      publicBaseUrl: options.publicBaseUrl,
      clientId: careTeamClientId,
      // The informaticist's console signs in here with the demo console users (one per role).
      console: { redirectUri: `${options.publicBaseUrl}/console/callback` },
      logger,
      patients: demoPatients().map((p) => ({ id: p.id, label: `${p.id}: ${p.shows}` })),
    }),
  );
  auth.catch((err: unknown) =>
    logger.error({ err: { message: (err as Error).message } }, 'demo authorization server failed'),
  );
  // Writes are validated against our profiles and base R4, as a hospital server would.
  const validator = getProfileValidator();
  const fhir = await createEmbeddedFhirServer({
    seed: loadDemoSeed(),
    validate: (r) => validator.validate(r),
    verifyToken: (token) => auth.then((a) => a.verifyAccessToken(token)),
  });
  options.logger.info(
    { demoFhir: `${options.publicBaseUrl}/demo-fhir` },
    'demo mode: embedded FHIR server and demo client enabled',
  );
  return {
    client: await demoClient(options.dataDir, demoFhirServers(options.publicBaseUrl, options.port)),
    careTeamClientId,
    fhirBaseUrl: `${options.publicBaseUrl}/demo-fhir`,
    console: { issuer: `${options.publicBaseUrl}/demo-auth`, clientId: DEMO_CONSOLE_CLIENT_ID },
    mounts: [
      {
        path: '/demo-auth',
        router: deferredRouter(
          auth.then((a) => a.router),
          'The demo authorization server',
        ),
        label: '/demo-auth/*',
      },
      {
        path: '/demo-fhir/.well-known',
        router: deferredRouter(
          auth.then((a) => a.wellKnownRouter),
          'The demo authorization server',
        ),
        label: '/demo-fhir/.well-known/*',
      },
      { path: '/demo-fhir', router: fhir.router, label: '/demo-fhir/*' },
    ],
  };
}
