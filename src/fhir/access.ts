/**
 * Which FHIR servers the service may read from on behalf of which CDS client. A client that lists
 * `fhirServers` (in CDS_CLIENTS_FILE) is read only from those, wherever they are (loopback and private
 * addresses included: listing is the operator's decision). A client without the list is read only from
 * servers on public addresses: loopback, private, link-local and other non-unicast addresses are refused
 * when connecting, after DNS resolution, so an internal service cannot be reached through a hook's
 * `fhirServer` (the EHR's bearer token would go with it).
 */
import { normaliseFhirServerUrl } from '../config/clients.js';
import {
  createFhirReadClient,
  DEFAULT_FHIR_LIMITS,
  type FhirFetchLimits,
  type FhirReadClient,
} from './client.js';

export interface FhirAccessOptions {
  /** The trusted clients, as configured (URLs are normalised here). */
  clients: readonly { iss: string; fhirServers?: readonly string[] }[];
  limits?: Partial<FhirFetchLimits>;
}

export type FhirServerDecision =
  | { client: FhirReadClient }
  | {
      /** Why nothing may be fetched; fit for the log and the 412's OperationOutcome. */
      refused: string;
    };

export interface FhirAccess {
  readonly limits: FhirFetchLimits;
  /** Decides, before any connection, whether `fhirServer` may be read for client `iss`. */
  open(iss: string | undefined, fhirServer: string, accessToken?: string): FhirServerDecision;
}

export function createFhirAccess(options: FhirAccessOptions): FhirAccess {
  const limits: FhirFetchLimits = { ...DEFAULT_FHIR_LIMITS, ...options.limits };
  const lists = new Map<string, Set<string>>();
  for (const c of options.clients) {
    if (!c.fhirServers) continue;
    const urls = new Set<string>();
    for (const raw of c.fhirServers) {
      const n = normaliseFhirServerUrl(raw);
      if ('error' in n)
        throw new Error(`client ${JSON.stringify(c.iss)}: fhirServers ${JSON.stringify(raw)} ${n.error}`);
      urls.add(n.url);
    }
    lists.set(c.iss, urls);
  }
  return {
    limits,
    open(iss, fhirServer, accessToken) {
      const n = normaliseFhirServerUrl(fhirServer);
      if ('error' in n) return { refused: `fhirServer ${n.error}` };
      const list = iss === undefined ? undefined : lists.get(iss);
      if (list && !list.has(n.url)) {
        return { refused: "fhirServer is not one of the client's fhirServers" };
      }
      return {
        client: createFhirReadClient(n.url, accessToken, {
          maxResponseBytes: limits.maxResponseBytes,
          allowPrivateAddresses: list !== undefined,
        }),
      };
    },
  };
}
