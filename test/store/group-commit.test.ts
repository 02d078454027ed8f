import { describe, expect, it } from 'vitest';
import { EventStore } from '../../src/store/events.js';
import { GroupCommitter, RIDE_ALONG_MAX_WAIT_MS, RIDER_RELEASE_MAX_WAIT_MS } from '../../src/store/group-commit.js';
import { QueueStore, type QueueOperation } from '../../src/store/queue.js';
import { makeEvent } from '../admin/fixture.js';
import { useTempDatabase } from '../helpers/database.js';

/** The real queue store, noting the size and sync flag of each batch it writes. */
class RecordingQueueStore extends QueueStore {
  readonly batches: Array<{ operations: number; sync: boolean }> = [];

  override async commit(operations: QueueOperation[], sync = true): Promise<void> {
    this.batches.push({ operations: operations.length, sync });
    await super.commit(operations, sync);
  }
}

describe('GroupCommitter', () => {
  const temp = useTempDatabase();

  /** Returns a committer over a recording queue store, and puts of keys into a 'records' sublevel. */
  function setup() {
    const queue = new RecordingQueueStore(temp.db);
    const committer = new GroupCommitter(queue);
    const records = temp.db.sublevel<string>('records');
    const put = (key: string): QueueOperation[] => [{ type: 'put', sublevel: records, key, value: key }];
    return { queue, committer, records, put };
  }

  it('syncs a shared batch when one caller needs it', async () => {
    const { queue, committer, records, put } = setup();

    // The first call writes alone; the calls made meanwhile share the next batch.
    const first = committer.commit(put('a'));
    const unsynced = [committer.commit(put('b'), { sync: false }), committer.commit(put('c'), { sync: false })];
    await Promise.all([first, ...unsynced]);
    const mixed = [committer.commit(put('d'), { sync: false }), committer.commit(put('e'), { sync: false })];
    const synced = committer.commit(put('f'));
    await Promise.all([...mixed, synced]);

    expect(queue.batches).toEqual([
      { operations: 1, sync: true },
      { operations: 2, sync: false },
      { operations: 1, sync: false },
      { operations: 2, sync: true },
    ]);
    expect(await records.keys().all()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('writes ride-along operations with the next batch', async () => {
    const { queue, committer, records, put } = setup();
    const ride = (key: string): Promise<void> => committer.commit(put(key), { sync: false, rideAlong: true });

    // Alone, a ride-along write waits for its timer, then goes out unsynced.
    const started = performance.now();
    await ride('a');
    expect(performance.now() - started).toBeGreaterThanOrEqual(RIDE_ALONG_MAX_WAIT_MS - 1);

    // Riders join the batch that the next synced caller starts.
    await Promise.all([ride('b'), ride('c'), committer.commit(put('d'))]);

    // A rider that arrives during a batch starts no batch of its own after it.
    const first = committer.commit(put('e'));
    const late = ride('f');
    await first;
    await Promise.all([late, committer.commit(put('g'))]);

    expect(queue.batches).toEqual([
      { operations: 1, sync: false },
      { operations: 3, sync: true },
      { operations: 1, sync: true },
      { operations: 2, sync: true },
    ]);
    expect(await records.keys().all()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('carries event writes with queue writes', async () => {
    const queue = new RecordingQueueStore(temp.db);
    const committer = new GroupCommitter(queue);
    const events = new EventStore(temp.db, { caseSensitiveLocalPart: false }, {
      write: (operations) => committer.commit(operations, { sync: false, rideAlong: true }),
    });
    const records = temp.db.sublevel<string>('records');

    const work: Array<Promise<unknown>> = [];
    for (let index = 0; index < 50; index += 1) {
      work.push(committer.commit([{ type: 'put', sublevel: records, key: String(index).padStart(2, '0'), value: 'x' }]));
      work.push(events.append([makeEvent({ recipient: `user${index}@d${index % 2}.example`, action: 'delivered' })]));
    }
    await Promise.all(work);

    expect((await events.query({ limit: 100 })).events).toHaveLength(50);
    const since = Date.parse('2026-01-01T00:00:00.000Z');
    const rows = await events.segments({ dimension: 'domain', since, until: since + 3_600_000 });
    expect(rows.map((row) => [row.value, row.delivered]).sort()).toEqual([
      ['d0.example', 25],
      ['d1.example', 25],
    ]);
    expect(await records.keys().all()).toHaveLength(50);
    // Fewer batches than callers: the committer grouped them.
    expect(queue.batches.length).toBeLessThan(100);
  });

  it('releases riders after batch starters', async () => {
    const { queue, committer, records, put } = setup();
    const ride = (key: string): Promise<number> => committer.commit(put(key), { sync: false, rideAlong: true }).then(() => order.push(`${key} rider`));
    const order: string[] = [];

    const first = committer.commit(put('a')).then(() => order.push('a'));
    const rider = ride('b');
    const starter = committer.commit(put('c')).then(() => order.push('c'));
    await first;
    await starter;
    expect(order).toEqual(['a', 'c']);

    // The rider's batch is written. It goes on when the next synced batch starts, before that batch is written.
    const next = committer.commit(put('d')).then(() => order.push('d'));
    await Promise.all([rider, next]);
    expect(order).toEqual(['a', 'c', 'b rider', 'd']);

    // Without a next synced batch, a rider goes on after the release timer.
    const lone = ride('e');
    const second = committer.commit(put('f')).then(() => order.push('f'));
    await second;
    const released = performance.now();
    await lone;
    expect(performance.now() - released).toBeGreaterThanOrEqual(RIDER_RELEASE_MAX_WAIT_MS - 2);
    expect(order).toEqual(['a', 'c', 'b rider', 'd', 'f', 'e rider']);

    expect(queue.batches).toEqual([
      { operations: 1, sync: true },
      { operations: 2, sync: true },
      { operations: 1, sync: true },
      { operations: 2, sync: true },
    ]);
    expect(await records.keys().all()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });
});
