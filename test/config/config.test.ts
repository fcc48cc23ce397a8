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
});
