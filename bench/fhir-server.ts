/**
 * The FHIR server of the self-fetching benchmark, in its own process (spawned by bench/service.ts): the
 * embedded demo FHIR server (src/demo/fhir-server, via test/helpers/fhir-server.ts) on a free loopback
 * port, holding every demo patient's record. Announces `FHIR-READY {"baseUrl": ...}` on stdout.
 */
import type { Bundle } from 'fhir/r4.js';
import { demoPatients, readDemoSeed } from '../src/demo/seed/index.js';
import { startFhirServer } from '../test/helpers/fhir-server.js';

const seed: Bundle[] = demoPatients().map((p) => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: readDemoSeed(p.id).stored.map((resource) => ({ resource })),
}));
const server = await startFhirServer({ seed });
console.log(`FHIR-READY ${JSON.stringify({ baseUrl: server.baseUrl })}`);
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
