import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newEventId } from '../../src/core/ids.js';
import { DELIVERY_EVENT_FIELDS, type DeliveryEvent } from '../../src/core/types.js';
import { Database } from '../../src/store/db.js';
import { expandStored, groupEvents, type EventGroup } from '../../src/store/event-groups.js';
import { EventStore, type NewEvent } from '../../src/store/events.js';
import { makeEvent } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

const normalize = { caseSensitiveLocalPart: false };
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

/** Events of one attempt with ids as the store assigns them: one millisecond, counters in a row. */
function attempt(count: number, time = T0, fields: Partial<DeliveryEvent> = {}): DeliveryEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    ...makeEvent({ time: new Date(time).toISOString(), queueId: 'Q-GROUP', recipient: `r${index}@group.example`, mx: 'mx.group.example', ...fields }),
    id: newEventId(time),
  }));
}

describe('event groups', () => {
  it('round-trips an attempt through one value', () => {
    const events = attempt(10);
    events[3] = { ...events[3]!, code: 451, text: '451 4.7.1 Try again later', action: 'deferred', tls: { version: 'TLSv1.3', cipher: 'x', verified: false, error: null } };
    const stored = groupEvents(events);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.key).toBe(events[0]?.id);
    const expanded = expandStored(stored[0]!.value);
    expect(expanded).toEqual(events);
    expect(expanded.map((event) => JSON.stringify(event))).toEqual(events.map((event) => JSON.stringify(event)));
    // Later members contain only what differs from the first.
    expect(JSON.stringify(stored[0]?.value).length).toBeLessThan(JSON.stringify(events).length / 3);
  });

  it('stores one differing field per member', () => {
    // The store puts the id first, which gives the layout of DELIVERY_EVENT_FIELDS.
    const inLayout = (event: DeliveryEvent): DeliveryEvent => {
      const { id, ...rest } = event;
      return { id, ...rest };
    };
    const changed: Record<string, unknown> = {
      time: new Date(T0 + 5).toISOString(),
      queueId: 'Q-OTHER',
      messageId: '<other@example>',
      sender: 'other@sender.example',
      recipient: 'other@group.example',
      stage: 'data',
      mx: 'mx2.group.example',
      remoteIp: '192.0.2.7',
      remotePort: 2525,
      localIp: '192.0.2.8',
      tls: { version: 'TLSv1.3', cipher: 'x', verified: true, error: null },
      code: 421,
      enhancedCode: '4.7.0',
      text: '421 4.7.0 other',
      attempt: 2,
      permanent: false,
      reason: 'other',
      action: 'deferred',
      source: { ip: '10.0.0.9', user: 'app' },
      campaign: 'autumn',
      side: 'sender',
      rule: 'other-rule',
      suppressed: false,
    };
    expect(Object.keys(changed)).toEqual(DELIVERY_EVENT_FIELDS.slice(1));
    for (const [name, value] of Object.entries(changed)) {
      const [first, second] = attempt(2).map(inLayout) as [DeliveryEvent, DeliveryEvent];
      const event = { ...second, recipient: first.recipient, [name]: value } as DeliveryEvent;
      expect(Object.keys(event)).toEqual([...DELIVERY_EVENT_FIELDS]);
      const stored = groupEvents([first, event]);
      expect(stored).toHaveLength(1);
      expect((stored[0]?.value as EventGroup).group[1]).toEqual({ id: event.id, [name]: value });
      expect(expandStored(stored[0]!.value)).toEqual([first, event]);
    }
    // Equal objects that are not the same object are not stored again.
    const [first, second] = attempt(2, T0, { source: { ip: '10.0.0.1', user: null } }).map(inLayout) as [DeliveryEvent, DeliveryEvent];
    const copy = { ...second, source: { ip: '10.0.0.1', user: null } };
    expect((groupEvents([first, copy])[0]?.value as EventGroup).group[1]).toEqual({ id: copy.id, recipient: copy.recipient });
  });

  it('ends a group at a gap or new field', () => {
    const first = attempt(3);
    const later = attempt(2, T0 + 1);
    // Its id follows the last of `later`, but it has a field the others lack.
    const odd = { ...attempt(1, T0 + 1)[0]!, extra: true } as DeliveryEvent;
    const stored = groupEvents([...first, ...later, odd]);
    expect(stored.map((entry) => entry.key)).toEqual([first[0]?.id, later[0]?.id, odd.id]);
    expect(stored.flatMap((entry) => expandStored(entry.value))).toEqual([...first, ...later, odd]);
    expect(stored[2]?.value).toEqual(odd);
  });
});

