/** The embedded FHIR R4 server (demo mode and tests): medplum's router and in-memory store, gaps fixed. */
export { createEmbeddedFhirServer } from './server.js';
export type { EmbeddedFhirServer, EmbeddedFhirServerOptions } from './server.js';
export { EmbeddedFhirRepository } from './repository.js';
export type { EmbeddedRepositoryOptions, ValidationIssue, WriteValidator } from './repository.js';
export { buildCapabilityStatement } from './capability.js';
