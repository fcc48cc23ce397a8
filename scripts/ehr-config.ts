/**
 * The EHR configuration sheet: what an EHR analyst must enter to connect this service, in that EHR's
 * terms. Usage: npm run ehr-config -- --ehr epic|oracle|generic [--base <public url>]
 *
 * Read from the code and the knowledge base the service runs with (service ids, prefetch templates, card
 * topics), so the sheet cannot disagree with what the service answers.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { epicTopicCode, type EhrKind } from '../src/cds/ehr-profiles.js';
import { CARD_TOPIC_SYSTEM, loadKnowledgeBase, type KnowledgeBase } from '../src/knowledge/index.js';
import { createServices } from '../src/services/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_BASE = 'https://cds.hospital.example';
/** Oracle Health's CDS Hooks issuer and JWKS (fhir.cerner.com, Millennium CDS Hooks documentation). */
export const ORACLE_ISS = 'https://cds-hooks.cerner.com';
export const ORACLE_JKU = 'https://authorization.cerner.com/jwk';
/** The care-team view's SMART scopes (SMART App Launch 2; v1 equivalents for EHRs still on STU1). */
export const CARE_TEAM_SCOPES_V2 = 'launch launch/patient openid fhirUser patient/*.rs';
export const CARE_TEAM_SCOPES_V1 = 'launch launch/patient openid fhirUser patient/*.read';

/** Resource types a prefetch template reads (the first path segment), for the scopes the EHR grants. */
function resourceTypes(prefetch: Record<string, string>): string[] {
  return [...new Set(Object.values(prefetch).map((q) => q.split(/[/?]/)[0]!))].sort();
}

