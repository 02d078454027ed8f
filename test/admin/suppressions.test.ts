import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry, SuppressionEntry } from '../../src/store/suppressions.js';
import { startAdminFixture, TEST_TOKEN, type AdminFixture } from './fixture.js';

interface ErrorBody {
  error: { code: string; message: string; field?: string };
  audit?: AuditEntry[];
}

describe('suppression routes', () => {
  let admin: AdminFixture;

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; headers: Headers }> {
    const response = await fetch(`${admin.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json(), headers: response.headers };
  }

  beforeEach(async () => {
    admin = await startAdminFixture();
  });

  afterEach(async () => {
    await admin.close();
  });

  it('PUT creates an entry with 201', async () => {
    const { status, body, headers } = await call('PUT', '/api/suppressions/User%40Example.com', {
      reason: 'userunknown',
      note: 'imported from the old ESP',
    });
    expect(status).toBe(201);
    const entry = body as SuppressionEntry;
    expect(entry.address).toBe('user@example.com');
    expect(entry.reason).toBe('userunknown');
    expect(entry.origin).toBe('manual');
    expect(entry.status).toBe('active');
    expect(entry.note).toBe('imported from the old ESP');
    expect(headers.get('location')).toBe('/api/suppressions/user%40example.com');
    expect(await admin.suppressions.findActive('user@example.com')).not.toBeNull();
  });

  it('PUT replaces an entry with 200', async () => {
    await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown' });
    const { status, body } = await call('PUT', '/api/suppressions/user%40example.com', { reason: 'blocked', actor: 'ops:alice' });
    expect(status).toBe(200);
    expect((body as SuppressionEntry).reason).toBe('blocked');
  });

  it('PUT requires a non-empty reason', async () => {
    for (const body of [undefined, {}, { reason: '' }, { reason: '   ' }, { reason: 7 }]) {
      const response = await call('PUT', '/api/suppressions/user%40example.com', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((response.body as ErrorBody).error.field, JSON.stringify(body)).toBe('reason');
    }
  });

  it('PUT rejects an unknown reason name', async () => {
    const response = await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunkown' });
    expect(response.status).toBe(400);
    expect((response.body as ErrorBody).error.field).toBe('reason');
    expect((response.body as ErrorBody).error.message).toContain('userunknown');
  });

  it('PUT rejects unknown body fields', async () => {
    const response = await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown', reasn: 'y' });
    expect(response.status).toBe(400);
    expect((response.body as ErrorBody).error.field).toBe('reasn');
    expect((response.body as ErrorBody).error.message).toContain('allowed: reason, note, actor');
  });

  it('PUT rejects a body that is not an object', async () => {
    const response = await call('PUT', '/api/suppressions/user%40example.com', ['userunknown']);
    expect(response.status).toBe(400);
    expect((response.body as ErrorBody).error.field).toBe('body');
  });

  it('PUT rejects an invalid address', async () => {
    for (const address of ['no-at-sign', 'a%20b%40example.com', '%40example.com', 'user%40', '%E0%A4%A']) {
      const response = await call('PUT', `/api/suppressions/${address}`, { reason: 'userunknown' });
      expect(response.status, address).toBe(400);
      expect((response.body as ErrorBody).error.field, address).toBe('address');
    }
  });

  it('GET shows the entry with its audit trail', async () => {
    await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown', note: 'first', actor: 'ops:alice' });
    const { status, body } = await call('GET', '/api/suppressions/USER%40example.com');
    expect(status).toBe(200);
    const entry = body as SuppressionEntry & { audit: AuditEntry[] };
    expect(entry.address).toBe('user@example.com');
    expect(entry.audit).toHaveLength(1);
    expect(entry.audit[0]).toMatchObject({ change: 'add', actor: 'ops:alice', note: 'first', reason: 'userunknown' });
  });

  it('GET returns 404 for an absent address', async () => {
    const { status, body } = await call('GET', '/api/suppressions/nobody%40example.com');
    expect(status).toBe(404);
    expect((body as ErrorBody).error.code).toBe('not_found');
    expect((body as ErrorBody).audit).toEqual([]);
  });

  it('DELETE requires a note', async () => {
    await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown' });
    for (const [path, body] of [
      ['/api/suppressions/user%40example.com', undefined],
      ['/api/suppressions/user%40example.com', { note: '' }],
      ['/api/suppressions/user%40example.com', { note: '  ' }],
      ['/api/suppressions/user%40example.com?note=', undefined],
    ] as const) {
      const response = await call('DELETE', path, body);
      expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      const error = (response.body as ErrorBody).error;
      expect(error.field).toBe('note');
      expect(error.message).toContain('fresh signal');
    }
    expect(await admin.suppressions.get('user@example.com')).not.toBeNull();
  });

  it('DELETE with a body note removes the entry', async () => {
    await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown' });
    const { status, body } = await call('DELETE', '/api/suppressions/user%40example.com', {
      note: 'customer confirmed the mailbox works',
      actor: 'ops:bob',
    });
    expect(status).toBe(200);
    expect((body as SuppressionEntry).address).toBe('user@example.com');
    expect(await admin.suppressions.get('user@example.com')).toBeNull();
  });

  it('DELETE with a query note removes the entry', async () => {
    await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown' });
    const { status } = await call('DELETE', `/api/suppressions/user%40example.com?note=${encodeURIComponent('new signup on 2026-02-01')}`);
    expect(status).toBe(200);
    expect(await admin.suppressions.get('user@example.com')).toBeNull();
  });

  it('DELETE rejects a note given twice', async () => {
    await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown' });
    const { status, body } = await call('DELETE', '/api/suppressions/user%40example.com?note=a', { note: 'b' });
    expect(status).toBe(400);
    expect((body as ErrorBody).error.field).toBe('note');
  });

  it('DELETE returns 404 for an absent address', async () => {
    const { status } = await call('DELETE', '/api/suppressions/nobody%40example.com', { note: 'checked' });
    expect(status).toBe(404);
  });

  it('removal stays visible in the audit trail', async () => {
    await call('PUT', '/api/suppressions/user%40example.com', { reason: 'userunknown', actor: 'ops:alice' });
    await call('DELETE', '/api/suppressions/user%40example.com', { note: 'mailbox restored', actor: 'ops:bob' });

    const { status, body } = await call('GET', '/api/suppressions/user%40example.com');
    expect(status).toBe(404);
    const audit = (body as ErrorBody).audit ?? [];
    expect(audit.map((entry) => entry.change)).toEqual(['add', 'remove']);
    expect(audit[1]).toMatchObject({ actor: 'ops:bob', note: 'mailbox restored' });
  });

  it('decodes plus signs and IDN addresses in the path', async () => {
    const put = await call('PUT', `/api/suppressions/${encodeURIComponent('list+tag@Bücher.example')}`, { reason: 'userunknown' });
    expect(put.status).toBe(201);
    expect((put.body as SuppressionEntry).address).toBe('list+tag@xn--bcher-kva.example');

    const get = await call('GET', `/api/suppressions/${encodeURIComponent('list+tag@xn--bcher-kva.example')}`);
    expect(get.status).toBe(200);
  });

  it('lists entries by domain with a cursor', async () => {
    for (const address of ['a@one.example', 'b@one.example', 'c@one.example', 'z@two.example']) {
      await call('PUT', `/api/suppressions/${encodeURIComponent(address)}`, { reason: address.startsWith('b') ? 'blocked' : 'userunknown' });
    }

    const all = (await call('GET', '/api/suppressions')).body as { suppressions: SuppressionEntry[]; next: string | null };
    expect(all.suppressions.map((entry) => entry.address)).toEqual(['a@one.example', 'b@one.example', 'c@one.example', 'z@two.example']);
    expect(all.next).toBeNull();

    const first = (await call('GET', '/api/suppressions?domain=ONE.example&limit=2')).body as { suppressions: SuppressionEntry[]; next: string };
    expect(first.suppressions.map((entry) => entry.address)).toEqual(['a@one.example', 'b@one.example']);
    expect(first.next).toBe('b@one.example');

    const second = (await call('GET', `/api/suppressions?domain=one.example&limit=2&after=${encodeURIComponent(first.next)}`))
      .body as { suppressions: SuppressionEntry[]; next: string | null };
    expect(second.suppressions.map((entry) => entry.address)).toEqual(['c@one.example']);
    expect(second.next).toBeNull();

    const blocked = (await call('GET', '/api/suppressions?reason=blocked')).body as { suppressions: SuppressionEntry[] };
    expect(blocked.suppressions.map((entry) => entry.address)).toEqual(['b@one.example']);
  });

  it('list rejects a bad limit', async () => {
    const { status, body } = await call('GET', '/api/suppressions?limit=5000');
    expect(status).toBe(400);
    expect((body as ErrorBody).error.field).toBe('limit');
  });

  it('PATCH is not allowed', async () => {
    const { status, headers } = await call('PATCH', '/api/suppressions/user%40example.com', { reason: 'x' });
    expect(status).toBe(405);
    expect(headers.get('allow')).toBe('GET, PUT, DELETE, HEAD');
  });
});