describe('an event store with grouped events', () => {
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

  async function storedKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of db.sublevel<unknown>('events').keys()) {
      keys.push(key);
    }
    return keys;
  }

  const newAttempt = (count: number, time: number, fields: Partial<DeliveryEvent> = {}) =>
    Array.from({ length: count }, (_, index) =>
      makeEvent({ time: new Date(time).toISOString(), queueId: 'Q-GROUP', recipient: `r${index}@group.example`, mx: 'mx.group.example', ...fields }),
    );

  it('reads grouped events by id and index', async () => {
    const before = await events.append([makeEvent({ time: new Date(T0 - 1000).toISOString(), recipient: 'early@other.example' })]);
    const stored = await events.append(newAttempt(6, T0));
    const after = await events.append([makeEvent({ time: new Date(T0 + 1000).toISOString(), recipient: 'late@other.example' })]);
    expect(await storedKeys()).toEqual([before[0]?.id, stored[0]?.id, after[0]?.id]);

    for (const event of stored) {
      expect(await events.get(event.id)).toEqual(event);
    }
    expect(await events.get(`${stored[5]?.id ?? ''}x`)).toBeNull();
    expect(await events.latestId()).toBe(after[0]?.id);

    const third = stored[2]!;
    const fromRecipient = await events.query({ recipient: third.recipient, limit: 10 });
    expect(fromRecipient.events).toEqual([third]);
    const byQueue = await events.query({ queueId: 'Q-GROUP', limit: 10 });
    expect(byQueue.events).toEqual([...stored].reverse());
  });

  it('pages and resumes inside a group', async () => {
    await events.append([makeEvent({ time: new Date(T0 - 1000).toISOString(), recipient: 'early@other.example' })]);
    const stored = await events.append(newAttempt(7, T0));
    const newestFirst = [...stored].reverse().map((event) => event.recipient).concat('early@other.example');

    for (const filter of [{}, { domain: 'group.example' }, { mx: 'mx.group.example' }] as const) {
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await events.query({ ...filter, limit: 3, ...(before ? { before } : {}) });
        seen.push(...page.events.map((event) => event.recipient));
        if (!page.next) {
          break;
        }
        before = page.next;
      }
      expect(seen).toEqual('domain' in filter || 'mx' in filter ? newestFirst.slice(0, 7) : newestFirst);
    }

    const resumed: string[] = [];
    for await (const event of events.eventsAfter(stored[3]!.id)) {
      resumed.push(event.id);
    }
    expect(resumed).toEqual(stored.slice(4).map((event) => event.id));

    const fromFirst: string[] = [];
    for await (const event of events.eventsAfter(stored[0]!.id)) {
      fromFirst.push(event.id);
    }
    expect(fromFirst).toEqual(stored.slice(1).map((event) => event.id));
  });

  it('reads the one-per-key layout', async () => {
    const old = attempt(4);
    const sublevel = db.sublevel<DeliveryEvent>('events');
    for (const event of old) {
      await sublevel.put(event.id, event);
    }
    await db.sublevel<string>('events-by-queue').put(`Q-GROUP\u0000${old[0]?.id ?? ''}`, old[3]?.id ?? '');
    await db.sublevel<string>('events-by-recipient').put(`r2@group.example\u0000${old[2]?.id ?? ''}`, '');

    expect((await events.query({ queueId: 'Q-GROUP', limit: 10 })).events).toEqual([...old].reverse());
    expect((await events.query({ recipient: 'r2@group.example', limit: 10 })).events).toEqual([old[2]]);
    expect(await events.get(old[1]!.id)).toEqual(old[1]);
    expect(await events.latestId()).toBe(old[3]?.id);
  });

  it('keeps an undefined field out of a group', async () => {
    const stored = await events.append([
      makeEvent({ time: new Date(T0).toISOString(), recipient: 'a@x.example', campaign: 'spring' }),
      { ...makeEvent({ time: new Date(T0).toISOString(), recipient: 'b@x.example' }), campaign: undefined } as unknown as NewEvent,
    ]);

    expect(await storedKeys()).toHaveLength(2);
    expect((await events.get(stored[1]!.id))?.campaign).toBeUndefined();
  });

  it('reads an event with a field named group', async () => {
    const stored = await events.append([{ ...makeEvent({ time: new Date(T0).toISOString() }), group: ['x'] } as unknown as NewEvent]);
    expect(await events.get(stored[0]!.id)).toEqual(stored[0]);
  });

  it('orders the events of a restarted process', async () => {
    /** Returns an event store from a fresh module graph: a new process tag and counter, as after a restart. */
    const restartedStore = async (): Promise<EventStore> => {
      vi.resetModules();
      const module = await import('../../src/store/events.js');
      const store = new module.EventStore(db, normalize) as unknown as EventStore;
      await store.continueIds();
      return store;
    };
    // The second process writes in the same millisecond, as after the clock went back.
    const first = await restartedStore();
    const a = await first.append(newAttempt(3, T0));
    const second = await restartedStore();
    const b = await second.append(newAttempt(3, T0));
    const ids = [...a, ...b].map((event) => event.id).sort();
    const reader = new EventStore(db, normalize);

    expect(b.map((event) => event.id).every((id) => a.every((earlier) => id > earlier.id))).toBe(true);
    for (const event of [...a, ...b]) {
      expect(await reader.get(event.id)).toEqual(event);
    }
    expect((await reader.query({ limit: 10 })).events.map((event) => event.id)).toEqual([...ids].reverse());
    expect((await reader.query({ queueId: 'Q-GROUP', limit: 10 })).events.map((event) => event.id)).toEqual([...ids].reverse());
    for (const [position, id] of ids.entries()) {
      const after: string[] = [];
      for await (const event of reader.eventsAfter(id)) {
        after.push(event.id);
      }
      expect(after).toEqual(ids.slice(position + 1));
    }
  });

  it('backfills the indexes of grouped events', async () => {
    await events.append(newAttempt(5, T0, { campaign: 'spring' }));
    for (const name of ['events-by-mx', 'events-by-reason', 'events-by-campaign', 'events-by-source', 'event-rollups', 'events-meta']) {
      await db.sublevel<unknown>(name).clear();
    }
    events = new EventStore(db, normalize);
    expect(await events.backfill()).toBe(5);
    expect((await events.query({ campaign: 'spring', limit: 10 })).events).toHaveLength(5);
  });
});
