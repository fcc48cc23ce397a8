/**
 * SMART App Launch 2.x, step 1: `/care-team/launch?iss=…[&launch=…]`. With `launch` it is an EHR launch,
 * without it a standalone launch (the `launch` scope is then dropped: the server picks the patient through
 * `launch/patient`). fhirclient discovers the authorization server from `<iss>/.well-known/smart-
 * configuration` and runs the authorization-code flow with PKCE (S256) back to /care-team/.
 */
import FHIR from 'fhirclient';

interface AppConfig {
  clientId: string;
  scope: string;
}

function fail(message: string): void {
  const status = document.getElementById('status');
  if (status) {
    status.textContent = message;
    status.setAttribute('role', 'alert');
  }
}

async function main(): Promise<void> {
  const res = await fetch('config.json', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`the app is not configured (HTTP ${res.status})`);
  const config = (await res.json()) as AppConfig;
  const params = new URLSearchParams(window.location.search);
  const iss = params.get('iss') ?? undefined;
  const launch = params.get('launch') ?? undefined;
  const scope = launch
    ? config.scope
    : config.scope
        .split(' ')
        .filter((s) => s !== 'launch')
        .join(' ');
  await FHIR.oauth2.authorize({
    clientId: config.clientId,
    scope,
    redirectUri: './',
    pkceMode: 'required',
    ...(iss ? { iss } : {}),
    ...(launch ? { launch } : {}),
  });
}

main().catch((err: unknown) => fail(`Could not start: ${(err as Error).message}`));