export function ehrConfigSheet(ehr: EhrKind, base: string, kb: KnowledgeBase): string {
  const root = base.replace(/\/+$/, '');
  const all = createServices(kb, { careTeamBaseUrl: root });
  // Oracle Health (Millennium) calls patient-view only: the order hooks would never fire there.
  const services = ehr === 'oracle' ? all.filter((s) => s.definition.hook === 'patient-view') : all;
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  const title = { epic: 'Epic', oracle: 'Oracle Health (Millennium)', generic: 'CDS Hooks 2.0 / 3.0 client' }[
    ehr
  ];
  line(`# EHR configuration sheet: ${title}`);
  line(`Service base URL: ${root}`);
  line(
    ehr === 'epic'
      ? 'Discovery: Epic does not read it; every value below is entered by hand in the CDS Hooks service record.'
      : `Discovery: ${root}/cds-services (signed JWT required)`,
  );
  line();
  line('## Services (one per hook)');
  for (const s of services) {
    const d = s.definition;
    line(`- hook ${d.hook} (hookVersion ${d.hookVersion ?? '1.0'})`);
    line(`  service URL:  ${root}/cds-services/${d.id}`);
    line(`  feedback URL: ${root}/cds-services/${d.id}/feedback`);
  }
  if (ehr === 'epic')
    line(
      'Epic: other native triggers reuse patient-view (told apart by the com.epic.cdshooks.request.bpa-trigger-action extension); the feedback URL must match the registration exactly.',
    );
  line();
  line('## Prefetch');
  line(
    ehr === 'epic'
      ? 'Enter each key and query by hand, per service (Epic does not read discovery). Tokens: {{context.patientId}} is the patient FHIR id.'
      : 'Taken from discovery by a conforming client; listed here for review and for manual set-up.',
  );
  for (const s of services) {
    line(`### ${s.definition.id} (${s.definition.hook})`);
    for (const [key, query] of Object.entries(s.definition.prefetch)) line(`- ${key}: ${query}`);
  }
  line();
  line('## Scopes of the fhirAuthorization token (read-only, patient-level)');
  const types = resourceTypes(Object.assign({}, ...services.map((s) => s.definition.prefetch)));
  line(`SMART v2 (CDS Hooks 3.0): ${types.map((t) => `patient/${t}.rs`).join(' ')}`);
  line(`SMART v1 (CDS Hooks 2.0): ${types.map((t) => `patient/${t}.read`).join(' ')}`);
  if (ehr === 'epic')
    line(
      'Epic sends context.draftOrders only when the service record has the unsigned-order scopes: grant them for order-select and order-sign.',
    );
  line();
  line('## JWT trust (EHR -> this service)');
  line('This service verifies the EHR-signed JWT against the JWKS at the jku the client entry allows;');
  line('the EHR needs nothing from us for the JWT (no key of ours to install).');
  if (ehr === 'epic') {
    line(
      '- alg RS384; iss = your Epic FHIR base URL (e.g. https://<host>/interconnect-fhir-oauth/api/FHIR/R4);',
    );
    line('  sub = the CDS Hooks client ID from the Epic service record; aud = the service URL.');
    line(
      '- jku: https://<host>/interconnect-fhir-oauth/api/epic/2019/Security/Open/PublicKeys/<id>/<id> (copy it from',
    );
    line(
      '  a JWT header or from Epic, then list it in "jku" below; tokens whose jku is not listed are refused).',
    );
  } else if (ehr === 'oracle') {
    line(`- iss ${ORACLE_ISS}; jku ${ORACLE_JKU}`);
  } else {
    line(
      '- iss = the issuer your EHR puts in the JWT; jku = its JWKS URL (https), or give its public keys as "jwks".',
    );
    line('- ES384 or RS384 (CDS Hooks); other asymmetric algorithms only if listed in "algorithms".');
  }
  line();
  line('## SMART launch registration of the care-team view');
  line(`- launch URL:   ${root}/care-team/launch`);
  line(`- redirect URL: ${root}/care-team/`);
  line(`- scopes:       ${CARE_TEAM_SCOPES_V2}`);
  line(`  (SMART v1:    ${CARE_TEAM_SCOPES_V1})`);
  if (ehr === 'epic')
    line('Epic shows SMART links only when the app is registered: then set "smartLinks": true.');
  if (ehr === 'oracle')
    line(
      `Oracle Health shows links only from its allowed-links list: add ${root}/ to it and to "allowedLinks".`,
    );
  line();
  line('## Card topics');
  if (ehr === 'epic') {
    line("Epic keeps a user's override only through source.topic.code (<= 100 alphanumeric characters).");
    line('The service sends these codes to Epic clients (stable mapping):');
    line('| our topic code | Epic topic code | meaning |');
    line('| --- | --- | --- |');
    for (const t of kb.cardTopics) line(`| ${t.code} | ${epicTopicCode(t.code)} | ${t.display} |`);
  } else {
    line(`system ${CARD_TOPIC_SYSTEM}`);
    for (const t of kb.cardTopics) line(`- ${t.code}: ${t.display}`);
  }
  line();
  line('## CDS_CLIENTS_FILE entry to add (JSON array member)');
  const entry =
    ehr === 'epic'
      ? {
          iss: 'https://<host>/interconnect-fhir-oauth/api/FHIR/R4',
          jku: ['https://<host>/interconnect-fhir-oauth/api/epic/2019/Security/Open/PublicKeys/<id>/<id>'],
          label: 'Epic',
          ehr: 'epic',
          smartLinks: false,
        }
      : ehr === 'oracle'
        ? {
            iss: ORACLE_ISS,
            jku: [ORACLE_JKU],
            tenants: ['<your Millennium tenant id>'],
            label: 'Oracle Health',
            ehr: 'oracle',
            allowedLinks: [`${root}/`],
            allowCritical: false,
          }
        : {
            iss: 'https://ehr.hospital.example',
            jku: ['https://ehr.hospital.example/.well-known/jwks.json'],
            label: 'EHR',
            ehr: 'generic',
            cdsHooksVersion: '2.0',
          };
  line(JSON.stringify(entry, null, 2));
  if (ehr === 'generic')
    line(
      'A CDS Hooks 3.0 client: "cdsHooksVersion": "3.0", and "actionSelectionBehavior": true only if it documents support.',
    );
  return `${out.join('\n')}\n`;
}

function main(): void {
  const { values } = parseArgs({
    options: { ehr: { type: 'string' }, base: { type: 'string' } },
    strict: true,
  });
  const ehr = values.ehr;
  if (ehr !== 'epic' && ehr !== 'oracle' && ehr !== 'generic') {
    process.stderr.write('usage: npm run ehr-config -- --ehr epic|oracle|generic [--base <public url>]\n');
    process.exit(2);
  }
  const base = values.base ?? DEFAULT_BASE;
  try {
    const url = new URL(base);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol');
  } catch {
    process.stderr.write(`--base must be an http(s) URL, got ${JSON.stringify(base)}\n`);
    process.exit(2);
  }
  const kb = loadKnowledgeBase({ dir: path.join(ROOT, 'cds-services') });
  process.stdout.write(ehrConfigSheet(ehr, base, kb));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
