import { afterEach, describe, expect, it } from 'vitest';
import { buildRoutes } from '../../src/admin/server.js';
import { openApiDocument } from '../../src/admin/openapi.js';
import { WEB_PATHS } from '../../src/admin/web.js';
import { captureLogger, enqueue, makeEvent, startAdminFixture, stubQueueControl, TEST_TOKEN, type AdminFixture } from './fixture.js';

const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

describe('operator routes', () => {
  let admin: AdminFixture | undefined;

  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  async function call(path: string, init: RequestInit = {}) {
    const response = await fetch(`${admin?.url}${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Text responses stay strings.
    }
    return { status: response.status, headers: response.headers, body: body as Record<string, unknown> & { error?: { code: string; field?: string } } };
  }

  it('documents every route in OpenAPI', async () => {
    const document = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
    const routes = buildRoutes({ ...(await startAdminFixture().then((fixture) => ((admin = fixture), fixture))), token: TEST_TOKEN, logger: captureLogger().logger });
    const handled = [
      ...routes.flatMap((route) => Object.keys(route.handlers).map((method) => [route.pattern.replace(/:(\w+)/g, '{$1}'), method.toLowerCase()])),
      ['/healthz', 'get'],
      ...WEB_PATHS.map((path) => [path, 'get']),
    ];
    for (const [path = '', method = ''] of handled) {
      expect(document.paths[path]?.[method], `${method.toUpperCase()} ${path}`).toBeDefined();
    }
    const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    expect(documented.sort()).toEqual(handled.map(([path, method]) => `${method} ${path}`).sort());

    const served = await call('/api/openapi.json');
    expect(served.status).toBe(200);
    expect(served.body.openapi).toBe('3.1.0');
  });

  it('serves the page without a token under a strict CSP', async () => {
    admin = await startAdminFixture();
    for (const path of WEB_PATHS) {
      const response = await fetch(`${admin.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'self'; script-src 'self'; style-src 'self';/);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    const html = await (await fetch(`${admin.url}/`)).text();
    expect(html).toContain('<script src="/assets/app.js" defer></script>');
    expect(html).not.toMatch(/<script>[^<]/);
    expect(html).not.toMatch(/ style="/);
    expect((await fetch(`${admin.url}/api/events`)).status).toBe(401);
    expect((await fetch(`${admin.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${admin.url}/`, { method: 'POST' })).status).toBe(405);
  });

  it('reports missing services with 503', async () => {
    admin = await startAdminFixture();
    expect((await call('/metrics')).body.error?.code).toBe('metrics_unavailable');
    expect((await call('/api/webhooks')).body.error?.code).toBe('webhooks_unavailable');
    expect((await call('/api/queue/QA/hold', { method: 'POST' })).body.error?.code).toBe('queue_control_unavailable');
  });

  it('validates segment and triage parameters', async () => {
    admin = await startAdminFixture();
    expect((await call('/api/segments?by=color')).body.error?.field).toBe('by');
    expect((await call('/api/segments?since=2026-01-02&until=2026-01-01')).body.error?.field).toBe('since');
    expect((await call('/api/triage')).body.error?.field).toBe('domain');
    expect((await call('/api/triage?domain=a.example&mx=mx.example')).body.error?.field).toBe('domain');
    expect((await call('/api/escalate')).body.error?.field).toBe('domain');
    expect((await call('/api/escalate?domain=quiet.example')).status).toBe(404);
    expect((await call('/api/history/message/NOSUCH')).status).toBe(404);
    expect((await call('/api/events?before=123')).body.error?.field).toBe('before');
  });

  it('segments and timeline read the rollups', async () => {
    admin = await startAdminFixture();
    await admin.events.append([
      makeEvent({ time: '2026-01-01T00:10:00.000Z', recipient: 'a@one.example', reason: 'userunknown' }),
      makeEvent({ time: '2026-01-01T01:10:00.000Z', recipient: 'b@one.example', reason: 'mailboxfull' }),
      makeEvent({ time: '2026-01-01T01:20:00.000Z', recipient: 'c@two.example', action: 'delivered', reason: 'delivered' }),
    ]);
    const window = 'since=2026-01-01T00:00:00Z&until=2026-01-01T02:00:00Z';
    const segments = await call(`/api/segments?by=domain&${window}`);
    expect(segments.body.segments).toEqual([
      { value: 'one.example', delivered: 0, deferred: 0, bounced: 2, expired: 0, suppressed: 0, total: 2, failed: 2 },
      { value: 'two.example', delivered: 1, deferred: 0, bounced: 0, expired: 0, suppressed: 0, total: 1, failed: 0 },
    ]);
    const timeline = await call(`/api/timeline?by=reason&${window}&top=1`);
    expect(timeline.body.series).toEqual(['mailboxfull', '(other)']);
    expect(timeline.body.buckets).toEqual([
      { hour: '2026-01-01T00:00:00.000Z', counts: { '(other)': 1 } },
      { hour: '2026-01-01T01:00:00.000Z', counts: { mailboxfull: 1 } },
    ]);
  });

  it('streams matching events and heartbeats', async () => {
    admin = await startAdminFixture({ streamHeartbeatMs: 50 });
    const controller = new AbortController();
    const response = await fetch(`${admin.url}/api/events/stream?action=bounced`, { headers: auth, signal: controller.signal });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) {
          throw new Error(`stream ended; received: ${text}`);
        }
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil(/: heartbeat\n\n/);
    await admin.events.append([makeEvent({ action: 'delivered', recipient: 'skip@example.com' }), makeEvent({ recipient: 'hit@example.com' })]);
    await readUntil(/event: delivery\n/);
    expect(text).toContain('hit@example.com');
    expect(text).not.toContain('skip@example.com');

    const closed = admin.close();
    admin = undefined;
    await readUntil(/$^/).catch((error: Error) => expect(error.message).toContain('stream ended'));
    await closed;
    controller.abort();
  });

  it('rejects unknown stream parameters', async () => {
    admin = await startAdminFixture();
    expect((await call('/api/events/stream?limit=5')).body.error?.field).toBe('limit');
  });

  it('export keeps formula-like cells as text', async () => {
    admin = await startAdminFixture();
    const csv = 'address,reason,note\r\nf@example.com,userunknown,"=HYPERLINK(""http://evil.invalid"")"\r\n';
    const imported = await call('/api/suppressions/import', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: csv });
    expect(imported.status).toBe(200);
    const exported = await call('/api/suppressions/export?format=csv');
    const text = String(exported.body);
    expect(text).toContain(`"'=HYPERLINK(""http://evil.invalid"")"`);
    expect(text).not.toMatch(/,=HYPERLINK|,"=HYPERLINK/);

    const again = await call('/api/suppressions/import', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: text });
    expect(again.status).toBe(200);
    const entry = await call('/api/suppressions/f%40example.com');
    expect(entry.body.note).toBe('=HYPERLINK("http://evil.invalid")');
  });

  it('imports CSV and reports invalid rows', async () => {
    admin = await startAdminFixture();
    const csv = 'address,reason,note\r\nA@Example.com,userunknown,"moved, left the company"\r\nb@example.com,mailboxfull,\r\n';
    const ok = await call('/api/suppressions/import?actor=ops', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: csv });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ imported: 2, added: 2, replaced: 0 });
    expect((await admin.suppressions.get('a@example.com'))?.note).toBe('moved, left the company');

    const bad = await call('/api/suppressions/import', {
      method: 'POST',
      headers: { 'Content-Type': 'text/csv' },
      body: 'address,reason\r\nnot-an-address,userunknown\r\nc@example.com,\r\n',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([
      'row 2: address "not-an-address" must have a local part, "@" and a domain',
      'row 3: reason must be a non-empty string of at most 100 characters, e.g. "userunknown"',
    ]);
    expect(await admin.suppressions.get('c@example.com')).toBeNull();

    const unknownColumn = await call('/api/suppressions/import', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: 'address,reason,colour\r\n' });
    expect(unknownColumn.body.errors).toEqual(['row 1: unknown column "colour"; allowed: address, reason, status, origin, createdAt, updatedAt, expiresAt, count, note, lastTime, lastCode, lastEnhancedCode, lastMx, lastRemoteIp, lastText']);

    const xml = await call('/api/suppressions/import', { method: 'POST', headers: { 'Content-Type': 'application/xml' }, body: '<x/>' });
    expect(xml.status).toBe(415);
  });

  it('round-trips JSON export and import', async () => {
    admin = await startAdminFixture();
    await admin.suppressions.addManual('a@example.com', 'complaint', 'by phone', 'ops');
    const exported = await call('/api/suppressions/export?format=json');
    expect(exported.headers.get('content-disposition')).toMatch(/^attachment; filename="suppressions-\d{4}-\d{2}-\d{2}\.json"$/);
    await admin.suppressions.remove('a@example.com', 'test', 'ops');
    const imported = await call('/api/suppressions/import', { method: 'POST', body: JSON.stringify(exported.body) });
    expect(imported.body).toEqual({ imported: 1, added: 1, replaced: 0 });
    expect(await admin.suppressions.get('a@example.com')).toMatchObject({ reason: 'complaint', note: 'by phone', origin: 'manual' });
  });

  it('accepts imports up to 10 MiB', async () => {
    admin = await startAdminFixture();
    const rows = Array.from({ length: 60_000 }, (_, index) => `user${index}@bulk.example,userunknown,${'x'.repeat(100)}`);
    const body = `address,reason,note\r\n${rows.join('\r\n')}\r\n`;
    expect(Buffer.byteLength(body)).toBeGreaterThan(64 * 1024);
    const result = await call('/api/suppressions/import', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body });
    expect(result.body).toEqual({ imported: 60_000, added: 60_000, replaced: 0 });

    const tooLarge = await call('/api/suppressions/import', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: 'x'.repeat(10 * 1024 * 1024 + 1) });
    expect(tooLarge.status).toBe(413);
  }, 60_000);

  it('confirms and discards pending entries', async () => {
    admin = await startAdminFixture();
    const failure = { time: '2026-01-01T00:00:00.000Z', code: 550, enhancedCode: '5.1.1', text: 'x', mx: null, remoteIp: null, queueId: null };
    await admin.suppressions.recordFailure('p1@example.com', failure, { reason: 'userunknown', origin: 'dsn', status: 'pending' });
    await admin.suppressions.recordFailure('p2@example.com', failure, { reason: 'userunknown', origin: 'dsn', status: 'pending' });

    const pending = await call('/api/suppressions?status=pending');
    expect((pending.body.suppressions as Array<{ address: string }>).map((entry) => entry.address)).toEqual(['p1@example.com', 'p2@example.com']);

    const confirmed = await call('/api/suppressions/p1%40example.com/confirm', { method: 'POST', body: JSON.stringify({ note: 'checked' }) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.status).toBe('active');
    expect((await call('/api/suppressions/p1%40example.com/confirm', { method: 'POST' })).status).toBe(409);

    expect((await call('/api/suppressions/p2%40example.com/discard', { method: 'POST' })).body.error?.field).toBe('note');
    const discarded = await call('/api/suppressions/p2%40example.com/discard', { method: 'POST', body: JSON.stringify({ note: 'auto-reply loop', actor: 'ops' }) });
    expect(discarded.status).toBe(200);
    expect((await call('/api/suppressions/p1%40example.com/discard', { method: 'POST', body: JSON.stringify({ note: 'x' }) })).status).toBe(409);
    expect((await call('/api/suppressions/none%40example.com/confirm', { method: 'POST' })).status).toBe(404);

    const audit = await call('/api/audit?limit=2');
    expect((audit.body.audit as Array<{ change: string; address: string }>).map((entry) => [entry.change, entry.address])).toEqual([
      ['discard', 'p2@example.com'],
      ['confirm', 'p1@example.com'],
    ]);
    expect(typeof audit.body.next).toBe('string');
  });

  it('lists held recipients and refuses to retry them', async () => {
    admin = await startAdminFixture({ queueControl: stubQueueControl(async () => true) });
    await enqueue(admin.queue, 'QA', [{ recipient: 'a@example.com', status: 'deferred', lastMx: 'mx.example.com' }]);
    await admin.queue.hold('QA');
    const listing = await call('/api/queue');
    expect(listing.body.total).toBe(1);
    expect(listing.body.queue).toEqual([expect.objectContaining({ queueId: 'QA', held: true, nextAttemptAt: null })]);

    const summary = await call('/api/queue/summary');
    expect(summary.body.groups).toEqual([
      { domain: 'example.com', lastMx: 'mx.example.com', recipients: 1, messages: 1, held: 1, oldestReceivedAt: '2026-01-01T00:00:00.000Z', nextAttemptAt: null, topReply: null },
    ]);
    expect((await call('/api/queue/QA/retry', { method: 'POST' })).status).toBe(409);
  });
});
