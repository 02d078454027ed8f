import { afterEach, describe, expect, it } from 'vitest';
import { parseReply } from '../../src/core/reply.js';
import type { QueueItem } from '../../src/admin/queue-routes.js';
import { enqueue, startAdminFixture, stubQueueControl, TEST_TOKEN, type AdminFixture } from './fixture.js';

const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

describe('queue routes', () => {
  let admin: AdminFixture | undefined;

  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  it('lists waiting recipients soonest first', async () => {
    admin = await startAdminFixture();
    await enqueue(admin.queue, 'QUEUEA', [
      {
        recipient: 'late@example.com',
        status: 'deferred',
        attempts: 2,
        nextAttemptAt: Date.parse('2026-01-01T02:00:00.000Z'),
        lastReply: parseReply('451-4.7.1 greylisted\n451 4.7.1 try again later', 'rcpt'),
        lastMx: 'mx.example.com',
      },
      { recipient: 'done@example.com', status: 'delivered', nextAttemptAt: null },
    ]);
    await enqueue(admin.queue, 'QUEUEB', [{ recipient: 'soon@example.net', nextAttemptAt: Date.parse('2026-01-01T01:00:00.000Z') }], {
      sender: 'other@sender.example',
      held: true,
    });

    const response = await fetch(`${admin.url}/api/queue`, { headers: auth });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { queue: QueueItem[]; total: number };

    expect(body.total).toBe(2);
    expect(body.queue).toEqual([
      {
        queueId: 'QUEUEB',
        recipient: 'soon@example.net',
        status: 'queued',
        attempts: 0,
        nextAttemptAt: '2026-01-01T01:00:00.000Z',
        lastReply: null,
        lastMx: null,
        sender: 'other@sender.example',
        receivedAt: '2026-01-01T00:00:00.000Z',
        held: true,
      },
      {
        queueId: 'QUEUEA',
        recipient: 'late@example.com',
        status: 'deferred',
        attempts: 2,
        nextAttemptAt: '2026-01-01T02:00:00.000Z',
        lastReply: { code: 451, enhancedCode: '4.7.1', text: '451-4.7.1 greylisted\n451 4.7.1 try again later' },
        lastMx: 'mx.example.com',
        sender: 'app@sender.example',
        receivedAt: '2026-01-01T00:00:00.000Z',
        held: false,
      },
    ]);
  });

  it('limit bounds the listing but not the total', async () => {
    admin = await startAdminFixture();
    await enqueue(admin.queue, 'QUEUEC', [{ recipient: 'a@example.com' }, { recipient: 'b@example.com' }, { recipient: 'c@example.com' }]);

    const body = (await (await fetch(`${admin.url}/api/queue?limit=2`, { headers: auth })).json()) as { queue: QueueItem[]; total: number };
    expect(body.queue.map((item) => item.recipient)).toEqual(['a@example.com', 'b@example.com']);
    expect(body.total).toBe(3);
  });

  it('empty queue lists nothing', async () => {
    admin = await startAdminFixture();
    const body = await (await fetch(`${admin.url}/api/queue`, { headers: auth })).json();
    expect(body).toEqual({ queue: [], total: 0 });
  });

  it('retry without queue control returns 503', async () => {
    admin = await startAdminFixture();
    const response = await fetch(`${admin.url}/api/queue/QUEUEA/retry`, { method: 'POST', headers: auth });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('queue_control_unavailable');
  });

  it('retry calls queue control', async () => {
    const calls: string[] = [];
    admin = await startAdminFixture({
      queueControl: stubQueueControl(async (queueId) => {
        calls.push(queueId);
        return queueId === 'QUEUEA';
      }),
    });

    const found = await fetch(`${admin.url}/api/queue/QUEUEA/retry`, { method: 'POST', headers: auth });
    expect(found.status).toBe(202);
    expect(await found.json()).toEqual({ queueId: 'QUEUEA', scheduled: true });

    const missing = await fetch(`${admin.url}/api/queue/NOSUCH/retry`, { method: 'POST', headers: auth });
    expect(missing.status).toBe(404);
    expect(calls).toEqual(['QUEUEA', 'NOSUCH']);
  });

  it('retry rejects a malformed queue id', async () => {
    admin = await startAdminFixture({ queueControl: stubQueueControl(async () => true) });
    const response = await fetch(`${admin.url}/api/queue/bad%2Did/retry`, { method: 'POST', headers: auth });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { field: string } }).error.field).toBe('queueId');
  });

  it('retry only accepts POST', async () => {
    admin = await startAdminFixture();
    const response = await fetch(`${admin.url}/api/queue/QUEUEA/retry`, { headers: auth });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});
