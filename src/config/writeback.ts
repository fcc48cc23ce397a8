/**
 * Environment variables of the FHIR write-back, shared by the service configuration and the `vbq` CLI so
 * both read the same variables the same way. Configuration only: building the authentication from these
 * settings is the write-back's job (src/writeback/fhir-auth.ts).
 */
import { readFileSync } from 'node:fs';

/** SMART Backend Services client settings (the private key as text, never a path). */
export interface SmartSettings {
  tokenUrl: string;
  clientId: string;
  /** PEM or JWK text of the private key (the content of FHIR_WRITE_PRIVATE_KEY_FILE). */
  privateKey: string;
  kid?: string;
  scope?: string;
}

/** Whether a value is an http(s) URL (the only schemes the write-back and DICOMweb clients speak). */
export function isHttpUrl(value: string): boolean {
  return URL.canParse(value) && /^https?:$/.test(new URL(value).protocol);
}

/**
 * SMART Backend Services settings from the environment: FHIR_WRITE_TOKEN_URL, FHIR_WRITE_CLIENT_ID and
 * FHIR_WRITE_PRIVATE_KEY_FILE (PEM or JWK) together, optionally FHIR_WRITE_KEY_ID and FHIR_WRITE_SCOPE.
 * Returns undefined when none is set; throws naming what is missing when only some are.
 */
export function smartSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): SmartSettings | undefined {
  const tokenUrl = env.FHIR_WRITE_TOKEN_URL || undefined;
  const clientId = env.FHIR_WRITE_CLIENT_ID || undefined;
  const keyFile = env.FHIR_WRITE_PRIVATE_KEY_FILE || undefined;
  if (!tokenUrl && !clientId && !keyFile) return undefined;
  const missing = [
    !tokenUrl && 'FHIR_WRITE_TOKEN_URL',
    !clientId && 'FHIR_WRITE_CLIENT_ID',
    !keyFile && 'FHIR_WRITE_PRIVATE_KEY_FILE',
  ].filter(Boolean);
  if (missing.length > 0) throw new Error(`SMART Backend Services needs ${missing.join(', ')} as well`);
  if (!isHttpUrl(tokenUrl as string)) throw new Error('FHIR_WRITE_TOKEN_URL must be an http(s) URL');
  let privateKey: string;
  try {
    privateKey = readFile(keyFile as string);
  } catch (err) {
    throw new Error(
      `cannot read FHIR_WRITE_PRIVATE_KEY_FILE (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return {
    tokenUrl: tokenUrl as string,
    clientId: clientId as string,
    privateKey,
    ...(env.FHIR_WRITE_KEY_ID ? { kid: env.FHIR_WRITE_KEY_ID } : {}),
    ...(env.FHIR_WRITE_SCOPE ? { scope: env.FHIR_WRITE_SCOPE } : {}),
  };
}
