import { HIGH, SEP, type Database } from '../store/db.js';
import type { Webhook, WebhookEventType } from './types.js';

/** A registered webhook with its signing secret, as stored. */
export interface StoredWebhook extends Webhook {
  secret: string;
}

/** One pending delivery of one event to one webhook. */
export interface OutboxEntry {
  /** Unique id, sent as X-Bouncegate-Delivery so a receiver can drop duplicates. */
  id: string;
  webhookId: string;
  eventId: string;
  types: WebhookEventType[];
  /** The JSON body, exactly as it is signed and sent. */
  body: string;
  attempts: number;
  /** ms since the epoch when the delivery was queued; retries stop a fixed time after it. */
  createdAt: number;
  /** ms since the epoch of the next attempt. */
  nextAttemptAt: number;
  lastError: string | null;
}

const CURSOR_KEY = 'event-cursor';

/**
 * Webhook registrations and the delivery outbox in LevelDB. The outbox is keyed
 * `<next attempt ms, 15 digits>\0<delivery id>`, so due deliveries are a range scan and a restart
 * finds every one that is still pending.
 */
export class WebhookStore {
  private readonly db: Database;
  private readonly hooks;
  private readonly outbox;
  private readonly meta;

  constructor(db: Database) {
    this.db = db;
    this.hooks = db.sublevel<StoredWebhook>('webhooks');
    this.outbox = db.sublevel<OutboxEntry>('webhook-outbox');
    this.meta = db.sublevel<string>('webhook-meta');
  }

  async list(): Promise<StoredWebhook[]> {
    const hooks: StoredWebhook[] = [];
    for await (const hook of this.hooks.values()) {
      hooks.push(hook);
    }
    return hooks;
  }

  async get(id: string): Promise<StoredWebhook | null> {
    return (await this.hooks.get(id)) ?? null;
  }

  async put(hook: StoredWebhook): Promise<void> {
    await this.hooks.put(hook.id, hook);
  }

  /** Removes a webhook and every pending delivery to it. Returns false when there is no such webhook. */
  async remove(id: string): Promise<boolean> {
    if (!(await this.hooks.get(id))) {
      return false;
    }
    const operations: unknown[] = [{ type: 'del', sublevel: this.hooks, key: id }];
    for await (const [key, entry] of this.outbox.iterator()) {
      if (entry.webhookId === id) {
        operations.push({ type: 'del', sublevel: this.outbox, key });
      }
    }
    await this.db.level.batch(operations as never);
    return true;
  }

  /** Queues deliveries and moves the event cursor in one synced write. */
  async enqueue(entries: OutboxEntry[], cursor: string): Promise<void> {
    const operations: unknown[] = entries.map((entry) => ({ type: 'put', sublevel: this.outbox, key: outboxKey(entry), value: entry }));
    operations.push({ type: 'put', sublevel: this.meta, key: CURSOR_KEY, value: cursor });
    await this.db.level.batch(operations as never, { sync: true } as never);
  }

  /** Returns the id of the last event whose deliveries were queued, or null before the first. */
  async cursor(): Promise<string | null> {
    return (await this.meta.get(CURSOR_KEY)) ?? null;
  }

  async setCursor(cursor: string): Promise<void> {
    await this.meta.put(CURSOR_KEY, cursor);
  }

  /** Returns up to `limit` deliveries due at or before `now`, soonest first. */
  async due(now: number, limit: number): Promise<OutboxEntry[]> {
    const entries: OutboxEntry[] = [];
    for await (const entry of this.outbox.values({ lte: `${dueTime(now)}${SEP}${HIGH}`, limit })) {
      entries.push(entry);
    }
    return entries;
  }

  /** Returns the time of the soonest pending delivery, or null when the outbox is empty. */
  async nextDueTime(): Promise<number | null> {
    for await (const entry of this.outbox.values({ limit: 1 })) {
      return entry.nextAttemptAt;
    }
    return null;
  }

  /** Counts pending deliveries. */
  async pendingCount(): Promise<number> {
    let count = 0;
    for await (const _ of this.outbox.keys()) {
      count += 1;
    }
    return count;
  }

  /** Removes a finished or abandoned delivery. */
  async finish(entry: OutboxEntry): Promise<void> {
    await this.outbox.del(outboxKey(entry));
  }

  /** Moves a delivery to its next attempt time. */
  async reschedule(before: OutboxEntry, after: OutboxEntry): Promise<void> {
    await this.db.level.batch([
      { type: 'del', sublevel: this.outbox, key: outboxKey(before) },
      { type: 'put', sublevel: this.outbox, key: outboxKey(after), value: after },
    ] as never);
  }
}

function dueTime(millis: number): string {
  return String(Math.max(0, Math.floor(millis))).padStart(15, '0');
}

function outboxKey(entry: OutboxEntry): string {
  return `${dueTime(entry.nextAttemptAt)}${SEP}${entry.id}`;
}
