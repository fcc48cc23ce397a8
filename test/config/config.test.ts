import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration from the environment', () => {
  it('defaults: port 3000, public base from the port, demo mode without CDS_CLIENTS_FILE, 2 s FHIR timeout', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      publicBaseUrl: 'http://localhost:3000',
      demo: true,
      production: false,
      fhirTimeoutMs: 2000,
      logLevel: 'info',
      maxRequestBytes: 5 * 1024 * 1024,
    });
    expect(c.dataDir).toMatch(/\/data$/);
  });

  it('hardening defaults (issue 9): FHIR fetch limits, per-client limits, database start-up wait', () => {
    expect(loadConfig({})).toMatchObject({
      fhirLimits: { maxResponseBytes: 10 * 1024 * 1024, maxEntries: 5000, maxPages: 20 },
      clientLimits: { requests: 600, windowSeconds: 60, maxConcurrent: 32 },
      databaseStartupTimeoutMs: 30_000,
    });
    expect(
      loadConfig({ CLIENT_RATE_LIMIT: '0', CLIENT_MAX_CONCURRENT: '0', FHIR_MAX_PAGES: '3' }),
    ).toMatchObject({ clientLimits: { requests: 0, maxConcurrent: 0 }, fhirLimits: { maxPages: 3 } });
  });

  it('HELPER_THREAD_NICE: 10 by default, 0 turns it off, outside 0 to 19 is refused', () => {
    expect(loadConfig({}).helperThreadNice).toBe(10);
    expect(loadConfig({ HELPER_THREAD_NICE: '0' }).helperThreadNice).toBe(0);
    expect(() => loadConfig({ HELPER_THREAD_NICE: '20' })).toThrow(/HELPER_THREAD_NICE/);
    expect(() => loadConfig({ HELPER_THREAD_NICE: '-1' })).toThrow(/HELPER_THREAD_NICE/);
  });

  it('PUBLIC_BASE_URL is used without a trailing slash (JWT aud = base + path)', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://cds.example.org/bone/' }).publicBaseUrl).toBe(
      'https://cds.example.org/bone',
    );
  });

  it('a CDS_CLIENTS_FILE turns demo mode off', () => {
    expect(loadConfig({ CDS_CLIENTS_FILE: '/etc/clients.json' }).demo).toBe(false);
  });

  it('NODE_ENV=production refuses to start without CDS_CLIENTS_FILE', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/CDS_CLIENTS_FILE is required/);
  });

  it.each([
    ['PORT', 'abc', /PORT must be a whole number/],
    ['PORT', '70000', /PORT must be between/],
    ['FHIR_TIMEOUT_MS', '5', /FHIR_TIMEOUT_MS must be between/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['PUBLIC_BASE_URL', 'not a url', /PUBLIC_BASE_URL must be an http\(s\) URL/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a postgres:\/\/ URL/],
    ['DEMO_MODE', 'maybe', /DEMO_MODE must be auto, on or off/],
    ['FHIR_MAX_RESPONSE_BYTES', '10', /FHIR_MAX_RESPONSE_BYTES must be between/],
    ['FHIR_MAX_ENTRIES_PER_KEY', '0', /FHIR_MAX_ENTRIES_PER_KEY must be between/],
    ['FHIR_MAX_PAGES', 'many', /FHIR_MAX_PAGES must be a whole number/],
    ['CLIENT_RATE_LIMIT', '-1', /CLIENT_RATE_LIMIT must be a whole number/],
    ['CLIENT_RATE_WINDOW_SECONDS', '0', /CLIENT_RATE_WINDOW_SECONDS must be between/],
    ['CLIENT_MAX_CONCURRENT', '1.5', /CLIENT_MAX_CONCURRENT must be a whole number/],
    ['DATABASE_STARTUP_TIMEOUT_MS', 'soon', /DATABASE_STARTUP_TIMEOUT_MS must be a whole number/],
  ])('bad %s=%s is a ConfigError naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('every bad variable is reported at once', () => {
    try {
      loadConfig({ PORT: 'x', LOG_LEVEL: 'y' });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT[\s\S]*LOG_LEVEL/);
    }
  });

  it.each(['PORT', 'HOST'])('%s set but empty is a ConfigError naming it, not the default', (name) => {
    expect(() => loadConfig({ [name]: '' })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: '' })).toThrow(new RegExp(`${name}: ${name} is set but empty`));
    expect(() => loadConfig({ [name]: '  ' })).toThrow(new RegExp(`${name} is set but empty`));
  });

  it('demo mode listens on loopback unless HOST says otherwise; service mode on every interface', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ CDS_CLIENTS_FILE: '/etc/clients.json' }).host).toBe('0.0.0.0');
    expect(loadConfig({ CDS_CLIENTS_FILE: '/etc/clients.json', DEMO_MODE: 'on' }).host).toBe('127.0.0.1');
  });

  it('schema errors and cross-variable rules are listed together, one line each', () => {
    try {
      loadConfig({
        PORT: '',
        LOG_LEVEL: 'loud',
        NODE_ENV: 'production',
        FHIR_WRITE_BASE_URL: 'https://fhir.example.org',
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const lines = (err as Error).message.split('\n').slice(1);
      expect(lines).toHaveLength(4);
      expect(lines.join('\n')).toMatch(/PORT[\s\S]*LOG_LEVEL[\s\S]*CDS_CLIENTS_FILE[\s\S]*DICOM_PATIENT/);
    }
  });

  describe('write-back', () => {
    const base = {
      FHIR_WRITE_BASE_URL: 'https://fhir.example.org/r4/',
      DICOM_PATIENT_IDENTIFIER_SYSTEM: 'urn:oid:1.2.3',
    };

    it('a static token: base URL without trailing slash, the PatientID system, default poll', () => {
      expect(loadConfig({ ...base, FHIR_WRITE_TOKEN: 't' }).fhirWrite).toEqual({
        baseUrl: 'https://fhir.example.org/r4',
        token: 't',
        smart: undefined,
        patientIdentifierSystem: 'urn:oid:1.2.3',
        outboxPollMs: 1000,
      });
    });

    it('DICOM_PATIENT_IDENTIFIER_SYSTEM is required with FHIR_WRITE_BASE_URL', () => {
      expect(() => loadConfig({ FHIR_WRITE_BASE_URL: 'https://fhir.example.org' })).toThrow(
        /DICOM_PATIENT_IDENTIFIER_SYSTEM is required/,
      );
    });

    it('credentials without FHIR_WRITE_BASE_URL are refused', () => {
      expect(() => loadConfig({ FHIR_WRITE_TOKEN: 't' })).toThrow(/FHIR_WRITE_BASE_URL is not/);
    });

    it('SMART Backend Services needs all three variables', () => {
      expect(() => loadConfig({ ...base, FHIR_WRITE_TOKEN_URL: 'https://auth.example.org/token' })).toThrow(
        /FHIR_WRITE_CLIENT_ID, FHIR_WRITE_PRIVATE_KEY_FILE/,
      );
    });

    it('an unreadable SMART key file is a ConfigError', () => {
      expect(() =>
        loadConfig({
          ...base,
          FHIR_WRITE_TOKEN_URL: 'https://auth.example.org/token',
          FHIR_WRITE_CLIENT_ID: 'cds',
          FHIR_WRITE_PRIVATE_KEY_FILE: '/nonexistent/key.pem',
        }),
      ).toThrow(ConfigError);
    });
  });
});
