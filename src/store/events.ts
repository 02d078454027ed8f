import type { Logger } from 'pino';
import { domainOf, normalizeAddress, sameDomainPart, type NormalizeOptions } from '../core/address.js';
import { continueEventIdsAfter, eventIdFloor, eventIdFollows, newEventId, sameEventIdTag } from '../core/ids.js';
import type { Action, DeliveryEvent, Stage } from '../core/types.js';
import { HIGH, SEP, type BatchOperation, type Database } from './db.js';
import { expandStored, groupEvents, type StoredEvents } from './event-groups.js';
import {
  addCounts,
  emptyCounts,
  dayKey,
  hourKey,
  rollupEntries,
  rollupSignature,
  sameRollupSignature,
  ROLLUP_DIMENSIONS,
  type ActionCounts,
  type RollupDimension,
  type SegmentRow,
  type TimelineBucket,
} from './rollups.js';

export { ROLLUP_DIMENSIONS, type ActionCounts, type RollupDimension, type SegmentRow, type TimelineBucket } from './rollups.js';

/** An event before the store assigns its id. */
export type NewEvent = Omit<DeliveryEvent, 'id'>;

/** Filters of an event query; every given field must match. */
export interface EventQuery {
  recipient?: string;
  domain?: string;
  queueId?: string;
  action?: Action;
  mx?: string;
  /** IP address of the remote MTA. */
  remoteIp?: string;
  code?: number;
  enhancedCode?: string;
  reason?: string;
  campaign?: string;
  /** Submission source: matches the client IP or the AUTH user of the submission. */
  source?: string;
  stage?: Stage;
  /** Inclusive lower bound, ms since the epoch. */
  since?: number;
  /** Exclusive upper bound, ms since the epoch. */
  until?: number;
  /** Return only events older than this event id (cursor pagination, newest first). */
  before?: string;
  limit: number;
}

/** A page of events, newest first, and the cursor of the next page when there is one. */
export interface EventPage {
  events: DeliveryEvent[];
  next: string | null;
}

/** A query of the hourly rollups: one dimension over a time range. */
export interface RollupQuery {
  dimension: RollupDimension;
  /** Inclusive lower bound, ms since the epoch; rounded down to the hour. */
  since: number;
  /** Exclusive upper bound, ms since the epoch; rounded up to the hour. */
  until: number;
}

type Index = 'rcpt' | 'domain' | 'queue' | 'mx' | 'reason' | 'campaign' | 'source';

/** Events of one batch that follow each other and share an index value, from `first` to `last`. */
interface IndexRun {
  index: Index;
  /** The value as it stands in the index key, without separators. */
  value: string;
  first: string;
  last: string;
}

/** Version of the index and rollup layout; stores written by older versions are backfilled. */
const INDEX_VERSION = 2;
const META_VERSION_KEY = 'events-index-version';
const META_BACKFILL_CURSOR_KEY = 'events-backfill-cursor';
const META_BACKFILL_BOUNDARY_KEY = 'events-backfill-boundary';
/** First UTC day ("YYYY-MM-DD") whose daily counters are complete; "" when all of them are. */
const META_DAILY_SINCE_KEY = 'events-daily-rollups-since';
const DAY_MS = 24 * 3_600_000;
/** Events read per backfill batch. */
const BACKFILL_BATCH = 500;
/** Rollup counters kept in memory, so appends to busy hours and values read nothing from disk. */
const ROLLUP_CACHE_SIZE = 10_000;
const HOUR_MS = 3_600_000;

/**
 * Stores delivery events in time order, with secondary indexes (`<value>\0<event id>`, so each index
 * is time-ordered per value) by normalised recipient, recipient domain, queue id, MX host, reason,
 * campaign and submission source. A filtered query is a range scan of one index, not a full scan.
 * An index entry's value is "" for one event, or the id of the last event of a run of consecutive
 * events that share the value (see indexRunOperations).
 * Each append also updates per-hour counters by action (`<hour>\0<dimension>\0<value>`), which
 * segment and timeline queries read instead of the events.
 */
