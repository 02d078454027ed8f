import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../bench/scenarios/suppressions.js';
import { eventIdFloor } from '../../src/core/ids.js';
import type { DeliveryEvent } from '../../src/core/types.js';
import { Database } from '../../src/store/db.js';
import { EventStore, type EventQuery, type NewEvent } from '../../src/store/events.js';
import { makeEvent } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

const normalize = { caseSensitiveLocalPart: false };
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const TIMES = [T0, T0 + 1, T0 + 2, T0 + 1000, T0 + 3_600_000];

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function randomEvent(random: () => number, time: number): NewEvent {
  const event = makeEvent({
    time: new Date(time).toISOString(),
    queueId: pick(random, ['Q1', 'Q2']),
    recipient: pick(random, ['a@one.example', 'b@one.example', 'C@Two.example', 'd@two.example']),
    mx: pick(random, ['mx.one.example', 'MX.two.example', null]),
    campaign: pick(random, [null, 'spring', 'fall']),
    source: pick(random, [null, { ip: '10.0.0.1', user: null }, { ip: '10.0.0.1', user: 'alice' }, { ip: '10.0.0.2', user: 'alice' }]),
    tls: pick(random, [null, { version: 'TLSv1.3', cipher: 'A', verified: true, error: null }, { version: 'TLSv1.3', cipher: 'B', verified: false, error: 'x' }]),
    action: pick(random, ['bounced', 'deferred', 'delivered'] as const),
    code: pick(random, [250, 451, 550, null]),
    reason: pick(random, ['userunknown', 'delivered', 'greylisted']),
  });
  const shape = random();
  if (shape < 0.08) {
    return { ...event, note: 'extra' } as NewEvent;
  }
  if (shape < 0.16) {
    const { rule: _rule, ...rest } = event;
    return rest as NewEvent;
  }
  return event;
}

/** Returns the events as a store with one key per event reads them back: JSON round trips, sorted by id. */
function model(events: DeliveryEvent[]): DeliveryEvent[] {
  const copies = events.map((event) => JSON.parse(JSON.stringify(event)) as DeliveryEvent);
  return copies.sort(byId);
}

/** Orders events by id in code-unit order, as LevelDB orders their keys. */
function byId(left: DeliveryEvent, right: DeliveryEvent): number {
  if (left.id === right.id) {
    return 0;
  }
  return left.id < right.id ? -1 : 1;
}

function expectedPage(store: EventStore, all: DeliveryEvent[], query: EventQuery): { events: string[]; next: string | null } {
  const low = query.since === undefined ? '' : eventIdFloor(query.since);
  const high = query.until === undefined ? '\xff' : eventIdFloor(query.until);
  const matching = [...all]
    .reverse()
    .filter((event) => event.id >= low && event.id < high && (query.before === undefined || event.id < query.before) && store.matches(event, query));
  const page = matching.slice(0, query.limit);
  return { events: page.map((event) => event.id), next: matching.length > query.limit ? (page.at(-1)?.id ?? null) : null };
}

describe('grouped events against a sorted array', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;
  let store: EventStore;

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(dir.path);
    store = new EventStore(db, normalize);
  });

  afterEach(async () => {
    await db.close();
    dir.remove();
  });

  for (const seed of [1, 2]) {
    it(`reads as the array, seed ${seed}`, async () => {
      const random = mulberry32(seed);
      const appended: DeliveryEvent[] = [];
      for (let round = 0; round < 12; round += 1) {
        const concurrent = 1 + Math.floor(random() * 3);
        const batches = Array.from({ length: concurrent }, () => {
          const shared = pick(random, TIMES);
          return Array.from({ length: 1 + Math.floor(random() * 6) }, () => randomEvent(random, random() < 0.8 ? shared : pick(random, TIMES)));
        });
        for (const result of await Promise.all(batches.map((batch) => store.append(batch)))) {
          appended.push(...result);
        }
      }
      const all = model(appended);
      const ids = all.map((event) => event.id);
      expect(new Set(ids).size).toBe(ids.length);
      let keys = 0;
      for await (const _key of db.sublevel<unknown>('events').keys()) keys += 1;
      // The batches share values, so the reads below cross groups.
      expect(keys).toBeLessThan(ids.length * 0.8);

      for (const event of all) {
        expect.soft(await store.get(event.id), `get ${event.id}`).toEqual(event);
      }
      expect.soft(await store.latestId(), 'latestId').toBe(ids.at(-1));

      const cursors = [...ids, ...TIMES.map((time) => eventIdFloor(time)), '0', '\xff'];
      for (const cursor of cursors) {
        const after: string[] = [];
        for await (const event of store.eventsAfter(cursor)) {
          after.push(event.id);
        }
        expect.soft(after, `eventsAfter ${cursor}`).toEqual(ids.filter((id) => id > cursor));
      }

      const filters: Array<Omit<EventQuery, 'limit'>> = [
        {},
        { recipient: 'c@two.example' },
        { domain: 'one.example' },
        { queueId: 'Q2' },
        { mx: 'mx.two.example' },
        { campaign: 'spring' },
        { source: 'alice' },
        { source: '10.0.0.1' },
        { reason: 'greylisted' },
        { action: 'deferred' },
        { queueId: 'Q1', action: 'bounced' },
      ];
      const bounds: Array<Pick<EventQuery, 'since' | 'until'>> = [{}, { since: T0 + 1 }, { until: T0 + 2 }, { since: T0 + 1, until: T0 + 1000 }, { since: T0 + 2, until: T0 + 3_600_000 }];
      for (const filter of filters) {
        for (const bound of bounds) {
          for (const limit of [1, 2, 3, 5, 1000]) {
            // Follows the pages as a client does, from the first to the last.
            let before: string | undefined;
            for (let page = 0; page < 200; page += 1) {
              const query: EventQuery = { ...filter, ...bound, limit, ...(before === undefined ? {} : { before }) };
              const got = await store.query(query);
              const want = expectedPage(store, all, query);
              expect.soft({ events: got.events.map((event) => event.id), next: got.next }, JSON.stringify(query)).toEqual(want);
              expect.soft(got.events, `bodies ${JSON.stringify(query)}`).toEqual(all.filter((event) => got.events.some((other) => other.id === event.id)).reverse());
              if (!want.next) break;
              before = want.next;
            }
          }
          // A cursor on every id, as a client that resumes anywhere.
          for (const id of ids) {
            const query: EventQuery = { ...filter, ...bound, before: id, limit: 4 };
            expect.soft((await store.query(query)).events.map((event) => event.id), JSON.stringify(query)).toEqual(expectedPage(store, all, query).events);
          }
        }
      }
    });
  }
});
