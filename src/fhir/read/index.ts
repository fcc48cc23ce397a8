/** Tolerant reading of received FHIR: datatypes, resources, bundles, prefetch and request problems. */
export * from './primitives.js';
export * from './resources.js';
export * from './bundle.js';
export * from './problems.js';
