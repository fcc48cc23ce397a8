import { describe, expect, it } from 'vitest';
import { startFhirServer } from '../helpers/fhir-server.js';
import { clientFor, collection, patient } from './fixtures.js';

describe('test helper startFhirServer', () => {
  it('stop() closes listener and kept-alive connections but keeps data; restart() serves it on the same port', async () => {
    const server = await startFhirServer({ seed: [collection([{ resource: patient('p1') }])] });
    const client = clientFor(server.baseUrl);
    const baseUrl = server.baseUrl;
    // fhir-kit-client keeps connections alive: stop() must not wait for them.
    await client.read('Patient', 'p1');
    const created = await client.create(patient('p2'));

    const started = performance.now();
    await server.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(fetch(`${baseUrl}/Patient/p1`)).rejects.toThrow();

    await server.restart();
    expect(server.baseUrl).toBe(baseUrl);
    expect((await client.read('Patient', 'p1')).id).toBe('p1');
    expect((await client.read('Patient', created.id as string)).id).toBe(created.id);
    await server.stop();
    await server.stop(); // idempotent
  });

  it('slow delays every request so client timeouts can be tested; setSlow changes it', async () => {
    const server = await startFhirServer({ seed: [collection([{ resource: patient('p1') }])], slow: 400 });
    try {
      await expect(
        fetch(`${server.baseUrl}/Patient/p1`, { signal: AbortSignal.timeout(100) }),
      ).rejects.toThrow();
      server.setSlow(0);
      const res = await fetch(`${server.baseUrl}/Patient/p1`, { signal: AbortSignal.timeout(1000) });
      expect(res.status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('records the requests it received, with the Authorization header', async () => {
    const server = await startFhirServer({ seed: [collection([{ resource: patient('p1') }])] });
    try {
      const client = clientFor(server.baseUrl);
      client.raw.bearerToken = 'test-token';
      await client.get('Observation?patient=p1&_count=5');
      expect(server.requests).toEqual([
        { method: 'GET', url: '/Observation?patient=p1&_count=5', authorization: 'Bearer test-token' },
      ]);
      server.clearRequests();
      expect(server.requests).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
