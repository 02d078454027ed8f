import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';
import { makeEvent } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

const normalize = { caseSensitiveLocalPart: false };
const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

describe('event indexes and rollups', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;
  let events: EventStore;

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(dir.path);
    events = new EventStore(db, normalize);
  });

  afterEach(async () => {
    await db.close();
    dir.remove();
  });

  async function seed(): Promise<void> {
    await events.append([
      makeEvent({ time: new Date(T0).toISOString(), recipient: 'a@one.example', mx: 'MX1.one.example', reason: 'userunknown', campaign: 'spring', source: { ip: '10.0.0.1', user: null } }),
      makeEvent({ time: new Date(T0 + 1000).toISOString(), recipient: 'b@one.example', mx: 'mx1.one.example', reason: 'mailboxfull', action: 'deferred', campaign: 'autumn', source: { ip: '10.0.0.2', user: 'newsletter' } }),
      makeEvent({ time: new Date(T0 + HOUR).toISOString(), recipient: 'c@two.example', mx: 'mx.two.example', reason: 'delivered', action: 'delivered', code: 250, text: '250 2.0.0 Ok', remoteIp: '192.0.2.9', campaign: 'spring', source: { ip: '10.0.0.1', user: null } }),
      makeEvent({ time: new Date(T0 + 2 * HOUR).toISOString(), recipient: 'd@two.example', mx: null, reason: 'hostunknown', campaign: null, source: null }),
    ]);
  }

  it('filters by each indexed key', async () => {
    await seed();
    const recipients = async (query: Parameters<EventStore['query']>[0]) => (await events.query(query)).events.map((event) => event.recipient);
    expect(await recipients({ mx: 'mx1.ONE.example', limit: 10 })).toEqual(['b@one.example', 'a@one.example']);
    expect(await recipients({ reason: 'hostunknown', limit: 10 })).toEqual(['d@two.example']);
    expect(await recipients({ campaign: 'spring', limit: 10 })).toEqual(['c@two.example', 'a@one.example']);
    expect(await recipients({ source: '10.0.0.1', limit: 10 })).toEqual(['c@two.example', 'a@one.example']);
    expect(await recipients({ source: 'newsletter', limit: 10 })).toEqual(['b@one.example']);
    expect(await recipients({ remoteIp: '192.0.2.9', limit: 10 })).toEqual(['c@two.example']);
    expect(await recipients({ campaign: 'spring', action: 'delivered', limit: 10 })).toEqual(['c@two.example']);
    expect(await recipients({ reason: 'userunknown', since: T0 + 1, limit: 10 })).toEqual([]);
  });

  it('pages through an index with a cursor', async () => {
    await events.append(
      Array.from({ length: 5 }, (_, index) => makeEvent({ time: new Date(T0 + index * 1000).toISOString(), recipient: `r${index}@x.example`, campaign: 'bulk' })),
    );
    const first = await events.query({ campaign: 'bulk', limit: 2 });
    expect(first.events.map((event) => event.recipient)).toEqual(['r4@x.example', 'r3@x.example']);
    const second = await events.query({ campaign: 'bulk', limit: 2, before: first.next ?? undefined });
    expect(second.events.map((event) => event.recipient)).toEqual(['r2@x.example', 'r1@x.example']);
    const third = await events.query({ campaign: 'bulk', limit: 2, before: second.next ?? undefined });
    expect(third.events.map((event) => event.recipient)).toEqual(['r0@x.example']);
    expect(third.next).toBeNull();
  });

  /** Events of one attempt: one time, one queue id, recipients of one domain. */
  function attemptEvents(count: number, time: number, queueId = 'Q-ATTEMPT') {
    return Array.from({ length: count }, (_, index) =>
      makeEvent({ time: new Date(time).toISOString(), queueId, recipient: `r${index}@run.example`, mx: 'mx.run.example', reason: 'delivered', action: 'delivered', campaign: 'bulk' }),
    );
  }

  async function indexEntries(name: string): Promise<Array<[string, unknown]>> {
    const entries: Array<[string, unknown]> = [];
    for await (const entry of db.sublevel<string>(name).iterator()) {
      entries.push(entry);
    }
    return entries;
  }

  it('writes one entry per run of shared values', async () => {
    const stored = await events.append(attemptEvents(10, T0));
    const ids = stored.map((event) => event.id);

    expect(await indexEntries('events-by-queue')).toEqual([[`Q-ATTEMPT\u0000${ids[0]}`, ids[9]]]);
    expect(await indexEntries('events-by-mx')).toEqual([[`mx.run.example\u0000${ids[0]}`, ids[9]]]);
    expect(await indexEntries('events-by-domain')).toEqual([[`run.example\u0000${ids[0]}`, ids[9]]]);
    const byRecipient = await indexEntries('events-by-recipient');
    expect(byRecipient).toHaveLength(10);
    expect(byRecipient.every(([, last]) => last === '')).toBe(true);
  });

  it('reads runs newest first and pages inside them', async () => {
    await events.append(attemptEvents(3, T0, 'Q-OTHER'));
    await events.append(attemptEvents(10, T0 + 1000));
    await events.append([makeEvent({ time: new Date(T0 + 2000).toISOString(), queueId: 'Q-ATTEMPT', recipient: 'late@run.example' })]);
    const recipients = (page: Awaited<ReturnType<EventStore['query']>>) => page.events.map((event) => event.recipient);

    const all = await events.query({ queueId: 'Q-ATTEMPT', limit: 20 });
    expect(recipients(all)).toEqual(['late@run.example', ...Array.from({ length: 10 }, (_, index) => `r${9 - index}@run.example`)]);

    const first = await events.query({ queueId: 'Q-ATTEMPT', limit: 4 });
    expect(recipients(first)).toEqual(['late@run.example', 'r9@run.example', 'r8@run.example', 'r7@run.example']);
    const second = await events.query({ queueId: 'Q-ATTEMPT', limit: 4, before: first.next ?? undefined });
    expect(recipients(second)).toEqual(['r6@run.example', 'r5@run.example', 'r4@run.example', 'r3@run.example']);

    const byDomain = await events.query({ domain: 'run.example', since: T0 + 1000, limit: 20 });
    expect(byDomain.events).toHaveLength(11);
    expect(recipients(await events.query({ mx: 'mx.run.example', until: T0 + 1000, limit: 20 }))).toEqual(['r2@run.example', 'r1@run.example', 'r0@run.example']);
  });

  it('ends a run where value or time changes', async () => {
    const at = (time: number, mx: string, recipient: string) => makeEvent({ time: new Date(time).toISOString(), queueId: 'Q-MIXED', recipient, mx });
    const stored = await events.append([at(T0, 'mx-a', 'e0@x.example'), at(T0, 'mx-b', 'e1@x.example'), at(T0, 'mx-a', 'e2@x.example'), at(T0 + 1, 'mx-a', 'e3@x.example')]);
    const ids = stored.map((event) => event.id);

    expect(await indexEntries('events-by-mx')).toEqual([
      [`mx-a\u0000${ids[0]}`, ''],
      [`mx-a\u0000${ids[2]}`, ''],
      [`mx-a\u0000${ids[3]}`, ''],
      [`mx-b\u0000${ids[1]}`, ''],
    ]);
    expect(await indexEntries('events-by-queue')).toEqual([
      [`Q-MIXED\u0000${ids[0]}`, ids[2]],
      [`Q-MIXED\u0000${ids[3]}`, ''],
    ]);
    expect((await events.query({ queueId: 'Q-MIXED', limit: 10 })).events.map((event) => event.recipient)).toEqual(['e3@x.example', 'e2@x.example', 'e1@x.example', 'e0@x.example']);
    expect((await events.query({ mx: 'mx-a', limit: 10 })).events.map((event) => event.recipient)).toEqual(['e3@x.example', 'e2@x.example', 'e0@x.example']);
  });

  it('counts segments from hourly rollups', async () => {
    await seed();
    const byDomain = await events.segments({ dimension: 'domain', since: T0, until: T0 + 3 * HOUR });
    expect(byDomain.sort((a, b) => a.value.localeCompare(b.value))).toEqual([
      { value: 'one.example', delivered: 0, deferred: 1, bounced: 1, expired: 0, suppressed: 0 },
      { value: 'two.example', delivered: 1, deferred: 0, bounced: 1, expired: 0, suppressed: 0 },
    ]);

    const firstHour = await events.segments({ dimension: 'mx', since: T0, until: T0 + HOUR });
    expect(firstHour).toEqual([{ value: 'mx1.one.example', delivered: 0, deferred: 1, bounced: 1, expired: 0, suppressed: 0 }]);

    const bySource = await events.segments({ dimension: 'source', since: T0, until: T0 + 3 * HOUR });
    expect(Object.fromEntries(bySource.map((row) => [row.value, row.bounced + row.deferred + row.delivered]))).toEqual({
      '10.0.0.1': 2,
      newsletter: 1,
      '(none)': 1,
    });

    const timeline = await events.timeline({ dimension: 'reason', since: T0, until: T0 + 3 * HOUR });
    expect(timeline.map((bucket) => bucket.hour)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']);
    expect(timeline[2]?.values).toEqual({ hostunknown: { delivered: 0, deferred: 0, bounced: 1, expired: 0, suppressed: 0 } });
  });

  it('counts each event of an attempt once', async () => {
    const attempt = attemptEvents(6, T0);
    attempt[2] = { ...attempt[2]!, text: '452 4.2.2 Mailbox full', action: 'deferred' };
    attempt[4] = { ...attempt[4]!, recipient: 'r4@RUN.example' };
    await events.append(attempt);

    const byText = await events.segments({ dimension: 'text', since: T0, until: T0 + HOUR });
    expect(byText.map((row) => [row.delivered, row.deferred]).sort()).toEqual([[0, 1], [5, 0]]);
    const byDomain = await events.segments({ dimension: 'domain', since: T0, until: T0 + HOUR });
    expect(byDomain).toEqual([{ value: 'run.example', delivered: 5, deferred: 1, bounced: 0, expired: 0, suppressed: 0 }]);
  });

  it('counts alike events by their hour', async () => {
    const at = (time: number) => makeEvent({ time: new Date(time).toISOString(), recipient: 'x@hour.example', action: 'delivered' });
    await events.append([at(T0 + 1000), at(T0 + 2000), at(T0 + HOUR - 1), at(T0 + HOUR)]);

    const buckets = await events.timeline({ dimension: 'domain', since: T0, until: T0 + 2 * HOUR });
    expect(buckets.map((bucket) => bucket.values['hour.example']?.delivered)).toEqual([3, 1]);
  });

  it('keeps rollups exact under concurrent appends', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, index) => events.append([makeEvent({ time: new Date(T0 + index).toISOString(), recipient: `r${index}@busy.example` })])),
    );
    const [row] = await events.segments({ dimension: 'domain', since: T0, until: T0 + HOUR });
    expect(row?.bounced).toBe(40);
  });

  it('backfills indexes and rollups of an older store', async () => {
    await seed();
    // Drop what version 2 adds, as a store written by the previous version lacks it.
    for (const name of ['events-by-mx', 'events-by-reason', 'events-by-campaign', 'events-by-source', 'event-rollups', 'events-meta']) {
      await db.sublevel<unknown>(name).clear();
    }
    expect((await events.query({ campaign: 'spring', limit: 10 })).events).toHaveLength(0);
    expect(await events.segments({ dimension: 'domain', since: T0, until: T0 + 3 * HOUR })).toEqual([]);

    // A store opened by the new version after the old one: a fresh EventStore on the same database.
    // It appends one event before the backfill runs; that event is counted once.
    events = new EventStore(db, normalize);
    await events.append([makeEvent({ time: new Date(T0 + 2 * HOUR + 5).toISOString(), recipient: 'e@two.example', campaign: 'spring' })]);
    expect(await events.backfill()).toBe(4);
    expect((await events.query({ campaign: 'spring', limit: 10 })).events).toHaveLength(3);
    const byDomain = await events.segments({ dimension: 'domain', since: T0, until: T0 + 3 * HOUR });
    expect(byDomain.reduce((sum, row) => sum + row.bounced + row.deferred + row.delivered, 0)).toBe(5);

    expect(await events.backfill()).toBe(0);
    const again = await events.segments({ dimension: 'domain', since: T0, until: T0 + 3 * HOUR });
    expect(again.reduce((sum, row) => sum + row.bounced + row.deferred + row.delivered, 0)).toBe(5);
  });

  it('notifies subscribers and matches stream filters', async () => {
    const seen: string[] = [];
    const stop = events.subscribe((appended) => {
      for (const event of appended) {
        if (events.matches(event, { domain: 'two.example', action: 'bounced' })) {
          seen.push(event.recipient);
        }
      }
    });
    await seed();
    stop();
    expect(seen).toEqual(['d@two.example']);
  });
});
