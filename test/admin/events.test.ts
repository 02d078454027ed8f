import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../../src/core/types.js';
import { makeEvent, startAdminFixture, TEST_TOKEN, type AdminFixture } from './fixture.js';

interface EventsBody {
  events: DeliveryEvent[];
  next: string | null;
}

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

describe('GET /api/events', () => {
  let admin: AdminFixture;

  async function get(query: string): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${admin.url}/api/events${query}`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    return { status: response.status, body: await response.json() };
  }

  async function events(query: string): Promise<EventsBody> {
    const { status, body } = await get(query);
    expect(status, JSON.stringify(body)).toBe(200);
    return body as EventsBody;
  }

  async function badRequest(query: string): Promise<ErrorBody['error']> {
    const { status, body } = await get(query);
    expect(status, JSON.stringify(body)).toBe(400);
    return (body as ErrorBody).error;
  }

  beforeEach(async () => {
    admin = await startAdminFixture();
    await admin.events.append([
      makeEvent({ time: '2026-01-01T00:00:00.000Z', recipient: 'A@Example.com', action: 'deferred', code: 451, reason: 'greylisted' }),
      makeEvent({ time: '2026-01-01T00:01:00.000Z', recipient: 'a@example.com', action: 'bounced' }),
      makeEvent({ time: '2026-01-01T00:02:00.000Z', recipient: 'b@example.com', action: 'delivered', code: 250, queueId: 'Q2' }),
      makeEvent({ time: '2026-01-01T00:03:00.000Z', recipient: 'c@other.example', action: 'bounced', campaign: 'spring' }),
      makeEvent({ time: '2026-01-01T00:04:00.000Z', recipient: 'd@other.example', action: 'expired', mx: 'MX2.other.example' }),
    ]);
  });

  afterEach(async () => {
    await admin.close();
  });

  it('returns every event newest first', async () => {
    const page = await events('');
    expect(page.events.map((event) => event.recipient)).toEqual([
      'd@other.example',
      'c@other.example',
      'b@example.com',
      'a@example.com',
      'A@Example.com',
    ]);
    expect(page.next).toBeNull();
    expect(page.events[0]?.id).toMatch(/^\d{19}[0-9a-f]{4}$/);
  });

  it('filters by recipient ignoring case', async () => {
    const page = await events('?recipient=a%40EXAMPLE.com');
    expect(page.events.map((event) => event.time)).toEqual(['2026-01-01T00:01:00.000Z', '2026-01-01T00:00:00.000Z']);
  });

  it('filters by domain', async () => {
    const page = await events('?domain=other.example');
    expect(page.events.map((event) => event.recipient)).toEqual(['d@other.example', 'c@other.example']);
  });

  it('filters by action', async () => {
    const page = await events('?action=bounced');
    expect(page.events.map((event) => event.recipient)).toEqual(['c@other.example', 'a@example.com']);
  });

  it('combines domain and action', async () => {
    const page = await events('?domain=example.com&action=deferred');
    expect(page.events.map((event) => event.reason)).toEqual(['greylisted']);
  });

  it('filters by since as ISO and until as ms', async () => {
    const until = Date.parse('2026-01-01T00:03:00.000Z');
    const page = await events(`?since=2026-01-01T00:01:00Z&until=${until}`);
    expect(page.events.map((event) => event.time)).toEqual(['2026-01-01T00:02:00.000Z', '2026-01-01T00:01:00.000Z']);
  });

  it('reads a date-time without offset as UTC', async () => {
    const page = await events('?since=2026-01-01T00:04:00');
    expect(page.events.map((event) => event.recipient)).toEqual(['d@other.example']);
  });

  it('accepts an offset in since', async () => {
    const page = await events(`?since=${encodeURIComponent('2026-01-01T01:03:00+01:00')}`);
    expect(page.events).toHaveLength(2);
  });

  it('filters by queueId, mx, code, reason and campaign', async () => {
    expect((await events('?queueId=Q2')).events.map((event) => event.recipient)).toEqual(['b@example.com']);
    expect((await events('?mx=mx2.other.example')).events.map((event) => event.recipient)).toEqual(['d@other.example']);
    expect((await events('?code=451')).events.map((event) => event.recipient)).toEqual(['A@Example.com']);
    expect((await events('?reason=greylisted')).events).toHaveLength(1);
    expect((await events('?campaign=spring')).events.map((event) => event.recipient)).toEqual(['c@other.example']);
    expect((await events('?enhancedCode=5.1.1')).events).toHaveLength(5);
  });

  it('pages with the next cursor', async () => {
    const first = await events('?limit=2');
    expect(first.events.map((event) => event.recipient)).toEqual(['d@other.example', 'c@other.example']);
    expect(first.next).toMatch(/^\d{19}[0-9a-f]{4}$/);

    const second = await events(`?limit=2&before=${first.next}`);
    expect(second.events.map((event) => event.recipient)).toEqual(['b@example.com', 'a@example.com']);

    const third = await events(`?limit=2&before=${second.next}`);
    expect(third.events.map((event) => event.recipient)).toEqual(['A@Example.com']);
    expect(third.next).toBeNull();
  });

  it('rejects a bad limit naming the field', async () => {
    for (const limit of ['0', '1001', 'ten', '-5', '2.5']) {
      const error = await badRequest(`?limit=${limit}`);
      expect(error.code, limit).toBe('invalid_parameter');
      expect(error.field, limit).toBe('limit');
      expect(error.message, limit).toContain('from 1 to 1000');
    }
  });

  it('rejects an unknown action listing the allowed ones', async () => {
    const error = await badRequest('?action=bounce');
    expect(error.field).toBe('action');
    expect(error.message).toContain('delivered, deferred, bounced, expired, suppressed');
  });

  it('rejects an unparsable since', async () => {
    for (const since of ['yesterday', 'Jan%201%202026', '2026-13-45T00:00:00Z']) {
      const error = await badRequest(`?since=${since}`);
      expect(error.field, since).toBe('since');
      expect(error.message, since).toContain('ISO-8601');
    }
  });

  it('rejects since later than until', async () => {
    const error = await badRequest('?since=2026-01-02&until=2026-01-01');
    expect(error.field).toBe('since');
  });

  it('rejects an unknown parameter', async () => {
    const error = await badRequest('?recipent=a%40example.com');
    expect(error.field).toBe('recipent');
    expect(error.message).toContain('allowed: recipient');
  });

  it('rejects a repeated parameter', async () => {
    const error = await badRequest('?action=bounced&action=deferred');
    expect(error.field).toBe('action');
  });

  it('rejects a malformed cursor, code and enhancedCode', async () => {
    expect((await badRequest('?before=abc')).field).toBe('before');
    expect((await badRequest('?code=55')).field).toBe('code');
    expect((await badRequest('?enhancedCode=5.1')).field).toBe('enhancedCode');
    expect((await badRequest('?recipient=no-at-sign')).field).toBe('recipient');
  });
});