export class EventStore {
  private readonly events;
  private readonly indexes;
  private readonly rollups;
  private readonly meta;
  private readonly normalize: NormalizeOptions;
  private readonly listeners = new Set<(events: readonly DeliveryEvent[]) => void>();
  /** Serialises writes, because rollup counters are read, added to and written back. */
  private writeChain: Promise<unknown> = Promise.resolve();
  /** Appends waiting for the next batch, and whether a batch is being written. */
  private waiting: Array<{ events: DeliveryEvent[]; resolve: () => void; reject: (error: unknown) => void }> = [];
  private flushing = false;
  private prepared: Promise<void> | null = null;
  private dailySinceValue: string | undefined;
  /**
   * Recently written rollup counters, oldest first. Every counter write goes through this class
   * under `writeChain`, so a cached value is always the stored one.
   */
  private readonly rollupCache = new Map<string, ActionCounts>();
  /**
   * The rollup keys of the last event group counted. With one attempt per batch, consecutive batches
   * often share a signature (the same reply text from one host), and the next batch reuses them.
   */
  private lastRollup: { event: DeliveryEvent; signature: string; keys: string[] } | null = null;

  /** False when events are not written (events.record: false, for benchmarks). Listeners still get them. */
  private readonly record: boolean;

  /**
   * Writes a batch of operations, by default on its own. The relay passes its group commit, so event
   * writes share a batch with the queue's writes instead of adding a thread-pool round trip each.
   * Batches must be applied in the order they are given, because each batch's counters are computed
   * from the values of the batch before it.
   */
  private readonly write: (operations: BatchOperation[]) => Promise<void>;

  constructor(db: Database, normalize: NormalizeOptions, options: { record?: boolean; write?: (operations: BatchOperation[]) => Promise<void> } = {}) {
    this.write = options.write ?? ((operations) => db.write(operations));
    this.record = options.record ?? true;
    this.events = db.sublevel<StoredEvents>('events');
    this.indexes = {
      rcpt: db.sublevel<string>('events-by-recipient'),
      domain: db.sublevel<string>('events-by-domain'),
      queue: db.sublevel<string>('events-by-queue'),
      mx: db.sublevel<string>('events-by-mx'),
      reason: db.sublevel<string>('events-by-reason'),
      campaign: db.sublevel<string>('events-by-campaign'),
      source: db.sublevel<string>('events-by-source'),
    };
    this.rollups = db.sublevel<ActionCounts>('event-rollups');
    this.meta = db.sublevel<unknown>('events-meta');
    this.normalize = normalize;
  }

  /** Records events in one batch and returns them with their ids. */
  async append(items: NewEvent[]): Promise<DeliveryEvent[]> {
    if (items.length === 0) {
      return [];
    }
    // The events of one attempt share their time, so it is parsed once for them.
    let time = '';
    let millis = Number.NaN;
    const stored: DeliveryEvent[] = items.map((item) => {
      if (item.time !== time) {
        time = item.time;
        millis = Date.parse(time);
      }
      return { id: newEventId(millis || Date.now()), ...item };
    });
    if (this.record) {
      await new Promise<void>((resolve, reject) => {
        this.waiting.push({ events: stored, resolve, reject });
        if (!this.flushing) {
          void this.flush();
        }
      });
    }
    // Without recording, listeners such as the metrics still get the events, so that switching it
    // off removes only the writes.
    for (const listener of this.listeners) {
      listener(stored);
    }
    return stored;
  }

