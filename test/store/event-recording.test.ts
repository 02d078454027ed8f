import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';
import { makeEvent } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

describe('events.record', () => {
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

  it('off returns ids but writes nothing', async () => {
    const store = new EventStore(db, { caseSensitiveLocalPart: false }, { record: false });
    const [event] = await store.append([makeEvent({ recipient: 'a@example.com' })]);
    expect(event?.id).toMatch(/^\d{19}[0-9a-f]{4}$/);
    expect((await store.query({ limit: 10 })).events).toEqual([]);
    // A window of two hours around the event: segments() reads the counters hour by hour.
    const at = Date.parse(event?.time ?? '');
    expect(await store.segments({ dimension: 'domain', since: at - 3_600_000, until: at + 3_600_000 })).toEqual([]);
  });

  it('off still passes events to listeners', async () => {
    const store = new EventStore(db, { caseSensitiveLocalPart: false }, { record: false });
    const received: string[] = [];
    store.subscribe((events) => received.push(...events.map((event) => event.recipient)));
    await store.append([makeEvent({ recipient: 'a@example.com' }), makeEvent({ recipient: 'b@example.com' })]);
    expect(received).toEqual(['a@example.com', 'b@example.com']);
  });

  it('on by default writes every event', async () => {
    const store = new EventStore(db, { caseSensitiveLocalPart: false });
    await store.append([makeEvent({ recipient: 'a@example.com' }), makeEvent({ recipient: 'b@example.com' })]);
    expect((await store.query({ limit: 10 })).events).toHaveLength(2);
  });
});
