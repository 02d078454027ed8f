import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueId } from '../../src/core/types.js';
import { Database } from '../../src/store/db.js';
import { EventStore, type NewEvent } from '../../src/store/events.js';
import { QueueStore, type RecipientRecord } from '../../src/store/queue.js';
import { SuppressionStore } from '../../src/store/suppressions.js';
import { makeTempDir } from '../helpers/tmp.js';

const normalize = { caseSensitiveLocalPart: false };

function event(recipient: string, time: string, action: NewEvent['action'] = 'bounced'): NewEvent {
  return {
    time,
    queueId: 'Q1',
    messageId: null,
    sender: 'app@sender.example',
    recipient,
    stage: 'rcpt',
    mx: 'mx.example',
    remoteIp: '127.0.0.1',
    remotePort: 25,
    localIp: '127.0.0.1',
    tls: null,
    code: 550,
    enhancedCode: '5.1.1',
    text: '550 5.1.1 no such user',
    attempt: 1,
    permanent: true,
    reason: 'userunknown',
    action,
    source: { ip: '127.0.0.1', user: null },
    campaign: null,
    side: 'recipient',
    rule: 'test',
    suppressed: true,
  };
}

describe('stores', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(dir.path);
  });

  afterEach(async () => {
    await db.close();
    dir.remove();
  });

  it('event query uses recipient index, newest first', async () => {
    const events = new EventStore(db, normalize);
    await events.append([
      event('A@Example.com', '2026-01-01T00:00:00.000Z'),
      event('b@example.com', '2026-01-01T00:00:01.000Z', 'delivered'),
      event('a@example.com', '2026-01-01T00:00:02.000Z'),
    ]);

    const page = await events.query({ recipient: 'a@EXAMPLE.com', limit: 10 });
    expect(page.events.map((item) => item.time)).toEqual(['2026-01-01T00:00:02.000Z', '2026-01-01T00:00:00.000Z']);

    const domain = await events.query({ domain: 'example.com', action: 'delivered', limit: 10 });
    expect(domain.events).toHaveLength(1);
    expect(domain.events[0]?.recipient).toBe('b@example.com');
  });

  it('event query pages with a cursor and time bounds', async () => {
    const events = new EventStore(db, normalize);
    const times = [0, 1, 2, 3, 4].map((second) => `2026-01-01T00:00:0${second}.000Z`);
    await events.append(times.map((time) => event('a@example.com', time)));

    const first = await events.query({ domain: 'example.com', limit: 2 });
    expect(first.events).toHaveLength(2);
    expect(first.next).not.toBeNull();
    const second = await events.query({ domain: 'example.com', limit: 2, before: first.next ?? '' });
    expect(second.events.map((item) => item.time)).toEqual([times[2], times[1]]);

    const bounded = await events.query({
      limit: 10,
      since: Date.parse(times[1] ?? ''),
      until: Date.parse(times[3] ?? ''),
    });
    expect(bounded.events.map((item) => item.time)).toEqual([times[2], times[1]]);
  });

  it('event ids stay unique out of order', async () => {
    const events = new EventStore(db, normalize);
    const times = ['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z', '2026-01-01T00:00:00.000Z'];
    for (const [index, time] of times.entries()) {
      await events.append([event(`r${index}@example.com`, time)]);
    }

    const all = await events.query({ limit: 10 });
    expect(new Set(all.events.map((item) => item.id)).size).toBe(4);
    for (const index of [0, 1, 2, 3]) {
      const page = await events.query({ recipient: `r${index}@example.com`, limit: 10 });
      expect(page.events.map((item) => item.recipient)).toEqual([`r${index}@example.com`]);
    }
  });

  it('suppression keys ignore case and IDN form', async () => {
    const suppressions = new SuppressionStore(db, normalize);
    const failure = { time: '2026-01-01T00:00:00.000Z', code: 550, enhancedCode: '5.4.1', text: 'x', mx: null, remoteIp: null, queueId: null };
    await suppressions.recordFailure('User@Bücher.example', failure, { reason: 'userunknown', origin: 'delivery' });

    const entry = await suppressions.findActive('user@xn--bcher-kva.example');
    expect(entry?.address).toBe('user@xn--bcher-kva.example');
    expect(entry?.count).toBe(1);

    await suppressions.recordFailure('user@bücher.example', failure, { reason: 'userunknown', origin: 'delivery' });
    expect((await suppressions.get('USER@xn--bcher-kva.example'))?.count).toBe(2);
  });

  it('suppression removal keeps the audit trail', async () => {
    const suppressions = new SuppressionStore(db, normalize);
    await suppressions.addManual('x@example.org', 'userunknown', 'imported list', 'admin');
    expect((await suppressions.list({ domain: 'EXAMPLE.org', limit: 10 })).suppressions).toHaveLength(1);

    await suppressions.remove('x@example.org', 'user confirmed the mailbox exists again', 'admin');
    expect(await suppressions.get('x@example.org')).toBeNull();
    expect((await suppressions.list({ domain: 'example.org', limit: 10 })).suppressions).toHaveLength(0);
    const trail = await suppressions.history('x@example.org');
    expect(trail.map((item) => item.change)).toEqual(['add', 'remove']);
    expect(trail[1]?.note).toBe('user confirmed the mailbox exists again');
  });

  it('queue due index follows recipient state', async () => {
    const queue = new QueueStore(db);
    const queueId = 'QID1' as QueueId;
    const recipient: RecipientRecord = {
      queueId,
      index: 0,
      recipient: 'a@example.com',
      status: 'queued',
      attempts: 0,
      nextAttemptAt: 1000,
      lastReply: null,
      lastMx: null,
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
    await queue.commit(
      queue.enqueueOperations(
        {
          queueId,
          sender: 's@example.net',
          recipients: ['a@example.com'],
          messageId: null,
          campaign: null,
          source: { ip: '127.0.0.1', user: null },
          size: 10,
          receivedAt: '2026-01-01T00:00:00.000Z',
          isBounce: false,
          smtputf8: false,
          held: false,
        },
        [recipient],
      ),
    );
    expect(await queue.dueRecipients(999, 10)).toEqual([]);
    expect(await queue.dueRecipients(1000, 10)).toEqual([{ queueId, index: 0, at: 1000 }]);

    const deferred = { ...recipient, status: 'deferred' as const, nextAttemptAt: 5000, attempts: 1 };
    await queue.updateRecipients([{ before: recipient, after: deferred }]);
    expect(await queue.dueRecipients(4000, 10)).toEqual([]);
    expect(await queue.nextDueTime()).toBe(5000);

    await queue.updateRecipients([{ before: deferred, after: { ...deferred, status: 'delivered', nextAttemptAt: null } }]);
    expect(await queue.nextDueTime()).toBeNull();
    expect((await queue.getRecipients(queueId))[0]?.status).toBe('delivered');
  });
});