  /**
   * Registers a callback that gets the events of each later append in one call, in id order.
   * Returns the function that removes it.
   */
  subscribe(listener: (events: readonly DeliveryEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Returns events newest first, using the most selective index the query allows. */
  async query(query: EventQuery): Promise<EventPage> {
    const low = query.since === undefined ? '' : eventIdFloor(query.since);
    let high = query.until === undefined ? HIGH : eventIdFloor(query.until);
    if (query.before !== undefined && query.before < high) {
      high = query.before;
    }

    const events: DeliveryEvent[] = [];
    for await (const event of this.scan(query, low, high)) {
      if (!this.matches(event, query)) {
        continue;
      }
      if (events.length === query.limit) {
        return { events, next: events[events.length - 1]?.id ?? null };
      }
      events.push(event);
    }
    return { events, next: null };
  }

  /** Returns one event by id, or null. */
  async get(id: string): Promise<DeliveryEvent | null> {
    const stored = await this.valueHolding(id);
    return stored ? (expandStored(stored).find((event) => event.id === id) ?? null) : null;
  }

  /**
   * Continues this process's event id counter after the newest stored id (see
   * continueEventIdsAfter). The relay calls it once at start, before the first append.
   */
  async continueIds(): Promise<void> {
    const latest = await this.latestId();
    if (latest !== null) {
      continueEventIdsAfter(latest);
    }
  }

  /** Returns the id of the newest event, or null when the store is empty. */
  async latestId(): Promise<string | null> {
    for await (const stored of this.events.values({ reverse: true, limit: 1 })) {
      return expandStored(stored).at(-1)?.id ?? null;
    }
    return null;
  }

  /** Iterates events with ids after `afterId`, oldest first (used to catch up after a restart). */
  async *eventsAfter(afterId: string): AsyncGenerator<DeliveryEvent> {
    // The group that contains `afterId` may have later members.
    const holding = await this.valueHolding(afterId);
    for (const event of holding ? expandStored(holding) : []) {
      if (event.id > afterId) {
        yield event;
      }
    }
    for await (const stored of this.events.values({ gt: afterId })) {
      yield* expandStored(stored);
    }
  }

  /** Returns the stored value that may contain `id`: the one under `id`, else the one under the greatest key below it. */
  private async valueHolding(id: string): Promise<StoredEvents | undefined> {
    return (await this.events.get(id)) ?? (await this.groupBefore(id));
  }

  /** Returns the stored value under the greatest key below `id`: the group that may contain `id`. */
  private async groupBefore(id: string): Promise<StoredEvents | undefined> {
    for await (const stored of this.events.values({ lt: id, reverse: true, limit: 1 })) {
      return stored;
    }
    return undefined;
  }

  /**
   * Iterates the events with ids from `low` (inclusive) to `high` (exclusive), newest first. A group
   * is stored under its first id, so the group that starts below `low` is read for its later members.
   */
  private async *eventsBetween(low: string, high: string): AsyncGenerator<DeliveryEvent> {
    let lowest: string | null = null;
    for await (const [key, stored] of this.events.iterator({ gte: low, lt: high, reverse: true })) {
      lowest = key;
      yield* newestFirst(expandStored(stored), low, high);
    }
    const before = low === '' || lowest === low ? undefined : await this.groupBefore(low);
    if (before) {
      yield* newestFirst(expandStored(before), low, high);
    }
  }

  /**
   * Sums the counters of one dimension over a time range, by value. The range is widened to whole
   * hours: `since` is rounded down and `until` up. Whole UTC days inside the range are read from the
   * daily counters, the hours at either end from the hourly ones, so 30 days cost about 30 reads
   * per value instead of 720.
   */
  async segments(query: RollupQuery): Promise<SegmentRow[]> {
    const totals = new Map<string, ActionCounts>();
    const dailySince = await this.dailySince();
    const end = Math.floor(query.since / HOUR_MS) * HOUR_MS + hoursBetween(query.since, query.until).length * HOUR_MS;
    for (let time = Math.floor(query.since / HOUR_MS) * HOUR_MS; time < end; ) {
      const wholeDay = time % DAY_MS === 0 && time + DAY_MS <= end && dailySince !== null && dayKey(time) >= dailySince;
      const prefix = `${wholeDay ? dayKey(time) : hourKey(time)}${SEP}${query.dimension}${SEP}`;
      for await (const [key, counts] of this.rollups.iterator({ gte: prefix, lt: `${prefix}${HIGH}` })) {
        const value = key.slice(prefix.length);
        totals.set(value, addCounts(totals.get(value) ?? emptyCounts(), counts));
      }
      time += wholeDay ? DAY_MS : HOUR_MS;
    }
    return [...totals].map(([value, counts]) => ({ value, ...counts }));
  }

  /**
   * Returns the first day whose daily counters are complete ("" for every day), or null before
   * this version wrote its first event into the store. Stores written before daily counters
   * existed get them from the day after the first append of this version.
   */
  private async dailySince(): Promise<string | null> {
    if (this.dailySinceValue === undefined) {
      const stored = (await this.meta.get(META_DAILY_SINCE_KEY)) as string | undefined;
      if (stored === undefined) {
        return null;
      }
      this.dailySinceValue = stored;
    }
    return this.dailySinceValue;
  }

  /** Returns the hourly counters of one dimension over a time range, oldest hour first. */
  async timeline(query: RollupQuery): Promise<TimelineBucket[]> {
    const buckets: TimelineBucket[] = [];
    for (const hour of hoursBetween(query.since, query.until)) {
      const prefix = `${hour}${SEP}${query.dimension}${SEP}`;
      const values: Record<string, ActionCounts> = {};
      for await (const [key, counts] of this.rollups.iterator({ gte: prefix, lt: `${prefix}${HIGH}` })) {
        values[key.slice(prefix.length)] = counts;
      }
      buckets.push({ hour: `${hour}:00:00.000Z`, values });
    }
    return buckets;
  }

  /**
   * Brings indexes and rollups of a store written by an older version up to date: writes the MX,
   * reason, campaign and source index entries and the hourly counters of every event that existed
   * before this version wrote its first event. Progress is stored with each batch, so a restart
   * resumes where it stopped instead of counting events twice. Appends may run at the same time.
   */
  async backfill(logger?: Logger): Promise<number> {
    await this.serialized(() => this.prepare());
    if ((await this.meta.get(META_VERSION_KEY)) === INDEX_VERSION) {
      return 0;
    }
    const boundary = ((await this.meta.get(META_BACKFILL_BOUNDARY_KEY)) as string | undefined) ?? '';
    let cursor = ((await this.meta.get(META_BACKFILL_CURSOR_KEY)) as string | undefined) ?? '';
    let processed = 0;

    for (;;) {
      const batch: DeliveryEvent[] = [];
      let read = 0;
      for await (const [key, stored] of this.events.iterator({ gt: cursor, lte: boundary, limit: BACKFILL_BATCH })) {
        batch.push(...expandStored(stored).filter((event) => event.id <= boundary));
        cursor = key;
        read += 1;
      }
      if (read === 0) {
        break;
      }
      const nextCursor = cursor;
      await this.serialized(async () => {
        const operations: BatchOperation[] = batch.flatMap((event) => this.addedIndexOperations(event));
        await this.rollupOperations(batch, operations);
        operations.push({ type: 'put', sublevel: this.meta, key: META_BACKFILL_CURSOR_KEY, value: nextCursor });
        await this.writeBatch(operations);
      });
      processed += batch.length;
    }

    await this.meta.put(META_VERSION_KEY, INDEX_VERSION);
    if (processed > 0) {
      logger?.info({ events: processed }, 'event indexes and hourly rollups backfilled');
    }
    return processed;
  }

  /**
   * Records, before this version writes its first event, the newest event id of an older store:
   * events up to it lack the version 2 indexes and counters, later ones carry them.
   */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      if ((await this.meta.get(META_DAILY_SINCE_KEY)) === undefined) {
        // Events already stored have hourly counters only, so today's daily counters start short.
        const since = (await this.latestId()) === null ? '' : dayKey(Date.now() + DAY_MS);
        await this.meta.put(META_DAILY_SINCE_KEY, since);
      }
      if ((await this.meta.get(META_VERSION_KEY)) === INDEX_VERSION) {
        return;
      }
      if ((await this.meta.get(META_BACKFILL_BOUNDARY_KEY)) === undefined) {
        await this.meta.put(META_BACKFILL_BOUNDARY_KEY, (await this.latestId()) ?? '');
      }
    })();
    return this.prepared;
  }

  /**
   * Writes the events of every append that arrived while the previous write ran in one batch, so
   * concurrent appends share a write and add to each hourly counter once.
   */
  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      const events: DeliveryEvent[] = [];
      for (const waiter of group) {
        for (const event of waiter.events) {
          events.push(event);
        }
      }
      try {
        await this.serialized(async () => {
          await this.prepare();
          const follows: boolean[] = [];
          let previousId = '';
          for (const event of events) {
            follows.push(previousId !== '' && eventIdFollows(previousId, event.id));
            previousId = event.id;
          }
          const operations: BatchOperation[] = [];
          for (const { key, value } of groupEvents(events, follows)) {
            operations.push({ type: 'put', sublevel: this.events, key, value });
          }
          this.indexRunOperations(events, follows, operations);
          await this.rollupOperations(events, operations);
          // The sublevel batch form keeps every index entry and counter in the same atomic write as its event.
          await this.writeBatch(operations);
        });
        for (const waiter of group) {
          waiter.resolve();
        }
      } catch (error) {
        for (const waiter of group) {
          waiter.reject(error);
        }
      }
    }
    this.flushing = false;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const result = this.writeChain.then(work, work);
    this.writeChain = result.catch(() => undefined);
    return result;
  }

  private async *scan(query: EventQuery, low: string, high: string): AsyncGenerator<DeliveryEvent> {
    const chosen = this.chooseIndex(query);
    if (!chosen) {
      yield* this.eventsBetween(low, high);
      return;
    }

    const [index, value] = chosen;
    const entries = this.indexes[index].iterator({ gte: `${value}${SEP}${low}`, lt: `${value}${SEP}${high}`, reverse: true });
    for await (const [key, last] of entries) {
      const first = key.slice(key.lastIndexOf(SEP) + 1);
      if (!last) {
        const event = await this.get(first);
        if (event) {
          yield event;
        }
        continue;
      }
      // A run entry: the events from `first` to `last` share the value. All of them share the
      // millisecond of `first`, so `low` never cuts a run, but a `before` cursor in `high` may.
      // Appending SEP gives the smallest id above `last`, because event ids have a fixed length.
      const upper = `${last}${SEP}` < high ? `${last}${SEP}` : high;
      for await (const event of this.eventsBetween(first, upper)) {
        if (sameEventIdTag(event.id, first)) {
          yield event;
        }
      }
    }
  }

  /** Picks the index that is likely to match the fewest events: a recipient before a whole domain, and so on. */
  private chooseIndex(query: EventQuery): [Index, string] | null {
    if (query.recipient) {
      return ['rcpt', normalizeAddress(query.recipient, this.normalize)];
    }
    if (query.queueId) {
      return ['queue', query.queueId];
    }
    if (query.domain) {
      return ['domain', domainOf(`x@${query.domain}`)];
    }
    if (query.mx) {
      return ['mx', indexValue(query.mx.toLowerCase())];
    }
    if (query.campaign) {
      return ['campaign', indexValue(query.campaign)];
    }
    if (query.source) {
      return ['source', indexValue(query.source)];
    }
    if (query.reason) {
      return ['reason', indexValue(query.reason)];
    }
    return null;
  }

  private indexKeys(event: DeliveryEvent): Array<[Index, string]> {
    const keys: Array<[Index, string]> = [['queue', event.queueId]];
    if (event.recipient) {
      keys.push(['rcpt', normalizeAddress(event.recipient, this.normalize)]);
      keys.push(['domain', domainOf(event.recipient)]);
    }
    return keys.concat(addedIndexKeys(event));
  }

  /**
   * Appends the index entries of a batch of events to `operations`. Consecutive events whose ids
   * follow each other (see eventIdFollows) and that share an index value get one entry, whose value
   * is the id of the last of them. So an attempt to ten recipients writes one entry for its queue
   * id, domain, MX host, reason and source instead of ten. A single event's entry keeps the value "".
   */
  private indexRunOperations(events: readonly DeliveryEvent[], follows: readonly boolean[], operations: BatchOperation[]): void {
    const close = (run: IndexRun): void => {
      operations.push({
        type: 'put',
        sublevel: this.indexes[run.index],
        key: `${run.value}${SEP}${run.first}`,
        value: run.last === run.first ? '' : run.last,
      });
    };
    // Runs that the previous event extended. An event has at most eight index values, so a linear
    // search of this list is cheaper than hashing a key per value.
    let open: IndexRun[] = [];
    let previous: DeliveryEvent | null = null;
    for (const [position, event] of events.entries()) {
      const follow = follows[position] === true;
      if (follow && previous !== null && sameIndexedFields(previous, event)) {
        // As with the events of one attempt, only the recipient's run can end here.
        const recipient = event.recipient ? indexValue(normalizeAddress(event.recipient, this.normalize)) : '';
        for (const [slot, run] of open.entries()) {
          if (run.index === 'rcpt' && run.value !== recipient) {
            close(run);
            open[slot] = { index: 'rcpt', value: recipient, first: event.id, last: event.id };
          } else {
            run.last = event.id;
          }
        }
        previous = event;
        continue;
      }
      const next: IndexRun[] = [];
      for (const [index, raw] of this.indexKeys(event)) {
        const value = indexValue(raw);
        const found = follow ? open.findIndex((run) => run.index === index && run.value === value) : -1;
        const run = found < 0 ? undefined : open[found];
        if (run) {
          open.splice(found, 1);
          run.last = event.id;
          next.push(run);
        } else if (!next.some((other) => other.index === index && other.value === value)) {
          next.push({ index, value, first: event.id, last: event.id });
        }
      }
      open.forEach(close);
      open = next;
      previous = event;
    }
    open.forEach(close);
  }

  /** Returns the entries of the indexes that version 2 added, one per event, for the backfill. */
  private addedIndexOperations(event: DeliveryEvent): BatchOperation[] {
    return addedIndexKeys(event).map(([index, value]) => ({
      type: 'put',
      sublevel: this.indexes[index],
      key: `${indexValue(value)}${SEP}${event.id}`,
      value: '',
    }));
  }

  /** Reads the counters that the events touch and appends to `operations` the puts that add the events to them. */
  private async rollupOperations(events: DeliveryEvent[], operations: BatchOperation[]): Promise<void> {
    const groups = new Map<string, { event: DeliveryEvent; signature: string; counts: ActionCounts }>();
    let group: { event: DeliveryEvent; signature: string; counts: ActionCounts } | undefined;
    for (const event of events) {
      // The events of one attempt usually follow each other with the same signature.
      if (!group || !sameRollupSignature(group.event, event)) {
        const last = this.lastRollup;
        const signature = last && sameRollupSignature(last.event, event) ? last.signature : rollupSignature(event);
        group = groups.get(signature);
        if (!group) {
          group = { event, signature, counts: emptyCounts() };
          groups.set(signature, group);
        }
      }
      group.counts[event.action] += 1;
    }
    const deltas = new Map<string, ActionCounts>();
    for (const { event, signature, counts } of groups.values()) {
      const keys = this.lastRollup?.signature === signature ? this.lastRollup.keys : rollupEntries(event);
      this.lastRollup = { event, signature, keys };
      for (const key of keys) {
        deltas.set(key, addCounts(deltas.get(key) ?? emptyCounts(), counts));
      }
    }
    const keys = [...deltas.keys()];
    const missing = keys.filter((key) => !this.rollupCache.has(key));
    const loaded = missing.length === 0 ? [] : await this.rollups.getMany(missing);
    const stored = new Map(missing.map((key, position) => [key, loaded[position] ?? emptyCounts()]));

    for (const key of keys) {
      const value = addCounts(this.rollupCache.get(key) ?? stored.get(key) ?? emptyCounts(), deltas.get(key) ?? emptyCounts());
      this.remember(key, value);
      operations.push({ type: 'put', sublevel: this.rollups, key, value });
    }
  }

  /** Writes a batch; after a failed write the counter cache may hold unwritten values, so it is cleared. */
  private async writeBatch(operations: BatchOperation[]): Promise<void> {
    try {
      await this.write(operations);
    } catch (error) {
      this.rollupCache.clear();
      throw error;
    }
  }

  /** Caches a counter as the newest entry, dropping the oldest beyond ROLLUP_CACHE_SIZE. */
  private remember(key: string, value: ActionCounts): void {
    this.rollupCache.delete(key);
    this.rollupCache.set(key, value);
    if (this.rollupCache.size > ROLLUP_CACHE_SIZE) {
      const oldest = this.rollupCache.keys().next().value;
      if (oldest !== undefined) {
        this.rollupCache.delete(oldest);
      }
    }
  }

  /** Checks whether an event passes every filter of a query, apart from the time bounds, cursor and limit. */
  matches(event: DeliveryEvent, query: Omit<EventQuery, 'limit'>): boolean {
    if (query.action && event.action !== query.action) return false;
    if (query.mx && event.mx?.toLowerCase() !== query.mx.toLowerCase()) return false;
    if (query.remoteIp && event.remoteIp !== query.remoteIp) return false;
    if (query.code !== undefined && event.code !== query.code) return false;
    if (query.enhancedCode && event.enhancedCode !== query.enhancedCode) return false;
    if (query.reason && event.reason !== query.reason) return false;
    if (query.campaign && event.campaign !== query.campaign) return false;
    if (query.stage && event.stage !== query.stage) return false;
    if (query.source && event.source?.ip !== query.source && event.source?.user !== query.source) return false;
    if (query.domain && domainOf(event.recipient) !== domainOf(`x@${query.domain}`)) return false;
    if (query.queueId && event.queueId !== query.queueId) return false;
    if (query.recipient && normalizeAddress(event.recipient, this.normalize) !== normalizeAddress(query.recipient, this.normalize)) {
      return false;
    }
    return true;
  }
}

