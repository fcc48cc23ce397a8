import { describe, expect, it } from 'vitest';
import { censorSecrets, createLogger } from '../../src/http/logger.js';

function capture(): { lines: Record<string, unknown>[]; stream: { write(line: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    stream: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  };
}

describe('the logger censors secrets (second line of defence)', () => {
  it('at the top level and two levels down, in what each call logs', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    const logged = {
      authorization: 'Bearer eyJhbGciOi.secret.sig',
      access_token: 'at-1',
      fhirAuthorization: { access_token: 'at-2', token_type: 'Bearer' },
      token: 't',
      jwt: 'j',
      prefetch: { patient: { resourceType: 'Patient', id: 'p-1' } },
      context: { patientId: 'p-1' },
      headers: { authorization: 'Bearer h', accept: 'application/json' },
      req: { headers: { authorization: 'Bearer r' }, method: 'POST' },
      client: { access_token: 'at-3', iss: 'https://ehr.example' },
      route: '/cds-services/:id',
    };
    log.info(logged, 'hook call');
    log.child({ requestId: 'r-1' }).info({ status: 200, token: 'child-secret' }, 'request');
    const text = JSON.stringify(lines);
    for (const secret of [
      'eyJhbGciOi',
      'at-1',
      'at-2',
      'at-3',
      'p-1',
      'Bearer h',
      'Bearer r',
      'child-secret',
    ])
      expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      authorization: '[redacted]',
      access_token: '[redacted]',
      fhirAuthorization: '[redacted]',
      token: '[redacted]',
      jwt: '[redacted]',
      prefetch: '[redacted]',
      context: '[redacted]',
      headers: { authorization: '[redacted]', accept: 'application/json' },
      req: { headers: { authorization: '[redacted]' }, method: 'POST' },
      client: { access_token: '[redacted]', iss: 'https://ehr.example' },
      route: '/cds-services/:id',
      msg: 'hook call',
    });
    expect(lines[1]).toMatchObject({ token: '[redacted]', requestId: 'r-1', status: 200 });
    // The caller's object is left as it was.
    expect(logged.headers.authorization).toBe('Bearer h');
    expect(logged.req.headers.authorization).toBe('Bearer r');
  });

  it('logs a line without secrets as it is, without copying it', () => {
    const line = { method: 'POST', status: 200, err: { name: 'Error', message: 'boom' }, cards: 1 };
    expect(censorSecrets(line)).toBe(line);
    const { lines, stream } = capture();
    createLogger('info', stream).info(line, 'request');
    expect(lines[0]).toMatchObject(line);
  });
});
