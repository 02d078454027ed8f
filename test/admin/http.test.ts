import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../src/admin/errors.js';
import { MAX_BODY_BYTES } from '../../src/admin/http.js';
import { startAdminFixture, TEST_TOKEN, type AdminFixture } from './fixture.js';

const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

/** Sends a request with node:http so the test controls framing (chunked or not). */
function rawRequest(
  url: string,
  options: { method: string; headers: Record<string, string>; chunks: Buffer[] },
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method, headers: options.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    for (const chunk of options.chunks) {
      req.write(chunk);
    }
    req.end();
  });
}

describe('admin HTTP handling', () => {
  let admin: AdminFixture;

  beforeEach(async () => {
    admin = await startAdminFixture();
  });

  afterEach(async () => {
    await admin.close();
  });

  it('unknown route returns 404', async () => {
    const response = await fetch(`${admin.url}/api/unknown`, { headers: auth });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('trailing slash is a different route', async () => {
    const response = await fetch(`${admin.url}/api/events/`, { headers: auth });
    expect(response.status).toBe(404);
  });

  it('wrong method returns 405 with Allow', async () => {
    const response = await fetch(`${admin.url}/api/events`, { method: 'DELETE', headers: auth });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('body over the limit with Content-Length returns 413', async () => {
    const body = JSON.stringify({ reason: 'x', note: 'n'.repeat(MAX_BODY_BYTES) });
    const response = await rawRequest(`${admin.url}/api/suppressions/user%40example.com`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) },
      chunks: [Buffer.from(body)],
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error.code).toBe('payload_too_large');
    expect(await admin.suppressions.get('user@example.com')).toBeNull();
  });

  it('chunked body over the limit returns 413', async () => {
    const chunk = Buffer.from('x'.repeat(16 * 1024));
    const response = await rawRequest(`${admin.url}/api/suppressions/user%40example.com`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/json' },
      chunks: [chunk, chunk, chunk, chunk, chunk],
    });
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
  });

  it('body at the limit is read', async () => {
    const prefix = '{"reason":"userunknown","note":"';
    const body = `${prefix}${' '.repeat(MAX_BODY_BYTES - prefix.length - 2)}"}`;
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    const response = await fetch(`${admin.url}/api/suppressions/user%40example.com`, { method: 'PUT', headers: auth, body });
    expect(response.status).toBe(201);
  });

  it('invalid JSON returns 400', async () => {
    const response = await fetch(`${admin.url}/api/suppressions/user%40example.com`, {
      method: 'PUT',
      headers: auth,
      body: '{"reason": ',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
  });

  it('responses are JSON and not cached', async () => {
    const response = await fetch(`${admin.url}/api/events`, { headers: auth });
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('every error code is documented with its status', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../src/admin/README.md'), 'utf8');
    for (const [code, { status }] of Object.entries(API_ERRORS)) {
      expect(readme, code).toContain(`| \`${code}\` | ${status} |`);
    }
  });
});