/** Index entries that version 2 added; the backfill writes only these for older events. */
function addedIndexKeys(event: DeliveryEvent): Array<[Index, string]> {
  const keys: Array<[Index, string]> = [['reason', event.reason]];
  if (event.mx) {
    keys.push(['mx', event.mx.toLowerCase()]);
  }
  if (event.campaign) {
    keys.push(['campaign', event.campaign]);
  }
  if (event.source) {
    keys.push(['source', event.source.ip]);
    if (event.source.user && event.source.user !== event.source.ip) {
      keys.push(['source', event.source.user]);
    }
  }
  return keys;
}

/**
 * Tells whether two events have the same values in every index but the recipient's: queue id,
 * reason, MX host, campaign, source and the raw recipient domain, as the events of one attempt do.
 */
function sameIndexedFields(left: DeliveryEvent, right: DeliveryEvent): boolean {
  return (
    left.queueId === right.queueId &&
    left.reason === right.reason &&
    left.mx === right.mx &&
    left.campaign === right.campaign &&
    left.source?.ip === right.source?.ip &&
    left.source?.user === right.source?.user &&
    (left.recipient === '') === (right.recipient === '') &&
    sameDomainPart(left.recipient, right.recipient)
  );
}

/** Yields the events with ids from `low` (inclusive) to `high` (exclusive), last first. */
function* newestFirst(events: DeliveryEvent[], low: string, high: string): Generator<DeliveryEvent> {
  for (let position = events.length - 1; position >= 0; position -= 1) {
    const event = events[position];
    if (event && event.id >= low && event.id < high) {
      yield event;
    }
  }
}

/** Removes the key separator from a value, so a value can never reach into the event id part of a key. */
function indexValue(value: string): string {
  return value.includes(SEP) ? value.replaceAll(SEP, '') : value;
}

/** Lists the hour keys from the hour of `since` up to the hour that contains `until - 1`. */
function hoursBetween(since: number, until: number): string[] {
  const hours: string[] = [];
  const start = Math.floor(since / HOUR_MS) * HOUR_MS;
  for (let time = start; time < until; time += HOUR_MS) {
    hours.push(hourKey(time));
  }
  return hours;
}
