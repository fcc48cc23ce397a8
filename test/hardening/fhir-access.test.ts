/** Issue 9: `fhirServers` in CDS_CLIENTS_FILE is normalised like `jku` and decides before any fetch. */
import { describe, expect, it } from 'vitest';
import { ClientsConfigError, parseClients } from '../../src/config/clients.js';
import { createFhirAccess } from '../../src/fhir/access.js';
import { expectedAnswer } from '../../src/fhir/client.js';

const jwks = { keys: [{ kty: 'EC', crv: 'P-384', kid: 'k1', x: 'x', y: 'y' }] };

describe('fhirServers', () => {
  it('is normalised by URL: case, default port, IP spellings, trailing slash', () => {
    const [client] = parseClients(
      [
        {
          iss: 'urn:ehr',
          jwks,
          fhirServers: [
            'HTTPS://FHIR.Example.org:443/R4/',
            'http://2130706433:8080/fhir',
            'http://0x7f.1/fhir//',
          ],
        },
      ],
      'test',
    );
    expect(client?.fhirServers).toEqual([
      'https://fhir.example.org/R4',
      'http://127.0.0.1:8080/fhir',
      'http://127.0.0.1/fhir',
    ]);
  });

  it('refuses credentials, queries, fragments and non-http schemes, naming the entry', () => {
    for (const bad of [
      'ftp://x/fhir',
      'https://u:p@x/fhir',
      'https://x/fhir?a=1',
      'https://x/fhir#f',
      'fhir',
    ]) {
      expect(() => parseClients([{ iss: 'urn:ehr', jwks, fhirServers: [bad] }], 'clients.json')).toThrow(
        ClientsConfigError,
      );
    }
    expect(() => parseClients([{ iss: 'urn:ehr', jwks, fhirServers: [] }], 'clients.json')).toThrow(
      /entry 0 \(iss "urn:ehr"\): fhirServers/,
    );
  });

  it('a listed client is read only from its servers, matched by URL not spelling', () => {
    const access = createFhirAccess({ clients: [{ iss: 'a', fhirServers: ['http://127.0.0.1:8080/fhir'] }] });
    expect('client' in access.open('a', 'http://2130706433:8080/fhir/')).toBe(true);
    expect(access.open('a', 'http://127.0.0.1:8081/fhir')).toEqual({
      refused: "fhirServer is not one of the client's fhirServers",
    });
    // A client without a list gets a client (public addresses only, enforced when connecting).
    expect('client' in access.open('b', 'https://fhir.example.org/R4')).toBe(true);
    expect(access.open('b', 'ftp://x')).toEqual({ refused: 'fhirServer must use http or https' });
  });

  it('knows what a query asks for', () => {
    expect(expectedAnswer('Patient/p1')).toEqual({ read: 'Patient' });
    expect(expectedAnswer('Observation?patient=p1')).toEqual({ search: true });
    expect(expectedAnswer('Condition')).toEqual({ search: true });
    expect(expectedAnswer('https://fhir.example.org/R4/Condition?page=2')).toEqual({ search: true });
  });
});
