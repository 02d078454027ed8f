import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BearerAuth } from '../../src/admin/auth.js';
import { captureLogger, startAdminFixture, TEST_TOKEN, type AdminFixture } from './fixture.js';

describe('admin authentication', () => {
  let admin: AdminFixture;

  beforeEach(async () => {
    admin = await startAdminFixture();
  });

  afterEach(async () => {
    await admin.close();
  });

  it('healthz needs no token', async () => {
    const response = await fetch(`${admin.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('healthz rejects other methods', async () => {
    const response = await fetch(`${admin.url}/healthz`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('rejects a request without a token', async () => {
    const response = await fetch(`${admin.url}/api/events`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unauthorized');
    expect(body.error.message).toContain('Authorization: Bearer');
  });

  it('rejects a wrong token of the same length', async () => {
    const wrong = `${TEST_TOKEN.slice(0, -1)}X`;
    const response = await fetch(`${admin.url}/api/events`, { headers: { Authorization: `Bearer ${wrong}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('rejects a wrong token of another length', async () => {
    for (const wrong of ['short', `${TEST_TOKEN}extra`, '']) {
      const response = await fetch(`${admin.url}/api/events`, { headers: { Authorization: `Bearer ${wrong}` } });
      expect(response.status, `token "${wrong}"`).toBe(401);
    }
  });

  it('rejects a token sent with another scheme', async () => {
    const response = await fetch(`${admin.url}/api/events`, { headers: { Authorization: `Basic ${TEST_TOKEN}` } });
    expect(response.status).toBe(401);
  });

  it('accepts the token with any case of Bearer', async () => {
    const response = await fetch(`${admin.url}/api/events`, { headers: { Authorization: `bearer ${TEST_TOKEN}` } });
    expect(response.status).toBe(200);
  });

  it('hides unknown routes from clients without a token', async () => {
    const response = await fetch(`${admin.url}/api/nothing-here`);
    expect(response.status).toBe(401);
  });

  it('sends no CORS headers', async () => {
    const response = await fetch(`${admin.url}/api/events`, {
      headers: { Authorization: `Bearer ${TEST_TOKEN}`, Origin: 'http://evil.example' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await fetch(`${admin.url}/api/events`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' },
    });
    expect(preflight.status).toBe(401);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('warns once per client per minute on rejections', async () => {
    for (let i = 0; i < 3; i += 1) {
      await fetch(`${admin.url}/api/events`, { headers: { Authorization: 'Bearer wrong-token' } });
    }
    const warnings = admin.logs.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.ip).toBe('127.0.0.1');
    expect(warnings[0]?.failure).toBe('invalid');
  });

  it('logs each request without the token', async () => {
    await fetch(`${admin.url}/api/events?limit=5`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    const lines = admin.logs.filter((line) => line.msg === 'admin request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 20, method: 'GET', path: '/api/events', status: 200 });
    expect(typeof lines[0]?.ms).toBe('number');
    expect(JSON.stringify(admin.logs)).not.toContain(TEST_TOKEN);
  });
});

describe('BearerAuth warnings', () => {
  it('reports left-out rejections after a minute', () => {
    const { logger, logs } = captureLogger();
    let now = 1_000_000;
    const auth = new BearerAuth(TEST_TOKEN, logger, () => now);

    auth.reportFailure('10.0.0.1', 'invalid', 'GET', '/api/events');
    auth.reportFailure('10.0.0.1', 'invalid', 'GET', '/api/events');
    auth.reportFailure('10.0.0.1', 'missing', 'GET', '/api/queue');
    auth.reportFailure('10.0.0.2', 'missing', 'GET', '/api/queue');
    expect(logs.map((line) => line.ip)).toEqual(['10.0.0.1', '10.0.0.2']);

    now += 60_000;
    auth.reportFailure('10.0.0.1', 'invalid', 'GET', '/api/events');
    expect(logs).toHaveLength(3);
    expect(logs[2]?.suppressedSinceLastWarning).toBe(2);
  });

  it('check tells missing from invalid', () => {
    const auth = new BearerAuth(TEST_TOKEN, captureLogger().logger);

    expect(auth.check(undefined)).toBe('missing');
    expect(auth.check('Token abc')).toBe('missing');
    expect(auth.check('Bearer nope')).toBe('invalid');
    expect(auth.check(`Bearer ${TEST_TOKEN}`)).toBeNull();
  });
});
