import { randomBytes, randomUUID } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { DeliveryEvent } from '../core/types.js';
import type { EventStore } from '../store/events.js';
import { SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from './signature.js';
import type { OutboxEntry, StoredWebhook, WebhookStore } from './store.js';
import { WEBHOOK_EVENT_TYPES, type Webhook, type WebhookEventType, type WebhookRegistration, type WebhookService } from './types.js';
import { checkWebhookUrl, isLinkLocalAddress } from './url.js';

/** Delay before the first retry, in ms; each later retry waits twice as long. */
const DEFAULT_BASE_DELAY_MS = 10_000;
/** Maximum wait between two attempts, in ms (1 hour). */
const DEFAULT_MAX_DELAY_MS = 3_600_000;
/** Time after which a delivery that keeps failing is dropped, in ms (24 hours). */
const DEFAULT_MAX_AGE_MS = 24 * 3_600_000;
/** Time allowed for one delivery request, in ms. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** Maximum sleep between checks of the outbox, in ms. */
const MAX_IDLE_MS = 30_000;
/** Deliveries sent at the same time. */
const CONCURRENCY = 4;
/** Bytes of a secret generated for a registration without one; 32 bytes give 43 base64url characters. */
const SECRET_BYTES = 32;
/** Shortest secret accepted from a registration. */
export const MIN_SECRET_LENGTH = 16;

/** Options of the dispatcher; the defaults suit production, tests shorten the delays. */
export interface DispatcherOptions {
  store: WebhookStore;
  events: EventStore;
  logger: Logger;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxAgeMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Sends delivery events to registered webhooks. Every matching event becomes an outbox entry in
 * LevelDB together with the id of the last event queued (the cursor), so after a restart the
 * dispatcher queues the events it missed and sends every pending delivery. A delivery that gets no
 * 2xx reply is retried with exponential backoff until 24 hours after it was queued, then dropped
 * with a warning.
 */
export class WebhookDispatcher implements WebhookService {
  private readonly store: WebhookStore;
  private readonly events: EventStore;
  private readonly logger: Logger;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private hooks: StoredWebhook[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Ids of events the catch-up queued, so the same events arriving live are not queued twice. */
  private readonly caughtUp = new Set<string>();
  /** True from a start until its catch-up ends. */
  private catchingUp = false;
  /** Ids of events that reached the listener during the catch-up, which the catch-up then skips. */
  private readonly arrivedLive = new Set<string>();
  private running = false;
  private stopped = true;
  /** Number of registrations under way. Events appended while one runs are queued for it. */
  private registering = 0;

  constructor(options: DispatcherOptions) {
    this.store = options.store;
    this.events = options.events;
    this.logger = options.logger;
    this.baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  /** Loads the registrations, starts queueing the events missed while stopped, and starts sending. */
  async start(): Promise<void> {
    this.stopped = false;
    this.hooks = await this.store.list();
    this.catchingUp = true;
    this.unsubscribe = this.events.subscribe((appended) => {
      // Without webhooks there is nothing to queue, and the cursor stays where it is.
      if (this.hooks.length === 0 && this.registering === 0) {
        return;
      }
      // Each append reaches listeners once, so an id that the catch-up queued is dropped when its event arrives.
      const fresh = this.caughtUp.size === 0 ? appended : appended.filter((event) => !this.caughtUp.delete(event.id));
      if (fresh.length === 0) {
        return;
      }
      if (this.catchingUp) {
        for (const event of fresh) {
          this.arrivedLive.add(event.id);
        }
      }
      this.serialized(() => this.queueEvents(fresh)).catch((error: unknown) => {
        this.logger.error({ err: error, eventIds: fresh.map((event) => event.id) }, 'queueing webhook deliveries failed');
      });
    });
    // The catch-up runs in the background, ahead of live events in the same chain, so a long outage
    // does not delay the relay's start.
    this.serialized(() => this.catchUp())
      .catch((error: unknown) => {
        this.logger.error({ err: error }, 'queueing webhook deliveries for missed events failed');
      })
      .finally(() => this.wake());
  }

  /** Stops sending and waits for deliveries under way; pending ones stay in the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.chain.catch(() => undefined);
    await Promise.allSettled([...this.inFlight.values()]);
  }

  async list(): Promise<Webhook[]> {
    return (await this.store.list()).map(publicView);
  }

  async create(registration: WebhookRegistration): Promise<{ webhook: Webhook; secret: string }> {
    const allowLinkLocal = registration.allowLinkLocal ?? false;
    const url = checkWebhookUrl(registration.url, allowLinkLocal);
    const secret = registration.secret ?? randomBytes(SECRET_BYTES).toString('base64url');
    const hook: StoredWebhook = {
      id: randomUUID(),
      url,
      events: WEBHOOK_EVENT_TYPES.filter((type) => registration.events.includes(type)),
      allowLinkLocal,
      createdAt: new Date(this.now()).toISOString(),
      secret,
    };
    this.registering += 1;
    await this.serialized(async () => {
      if (this.hooks.length === 0) {
        // Without webhooks the cursor does not move, so it starts at the newest event and no history is replayed.
        await this.store.setCursor((await this.events.latestId()) ?? '');
      }
      await this.store.put(hook);
      this.hooks = await this.store.list();
    }).finally(() => {
      this.registering -= 1;
    });
    this.logger.info({ webhookId: hook.id, url: redactUrl(url), events: hook.events }, 'webhook registered');
    return { webhook: publicView(hook), secret };
  }

  async remove(id: string): Promise<boolean> {
    const removed = await this.serialized(async () => {
      const found = await this.store.remove(id);
      this.hooks = await this.store.list();
      return found;
    });
    if (removed) {
      this.logger.info({ webhookId: id }, 'webhook removed');
    }
    return removed;
  }

  /** Asks for a check of the outbox as soon as possible. */
  wake(): void {
    if (!this.stopped) {
      this.schedule(0);
    }
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const result = this.chain.then(work, work);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /**
   * Queues the events appended since the cursor, e.g. while the relay was down.
   * NOTE: event ids sort by event time, not by append order, so an event that was appended just
   * before a crash with a time older than the cursor is not found again.
   */
  private async catchUp(): Promise<void> {
    try {
      const cursor = await this.store.cursor();
      if (this.hooks.length === 0 || cursor === null) {
        await this.store.setCursor((await this.events.latestId()) ?? '');
        return;
      }
      let queued = 0;
      for await (const event of this.events.eventsAfter(cursor)) {
        // An event that reached the listener first is queued after the catch-up, in the same chain.
        if (this.arrivedLive.has(event.id)) {
          continue;
        }
        this.caughtUp.add(event.id);
        queued += await this.queueEvents([event]);
      }
      if (queued > 0) {
        this.logger.info({ deliveries: queued }, 'queued webhook deliveries for events recorded while stopped');
      }
    } finally {
      this.catchingUp = false;
      this.arrivedLive.clear();
    }
  }

  /**
   * Writes one outbox entry per matching webhook and event, and moves the cursor past the events, in
   * one synced batch.
   */
  private async queueEvents(events: readonly DeliveryEvent[]): Promise<number> {
    if (this.hooks.length === 0) {
      return 0;
    }
    let cursor = await this.store.cursor();
    const now = this.now();
    const entries: OutboxEntry[] = [];
    for (const event of events) {
      const types = eventTypes(event);
      const matching = this.hooks.filter((hook) => hook.events.some((type) => types.includes(type)) && hook.createdAt <= event.time);
      const body = matching.length === 0 ? '' : JSON.stringify(event);
      for (const hook of matching) {
        entries.push({
          id: randomUUID(),
          webhookId: hook.id,
          eventId: event.id,
          types,
          body,
          attempts: 0,
          createdAt: now,
          nextAttemptAt: now,
          lastError: null,
        });
      }
      // The cursor only moves forward: events may arrive with times older than earlier ones.
      if (cursor === null || cursor < event.id) {
        cursor = event.id;
      }
    }
    if (cursor !== null) {
      await this.store.enqueue(entries, cursor);
    }
    if (entries.length > 0) {
      this.wake();
    }
    return entries.length;
  }

  private schedule(delay: number): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, delay);
    this.timer.unref?.();
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) {
      return;
    }
    this.running = true;
    try {
      const due = await this.store.due(this.now(), CONCURRENCY * 4);
      for (const entry of due) {
        if (this.stopped) {
          break;
        }
        if (this.inFlight.has(entry.id)) {
          continue;
        }
        while (this.inFlight.size >= CONCURRENCY) {
          await Promise.race(this.inFlight.values());
        }
        const attempt = this.attempt(entry).finally(() => this.inFlight.delete(entry.id));
        this.inFlight.set(entry.id, attempt);
      }
      await Promise.allSettled([...this.inFlight.values()]);
    } catch (error) {
      this.logger.error({ err: error }, 'webhook outbox scan failed; retrying in 5 s');
      this.running = false;
      if (!this.stopped) {
        this.schedule(5000);
      }
      return;
    }
    this.running = false;
    if (this.stopped) {
      return;
    }
    const next = await this.store.nextDueTime().catch(() => null);
    this.schedule(next === null ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(0, next - this.now())));
  }

  private async attempt(entry: OutboxEntry): Promise<void> {
    const hook = this.hooks.find((candidate) => candidate.id === entry.webhookId);
    if (!hook) {
      await this.store.finish(entry);
      return;
    }

    const attempts = entry.attempts + 1;
    const error = await this.post(hook, entry).then(
      (status) => (status >= 200 && status < 300 ? null : `HTTP ${status}`),
      (failure: unknown) => (failure instanceof Error ? failure.message : String(failure)),
    );
    const fields = { webhookId: hook.id, deliveryId: entry.id, eventId: entry.eventId, attempts };
    if (error === null) {
      await this.store.finish(entry);
      this.logger.debug(fields, 'webhook delivered');
      return;
    }

    const now = this.now();
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempts - 1));
    if (now + delay - entry.createdAt > this.maxAgeMs) {
      await this.store.finish(entry);
      this.logger.warn({ ...fields, error }, 'webhook delivery dropped: still failing 24 hours after the event');
      return;
    }
    await this.store.reschedule(entry, { ...entry, attempts, nextAttemptAt: now + delay, lastError: error });
    this.logger.warn({ ...fields, error, retryInMs: delay }, 'webhook delivery failed; will retry');
  }

  /** POSTs one delivery and resolves to the HTTP status; rejects on a network error or timeout. */
  private post(hook: StoredWebhook, entry: OutboxEntry): Promise<number> {
    const url = new URL(hook.url);
    const timestamp = String(Math.floor(this.now() / 1000));
    const headers = {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(entry.body)),
      'User-Agent': 'bouncegate-webhook',
      'X-Bouncegate-Event': entry.types.join(', '),
      'X-Bouncegate-Delivery': entry.id,
      [TIMESTAMP_HEADER]: timestamp,
      [SIGNATURE_HEADER]: signPayload(hook.secret, timestamp, entry.body),
    };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!hook.allowLinkLocal && isIP(host) !== 0 && isLinkLocalAddress(host)) {
      return Promise.reject(new Error(`connection to the link-local address ${host} rejected; register the webhook with allowLinkLocal to allow it`));
    }

    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        url,
        { method: 'POST', headers, timeout: this.timeoutMs, lookup: hook.allowLinkLocal ? undefined : guardedLookup },
        (response: IncomingMessage) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no response within ${this.timeoutMs} ms`)));
      request.on('error', reject);
      request.end(entry.body);
    });
  }
}

/** Returns the webhook event types of an event: its action, "suppressed" when it suppressed the recipient, "dsn" for DSN events. */
export function eventTypes(event: DeliveryEvent): WebhookEventType[] {
  const types: WebhookEventType[] = [event.action];
  if (event.suppressed && event.action !== 'suppressed') {
    types.push('suppressed');
  }
  if (event.stage === 'dsn') {
    types.push('dsn');
  }
  return types;
}

/** Resolves a host name like dns.lookup, but fails when it resolves to a link-local or metadata address. */
function guardedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) {
      callback(error, []);
      return;
    }
    const forbidden = addresses.find((entry) => isLinkLocalAddress(entry.address));
    if (forbidden) {
      callback(Object.assign(new Error(`${hostname} resolves to the link-local address ${forbidden.address}; connection rejected`), { code: 'EACCES' }), []);
      return;
    }
    if (options.all) {
      callback(null, addresses);
      return;
    }
    const first = addresses[0];
    if (!first) {
      callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      return;
    }
    callback(null, first.address, first.family);
  });
}

function publicView(hook: StoredWebhook): Webhook {
  return { id: hook.id, url: hook.url, events: hook.events, allowLinkLocal: hook.allowLinkLocal, createdAt: hook.createdAt };
}

/** Drops the query string from a URL for logs, since receivers sometimes put a token there. */
function redactUrl(url: string): string {
  const parsed = new URL(url);
  parsed.search = parsed.search ? '?…' : '';
  return parsed.toString();
}
