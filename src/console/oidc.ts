/**
 * OpenID Connect sign-in for the console with `openid-client` (certified relying-party library):
 * discovery of the hospital's identity provider, authorization code flow with PKCE (S256), state and
 * nonce checked on return, ID token validated by the library. Discovery runs on first sign-in (and again
 * after a failure), so the service starts even while the identity provider is unreachable.
 */
import * as client from 'openid-client';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scope: string;
  /** Where the provider sends the browser back (`<public base>/console/callback`). */
  redirectUri: string;
}

/** What the login keeps in the session between the redirect and the callback. */
export interface PendingLogin {
  codeVerifier: string;
  state: string;
  nonce: string;
  returnTo: string;
}

export interface ConsoleOidc {
  /** The provider's authorization URL for a new login, and what to keep until the callback. */
  start(returnTo: string): Promise<{ url: string; pending: PendingLogin }>;
  /** Exchanges the callback's code; returns the ID token claims (validated). Throws on any mismatch. */
  finish(callbackUrl: URL, pending: PendingLogin): Promise<Record<string, unknown>>;
}

export function createConsoleOidc(settings: OidcSettings): ConsoleOidc {
  let configuration: Promise<client.Configuration> | undefined;
  const discover = (): Promise<client.Configuration> => {
    configuration ??= client
      .discovery(
        new URL(settings.issuer),
        settings.clientId,
        settings.clientSecret,
        settings.clientSecret === undefined ? client.None() : undefined,
        // Plain http only for an issuer on loopback (the demo authorization server, a test IdP).
        /^http:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/.test(settings.issuer)
          ? { execute: [client.allowInsecureRequests], timeout: 10 }
          : { timeout: 10 },
      )
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      });
    return configuration;
  };
  return {
    async start(returnTo) {
      const config = await discover();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: settings.redirectUri,
        scope: settings.scope,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url: url.href, pending: { codeVerifier, state, nonce, returnTo } };
    },
    async finish(callbackUrl, pending) {
      const config = await discover();
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new Error('no ID token');
      return { ...claims };
    },
  };
}
