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
}

export async function startDemo(options: {
  dataDir: string;
  publicBaseUrl: string;
  port: number;
  logger: Logger;
}): Promise<DemoMode> {
  // Writes are validated against our profiles and base R4, as a hospital server would.
  const validator = getProfileValidator();
  const fhir = await createEmbeddedFhirServer({
    seed: loadDemoSeed(),
    validate: (r) => validator.validate(r),
  });
  options.logger.info(
    { demoFhir: `${options.publicBaseUrl}/demo-fhir` },
    'demo mode: embedded FHIR server and demo client enabled',
  );
  return {
    client: await demoClient(options.dataDir, demoFhirServers(options.publicBaseUrl, options.port)),
    mounts: [{ path: '/demo-fhir', router: fhir.router, label: '/demo-fhir/*' }],
  };
}
