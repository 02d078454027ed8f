import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database, SEP } from '../../src/store/db.js';
import { EventStore, ROLLUP_DIMENSIONS } from '../../src/store/events.js';
import { dimensionValue } from '../../src/store/rollups.js';
import { makeEvent } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

const normalize = { caseSensitiveLocalPart: false };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** Events every 5 hours over four days, at three domains, with a mix of actions. */
function history(): ReturnType<typeof makeEvent>[] {
  const actions = ['delivered', 'bounced', 'deferred'] as const;
  return Array.from({ length: 4 * 24 / 5 + 1 }, (_, index) =>
    makeEvent({
      time: new Date(T0 + index * 5 * HOUR + 60_000).toISOString(),
      recipient: `user${index}@d${index % 3}.example`,
      action: actions[index % 3],
    }),
  );
}

/** Counts the events per domain and action in [since, until) widened to whole hours, directly. */
function expected(events: ReturnType<typeof makeEvent>[], since: number, until: number): Record<string, Record<string, number>> {
  const start = Math.floor(since / HOUR) * HOUR;
  const end = Math.ceil(until / HOUR) * HOUR;
  const totals: Record<string, Record<string, number>> = {};
  for (const event of events) {
    const time = Date.parse(event.time);
    if (time < start || time >= end) continue;
    const domain = event.recipient.split('@')[1] ?? '';
    totals[domain] ??= { delivered: 0, deferred: 0, bounced: 0, expired: 0, suppressed: 0 };
    totals[domain][event.action] = (totals[domain][event.action] ?? 0) + 1;
  }
  return totals;
}

async function segmentsByDomain(store: EventStore, since: number, until: number): Promise<Record<string, Record<string, number>>> {
  const rows = await store.segments({ dimension: 'domain', since, until });
  return Object.fromEntries(rows.map(({ value, ...counts }) => [value, counts]));
}

describe('daily rollups', () => {
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

  it('segments match the events', async () => {
    const store = new EventStore(db, normalize);
    const events = history();
    await store.append(events);
    const ranges: Array<[number, number]> = [
      [T0, T0 + 4 * DAY],
      [T0 + 3 * HOUR + 5, T0 + 2 * DAY + 7 * HOUR],
      [T0 + DAY, T0 + 2 * DAY],
      [T0 + 23 * HOUR, T0 + 25 * HOUR],
      [T0 - DAY, T0 + 10 * DAY],
    ];
    for (const [since, until] of ranges) {
      expect(await segmentsByDomain(store, since, until)).toEqual(expected(events, since, until));
    }
  });

  it('read whole days from the daily counters', async () => {
    const store = new EventStore(db, normalize);
    await store.append(history());
    // Remove the hourly counters of the second day: a whole-day read must not need them.
    const rollups = db.sublevel<unknown>('event-rollups');
    for await (const key of rollups.keys({ gte: '2026-01-02T', lt: '2026-01-02T\xff' })) {
      await rollups.del(key);
    }
    const day = await segmentsByDomain(store, T0 + DAY, T0 + 2 * DAY);
    expect(day).toEqual(expected(history(), T0 + DAY, T0 + 2 * DAY));
  });

  it('fall back to hourly counters for days before a store had daily ones', async () => {
    const first = new EventStore(db, normalize);
    const events = history();
    await first.append(events);
    // Make the store look as if an older version wrote it: no daily counters, no marker.
    const rollups = db.sublevel<unknown>('event-rollups');
    for await (const key of rollups.keys()) {
      if (key.charAt(10) === SEP) {
        await rollups.del(key);
      }
    }
    await db.sublevel<unknown>('events-meta').del('events-daily-rollups-since');

    const upgraded = new EventStore(db, normalize);
    expect(await segmentsByDomain(upgraded, T0, T0 + 4 * DAY)).toEqual(expected(events, T0, T0 + 4 * DAY));
    await upgraded.append([makeEvent({ time: new Date().toISOString(), recipient: 'new@d0.example', action: 'delivered' })]);
    expect(await segmentsByDomain(upgraded, T0, T0 + 4 * DAY)).toEqual(expected(events, T0, T0 + 4 * DAY));
  });
  it.each([
    ['one append', 400],
    ['single appends', 1],
  ])('count similar events in %s like each alone', async (_, perAppend) => {
    const store = new EventStore(db, normalize);
    const actions = ['delivered', 'bounced', 'deferred', 'suppressed'] as const;
    const mxs = [null, '', 'MX1.example', 'mx1.example'];
    // The first two texts normalise to the same value.
    const texts = ['550 5.1.1 <a@d0.example>: user unknown', '550 5.1.1 <b@d1.example>: user unknown', '250 2.0.0 Ok: queued'];
    const sources = [null, { ip: '192.0.2.1', user: null }, { ip: '192.0.2.1', user: 'app1' }];
    const events = Array.from({ length: 400 }, (_, index) =>
      makeEvent({
        time: new Date(T0 + (index % 2) * HOUR + index * 1000).toISOString(),
        recipient: `user${index}@d${index % 3}.example`,
        action: actions[index % 4],
        mx: mxs[index % 4] ?? null,
        text: texts[index % 3] ?? '',
        reason: index % 5 === 0 ? 'delivered' : 'userunknown',
        campaign: index % 7 === 0 ? 'spring' : null,
        source: sources[index % 3] ?? null,
      }),
    );
    // Runs of events that differ in recipient only, as consecutive attempts to one host make.
    for (let index = 0; index < 30; index += 1) {
      events.push(makeEvent({ time: new Date(T0 + Math.floor(index / 10) * HOUR * 0.6).toISOString(), recipient: `run${index}@d0.example`, action: 'delivered', text: '250 2.0.0 Ok' }));
    }
    const stored = [];
    for (let start = 0; start < events.length; start += perAppend) {
      stored.push(...(await store.append(events.slice(start, start + perAppend))));
    }

    for (const dimension of ROLLUP_DIMENSIONS) {
      const direct: Record<string, Record<string, number>> = {};
      for (const event of stored) {
        const value = dimensionValue(event, dimension);
        const counts = (direct[value] ??= { delivered: 0, deferred: 0, bounced: 0, expired: 0, suppressed: 0 });
        counts[event.action] = (counts[event.action] ?? 0) + 1;
      }
      const rows = await store.segments({ dimension, since: T0, until: T0 + 2 * HOUR });
      expect(Object.fromEntries(rows.map(({ value, ...counts }) => [value, counts])), dimension).toEqual(direct);
    }
  });
});
