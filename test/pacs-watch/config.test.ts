/** The radiology loop's environment variables (src/config/config.ts, one block). */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const BASE = {
  DEMO_MODE: 'off',
  FHIR_WRITE_BASE_URL: 'http://fhir.test/fhir',
  DICOM_PATIENT_IDENTIFIER_SYSTEM: 'urn:oid:1.2.3',
  DICOMWEB_BASE_URL: 'http://orthanc.test:8042/dicom-web',
};

describe('radiology loop configuration', () => {
  it('is off by default; PACS_WATCH=on polls every 30 s over QIDO-RS', () => {
    expect(loadConfig(BASE).pacsWatch).toBeUndefined();
    expect(loadConfig({ ...BASE, PACS_WATCH: 'on' }).pacsWatch).toEqual({
      intervalMs: 30_000,
      sweepIntervalMs: 3600_000,
    });
  });

  it('PACS_WATCH_SWEEP_INTERVAL_MS sets the QIDO reconciliation sweep (0 = none, else at least a minute)', () => {
    const at = (v: string) =>
      loadConfig({ ...BASE, PACS_WATCH: 'on', PACS_WATCH_SWEEP_INTERVAL_MS: v }).pacsWatch?.sweepIntervalMs;
    expect(at('600000')).toBe(600_000);
    expect(at('0')).toBe(0);
    expect(() => at('1000')).toThrow(/PACS_WATCH_SWEEP_INTERVAL_MS must be 0 \(no sweep\) or at least 60000/);
    expect(() => at('soon')).toThrow(/PACS_WATCH_SWEEP_INTERVAL_MS must be a whole number/);
  });

  it('PACS_WATCH_ORTHANC=on uses Orthanc’s REST root (DICOMWEB_BASE_URL without /dicom-web)', () => {
    const c = loadConfig({
      ...BASE,
      PACS_WATCH: 'on',
      PACS_WATCH_ORTHANC: 'on',
      PACS_WATCH_INTERVAL_MS: '5000',
    });
    expect(c.pacsWatch).toEqual({
      intervalMs: 5000,
      orthancUrl: 'http://orthanc.test:8042',
      sweepIntervalMs: 3600_000,
    });
  });

  it('refuses a watcher without a PACS or without write-back, and bad values, naming the variable', () => {
    const { DICOMWEB_BASE_URL: _, ...noPacs } = BASE;
    expect(() => loadConfig({ ...noPacs, PACS_WATCH: 'on' })).toThrow(
      /PACS_WATCH=on needs DICOMWEB_BASE_URL/,
    );
    const { FHIR_WRITE_BASE_URL: __, DICOM_PATIENT_IDENTIFIER_SYSTEM: ___, ...noFhir } = BASE;
    expect(() => loadConfig({ ...noFhir, PACS_WATCH: 'on' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, PACS_WATCH: 'yes' })).toThrow(/PACS_WATCH must be on or off/);
    expect(() => loadConfig({ ...BASE, PACS_WATCH_INTERVAL_MS: '10' })).toThrow(/PACS_WATCH_INTERVAL_MS/);
    expect(() => loadConfig({ ...BASE, VIEWER_URL_TEMPLATE: 'http://viewer/' })).toThrow(/StudyInstanceUID/);
    expect(
      loadConfig({
        ...BASE,
        VIEWER_URL_TEMPLATE: 'http://viewer/viewer?StudyInstanceUIDs={StudyInstanceUID}',
      }).viewerUrlTemplate,
    ).toBe('http://viewer/viewer?StudyInstanceUIDs={StudyInstanceUID}');
  });
});
