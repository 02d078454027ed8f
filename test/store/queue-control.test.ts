import { existsSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createQueueControl, DELETED_BY_OPERATOR } from '../../src/queue/control.js';
import { MessageBodies } from '../../src/spool/bodies.js';
import { Spool } from '../../src/spool/spool.js';
import { Database } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';
import { acceptanceTimeOf, QueueStore } from '../../src/store/queue.js';
import { newQueueId } from '../../src/core/ids.js';
import { enqueue } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

const NOW = Date.parse('2026-01-01T01:00:00.000Z');

describe('queue hold, release and delete', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;
  let queue: QueueStore;
  let events: EventStore;
  let spool: Spool;
  let wakes: number;

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(`${dir.path}/db`);
    queue = new QueueStore(db);
    events = new EventStore(db, { caseSensitiveLocalPart: false });
    spool = new Spool(dir.path);
    wakes = 0;
    await enqueue(queue, 'QA', [
      { recipient: 'wait@example.com', status: 'deferred', attempts: 2, lastMx: 'mx.example.com' },
      { recipient: 'done@example.com', status: 'delivered', nextAttemptAt: null },
    ]);
    writeFileSync(spool.pathOf('QA'), 'Subject: x\r\n\r\nbody\r\n');
  });

  afterEach(async () => {
    await db.close();
    dir.remove();
  });

  function control() {
    return createQueueControl({
      queue,
      bodies: new MessageBodies(spool, queue, 0),
      events,
      runner: { retryNow: async () => true, wake: () => (wakes += 1), invalidate: () => {} },
      now: () => NOW,
    });
  }

  it('hold removes due entries and keeps the status', async () => {
    const result = await control().hold('QA');
    expect(result).toEqual({ queueId: 'QA', held: true, recipients: ['wait@example.com'] });
    expect(await queue.dueRecipients(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    const [wait, done] = await queue.getRecipients('QA');
    expect(wait).toMatchObject({ status: 'deferred', attempts: 2, nextAttemptAt: null });
    expect(done?.status).toBe('delivered');
    expect((await queue.getMessage('QA'))?.held).toBe(true);
    const held = [];
    for await (const record of queue.heldRecipients()) {
      held.push(record.recipient);
    }
    expect(held).toEqual(['wait@example.com']);
    expect(await queue.waitingStats()).toEqual({ due: 0, held: 1, oldestQueueId: 'QA' });
  });

  it('release makes waiting recipients due now', async () => {
    await control().hold('QA');
    const result = await control().release('QA');
    expect(result?.recipients).toEqual(['wait@example.com']);
    expect(await queue.dueRecipients(NOW, 10)).toEqual([{ queueId: 'QA', index: 0, at: NOW }]);
    expect((await queue.getMessage('QA'))?.held).toBe(false);
    expect(wakes).toBe(1);
    for await (const _ of queue.heldRecipients()) {
      throw new Error('no message should be held after the release');
    }
  });

  it('delete expires waiting recipients with an event', async () => {
    const result = await control().remove('QA', 'sent twice', 'ops:alice');
    expect(result).toEqual({ queueId: 'QA', held: false, recipients: ['wait@example.com'] });

    const [wait, done] = await queue.getRecipients('QA');
    expect(wait).toMatchObject({ status: 'expired', nextAttemptAt: null });
    expect(done?.status).toBe('delivered');
    expect(await queue.dueRecipients(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    expect(existsSync(spool.pathOf('QA'))).toBe(false);

    const page = await events.query({ queueId: 'QA', limit: 10 });
    expect(page.events).toHaveLength(1);
    expect(page.events[0]).toMatchObject({
      recipient: 'wait@example.com',
      action: 'expired',
      reason: DELETED_BY_OPERATOR,
      stage: 'queue',
      text: 'deleted from the queue by ops:alice: sent twice',
      mx: 'mx.example.com',
      attempt: 2,
      time: new Date(NOW).toISOString(),
    });
  });

  it('returns null for an unknown message', async () => {
    expect(await control().hold('NOPE')).toBeNull();
    expect(await control().release('NOPE')).toBeNull();
    expect(await control().remove('NOPE', 'x', 'ops')).toBeNull();
  });

  it('reads the acceptance time from a queue id', () => {
    const at = Date.parse('2026-03-04T05:06:07.890Z');
    expect(acceptanceTimeOf(newQueueId(at))).toBe(at);
    expect(acceptanceTimeOf('QA')).toBeNull();
  });
});
