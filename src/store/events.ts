import { domainOf, normalizeAddress, type NormalizeOptions } from '../core/address.js';
import { eventIdFloor, newEventId } from '../core/ids.js';
import type { Action, DeliveryEvent } from '../core/types.js';
import { HIGH, SEP, type Database } from './db.js';

/** An event before the store assigns its id. */
export type NewEvent = Omit<DeliveryEvent, 'id'>;

/** Filters of an event query; every given field must match. */
export interface EventQuery {
  recipient?: string;
  domain?: string;
  queueId?: string;
  action?: Action;
  mx?: string;
  code?: number;
  enhancedCode?: string;
  reason?: string;
  campaign?: string;
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

type Index = 'rcpt' | 'domain' | 'queue';

/**
 * Stores delivery events in time order, with secondary indexes by normalised recipient, recipient
 * domain and queue id so that a recipient's or a domain's history is a range scan, not a full scan.
 */
export class EventStore {
  private readonly events;
  private readonly indexes;
  private readonly normalize: NormalizeOptions;
  private readonly listeners = new Set<(event: DeliveryEvent) => void>();

  constructor(db: Database, normalize: NormalizeOptions) {
    this.events = db.sublevel<DeliveryEvent>('events');
    this.indexes = {
      rcpt: db.sublevel<string>('events-by-recipient'),
      domain: db.sublevel<string>('events-by-domain'),
      queue: db.sublevel<string>('events-by-queue'),
    };
    this.normalize = normalize;
  }

  /** Records events in one batch and returns them with their ids. */
  async append(items: NewEvent[]): Promise<DeliveryEvent[]> {
    if (items.length === 0) {
      return [];
    }
    const stored: DeliveryEvent[] = [];
    const operations = [];
    for (const item of items) {
      const event: DeliveryEvent = { id: newEventId(Date.parse(item.time) || Date.now()), ...item };
      stored.push(event);
      operations.push({ type: 'put' as const, sublevel: this.events, key: event.id, value: event });
      for (const [index, value] of this.indexKeys(event)) {
        operations.push({ type: 'put' as const, sublevel: this.indexes[index], key: `${value}${SEP}${event.id}`, value: '' });
      }
    }
    // The sublevel batch form keeps every index entry in the same atomic write as its event.
    await this.events.db.batch(operations as never);
    for (const event of stored) {
      for (const listener of this.listeners) {
        listener(event);
      }
    }
    return stored;
  }

  /** Registers a callback for every event appended from now on; returns the function that removes it. */
  subscribe(listener: (event: DeliveryEvent) => void): () => void {
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
      if (!matches(event, query)) {
        continue;
      }
      if (events.length === query.limit) {
        return { events, next: events[events.length - 1]?.id ?? null };
      }
      events.push(event);
    }
    return { events, next: null };
  }

  private async *scan(query: EventQuery, low: string, high: string): AsyncGenerator<DeliveryEvent> {
    const chosen = this.chooseIndex(query);
    if (!chosen) {
      for await (const event of this.events.values({ gte: low, lt: high, reverse: true })) {
        yield event;
      }
      return;
    }

    const [index, value] = chosen;
    const ids = this.indexes[index].keys({ gte: `${value}${SEP}${low}`, lt: `${value}${SEP}${high}`, reverse: true });
    for await (const key of ids) {
      const id = key.slice(key.lastIndexOf(SEP) + 1);
      const event = await this.events.get(id);
      if (event) {
        yield event;
      }
    }
  }

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
    return null;
  }

  private indexKeys(event: DeliveryEvent): Array<[Index, string]> {
    const keys: Array<[Index, string]> = [['queue', event.queueId]];
    if (event.recipient) {
      keys.push(['rcpt', normalizeAddress(event.recipient, this.normalize)]);
      keys.push(['domain', domainOf(event.recipient)]);
    }
    return keys;
  }
}

function matches(event: DeliveryEvent, query: EventQuery): boolean {
  if (query.action && event.action !== query.action) return false;
  if (query.mx && event.mx?.toLowerCase() !== query.mx.toLowerCase()) return false;
  if (query.code !== undefined && event.code !== query.code) return false;
  if (query.enhancedCode && event.enhancedCode !== query.enhancedCode) return false;
  if (query.reason && event.reason !== query.reason) return false;
  if (query.campaign && event.campaign !== query.campaign) return false;
  if (query.domain && domainOf(event.recipient) !== domainOf(`x@${query.domain}`)) return false;
  if (query.queueId && event.queueId !== query.queueId) return false;
  return true;
}
