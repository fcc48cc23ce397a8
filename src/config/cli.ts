/**
 * Configuration of the `vbq` command line from the environment: the same write-back variables as the
 * service (FHIR_WRITE_BASE_URL, FHIR_WRITE_TOKEN or the SMART Backend Services set,
 * DICOM_PATIENT_IDENTIFIER_SYSTEM) and DICOM_DEFAULT_TIMEZONE, validated before any work is done.
 */
import { ConfigError } from './config.js';
import { isHttpUrl, smartSettingsFromEnv, type SmartSettings } from './writeback.js';

const OFFSET = /^(Z|[+-]\d{2}:\d{2})$/;

export interface CliFhirWriteConfig {
  /** FHIR base URL without trailing slash. */
  baseUrl: string;
  token?: string;
  smart?: SmartSettings;
  /** Identifier system of the DICOM PatientID on FHIR Patients; needed unless --patient names the Patient. */
  patientIdentifierSystem?: string;
}

export interface CliConfig {
  /** Present when FHIR_WRITE_BASE_URL is set. */
  fhirWrite?: CliFhirWriteConfig;
  /** DICOM_DEFAULT_TIMEZONE: UTC offset for DICOM times that carry none (the --timezone default). */
  defaultTimezone?: string;
}

const invalid = (problems: string[]): ConfigError =>
  new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);

/**
 * Reads the CLI's variables (empty values count as unset). The write-back variables are read and checked
 * only when `writeBack` is on (`--write`): unused, they do not stop a measurement. Throws one ConfigError
 * that lists every problem, naming the variable at fault.
 */
export function loadCliConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: { writeBack: boolean; readFile?: (file: string) => string } = { writeBack: true },
): CliConfig {
  const v = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const defaultTimezone = v('DICOM_DEFAULT_TIMEZONE');
  if (defaultTimezone !== undefined && !OFFSET.test(defaultTimezone)) {
    throw invalid(['DICOM_DEFAULT_TIMEZONE must be Z or a UTC offset such as +01:00']);
  }
  const config: CliConfig = defaultTimezone ? { defaultTimezone } : {};
  if (!opts.writeBack) return config;

  const problems: string[] = [];
  const baseUrl = v('FHIR_WRITE_BASE_URL');
  const token = v('FHIR_WRITE_TOKEN');
  const patientIdentifierSystem = v('DICOM_PATIENT_IDENTIFIER_SYSTEM');
  if (baseUrl !== undefined && !isHttpUrl(baseUrl))
    problems.push('FHIR_WRITE_BASE_URL must be an http(s) URL');
  let smart: SmartSettings | undefined;
  try {
    smart = smartSettingsFromEnv(env, opts.readFile);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (token && smart) {
    problems.push(
      'set either FHIR_WRITE_TOKEN or the SMART Backend Services variables (FHIR_WRITE_TOKEN_URL...), not both',
    );
  }
  if ((token || smart) && baseUrl === undefined) {
    problems.push('FHIR write-back credentials are set but FHIR_WRITE_BASE_URL is not');
  }
  if (problems.length > 0) throw invalid(problems);
  if (baseUrl !== undefined) {
    config.fhirWrite = {
      baseUrl: baseUrl.replace(/\/+$/, ''),
      ...(token ? { token } : {}),
      ...(smart ? { smart } : {}),
      ...(patientIdentifierSystem ? { patientIdentifierSystem } : {}),
    };
  }
  return config;
}
