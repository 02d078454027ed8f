import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../../src/core/types.js';
import { Database } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';
import { eventTypes, WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { signPayload, verifySignature } from '../../src/webhooks/signature.js';
import { WebhookStore } from '../../src/webhooks/store.js';
import { WebhookUrlError } from '../../src/webhooks/types.js';
import { checkWebhookUrl, isLinkLocalAddress } from '../../src/webhooks/url.js';
import { captureLogger, makeEvent } from '../admin/fixture.js';
import { waitFor } from '../e2e/harness.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** Starts a webhook receiver on loopback that replies to each request with the next status of `statuses` (then 200). */
async function startReceiver(statuses: number[] = []): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('webhook dispatcher', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: Database;
  let events: EventStore;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    dir = makeTempDir();
    db = await Database.open(dir.path);
    events = new EventStore(db, { caseSensitiveLocalPart: false });
  });

  afterEach(async () => {
    while (cleanups.length > 0) {
      await cleanups.pop()?.();
    }
    await db.close();
    dir.remove();
  });

  async function dispatcher(options: { baseDelayMs?: number; maxAgeMs?: number } = {}): Promise<WebhookDispatcher> {
    const instance = new WebhookDispatcher({ store: new WebhookStore(db), events, logger: captureLogger().logger, baseDelayMs: options.baseDelayMs ?? 50, ...options });
    await instance.start();
    cleanups.push(() => instance.stop());
    return instance;
  }

  it('signs each delivery for the receiver to verify', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const hooks = await dispatcher();
    const { webhook, secret } = await hooks.create({ url: receiver.url, events: ['bounced', 'dsn'], secret: 'receiver-shared-secret-1' });
    expect(secret).toBe('receiver-shared-secret-1');
    expect(webhook.events).toEqual(['bounced', 'dsn']);

    const [stored] = await events.append([makeEvent({ time: new Date().toISOString() })]);
    await events.append([makeEvent({ time: new Date().toISOString(), action: 'delivered', recipient: 'ok@example.com' })]);
    const delivery = await waitFor(async () => receiver.received[0]);

    const timestamp = String(delivery.headers['x-bouncegate-timestamp']);
    expect(delivery.headers['x-bouncegate-signature']).toBe(signPayload(secret, timestamp, delivery.body));
    expect(verifySignature(secret, timestamp, delivery.body, String(delivery.headers['x-bouncegate-signature']))).toBe(true);
    expect(verifySignature(secret, timestamp, `${delivery.body} `, String(delivery.headers['x-bouncegate-signature']))).toBe(false);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(delivery.headers['content-type']).toBe('application/json');
    expect(delivery.headers['x-bouncegate-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(delivery.body)).toEqual(stored);

    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.received).toHaveLength(1);
  });

  it('queues every matching event of one append', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const hooks = await dispatcher();
    await hooks.create({ url: receiver.url, events: ['bounced'] });

    const time = new Date().toISOString();
    const appended = await events.append([
      makeEvent({ time, recipient: 'one@example.com' }),
      makeEvent({ time, recipient: 'two@example.com', action: 'delivered' }),
      makeEvent({ time, recipient: 'three@example.com' }),
    ]);
    await waitFor(async () => (receiver.received.length >= 2 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));

    const bodies = receiver.received.map((delivery) => JSON.parse(delivery.body) as DeliveryEvent);
    expect(bodies.map((event) => event.recipient).sort()).toEqual(['one@example.com', 'three@example.com']);
    expect(await new WebhookStore(db).cursor()).toBe(appended[2]?.id);
  });

  it('queues events appended during registration', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    // A store whose put waits for the test, so the event below is appended while the registration
    // has not stored its webhook yet.
    let releasePut: () => void = () => undefined;
    const putReleased = new Promise<void>((resolve) => {
      releasePut = resolve;
    });
    class SlowStore extends WebhookStore {
      override async put(...args: Parameters<WebhookStore['put']>): Promise<void> {
        await putReleased;
        return super.put(...args);
      }
    }
    const hooks = new WebhookDispatcher({ store: new SlowStore(db), events, logger: captureLogger().logger, baseDelayMs: 50 });
    await hooks.start();
    cleanups.push(() => hooks.stop());

    const registration = hooks.create({ url: receiver.url, events: ['bounced'] });
    const [stored] = await events.append([makeEvent({ time: new Date(Date.now() + 1000).toISOString() })]);
    releasePut();
    await registration;

    const delivery = await waitFor(async () => receiver.received[0]);
    expect(JSON.parse(delivery.body)).toEqual(stored);
  });

  it('queues live event during catch-up once', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const first = new WebhookDispatcher({ store: new WebhookStore(db), events, logger: captureLogger().logger, baseDelayMs: 50 });
    await first.start();
    await first.create({ url: receiver.url, events: ['bounced'] });
    await first.stop();
    await events.append([makeEvent({ time: new Date().toISOString(), recipient: 'missed@example.com' })]);

    // A store whose first cursor read waits for the test, so the live event below reaches the
    // listener before the catch-up reads the store.
    let releaseCursor: () => void = () => undefined;
    const cursorReleased = new Promise<void>((resolve) => {
      releaseCursor = resolve;
    });
    let waited = false;
    class SlowCursorStore extends WebhookStore {
      override async cursor(): Promise<string | null> {
        if (!waited) {
          waited = true;
          await cursorReleased;
        }
        return super.cursor();
      }
    }
    const second = new WebhookDispatcher({ store: new SlowCursorStore(db), events, logger: captureLogger().logger, baseDelayMs: 50 });
    await second.start();
    cleanups.push(() => second.stop());
    await events.append([makeEvent({ time: new Date().toISOString(), recipient: 'live@example.com' })]);
    releaseCursor();

    await waitFor(async () => (receiver.received.length >= 2 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const recipients = receiver.received.map((delivery) => (JSON.parse(delivery.body) as DeliveryEvent).recipient);
    expect(recipients.sort()).toEqual(['live@example.com', 'missed@example.com']);
  });

  it('retries after a 500 with backoff', async () => {
    const receiver = await startReceiver([500, 503]);
    cleanups.push(receiver.close);
    const hooks = await dispatcher({ baseDelayMs: 100 });
    await hooks.create({ url: receiver.url, events: ['bounced'] });

    await events.append([makeEvent({ time: new Date().toISOString() })]);
    await waitFor(async () => (receiver.received.length >= 3 ? true : undefined), 10_000, 'the third attempt');
    const ids = new Set(receiver.received.map((item) => item.headers['x-bouncegate-delivery']));
    expect(ids.size).toBe(1);
    expect(new Set(receiver.received.map((item) => item.body)).size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.received).toHaveLength(3);
    expect(await new WebhookStore(db).pendingCount()).toBe(0);
  });

  it('keeps the outbox across a restart', async () => {
    const receiver = await startReceiver([500]);
    cleanups.push(receiver.close);
    const first = new WebhookDispatcher({ store: new WebhookStore(db), events, logger: captureLogger().logger, baseDelayMs: 60_000 });
    await first.start();
    await first.create({ url: receiver.url, events: ['bounced'] });
    await events.append([makeEvent({ time: new Date().toISOString(), recipient: 'kept@example.com' })]);
    await waitFor(async () => receiver.received[0]);
    await first.stop();
    expect(await new WebhookStore(db).pendingCount()).toBe(1);

    // An event recorded while no dispatcher runs is queued at the next start.
    await events.append([makeEvent({ time: new Date().toISOString(), recipient: 'missed@example.com' })]);

    const clock = { now: Date.now() + 61_000 };
    const second = new WebhookDispatcher({ store: new WebhookStore(db), events, logger: captureLogger().logger, now: () => clock.now });
    await second.start();
    cleanups.push(() => second.stop());
    const recipients = await waitFor(async () => {
      const delivered = receiver.received.slice(1).map((item) => (JSON.parse(item.body) as DeliveryEvent).recipient);
      return delivered.length >= 2 ? delivered.sort() : undefined;
    });
    expect(recipients).toEqual(['kept@example.com', 'missed@example.com']);
    await waitFor(async () => ((await new WebhookStore(db).pendingCount()) === 0 ? true : undefined));
  });

  it('drops deliveries of a removed webhook', async () => {
    const hooks = await dispatcher({ baseDelayMs: 60_000 });
    const { webhook } = await hooks.create({ url: 'http://127.0.0.1:9/unreachable', events: ['bounced'] });
    await events.append([makeEvent({ time: new Date().toISOString() })]);
    await waitFor(async () => ((await new WebhookStore(db).pendingCount()) === 1 ? true : undefined));
    expect(await hooks.remove(webhook.id)).toBe(true);
    expect(await new WebhookStore(db).pendingCount()).toBe(0);
    expect(await hooks.list()).toEqual([]);
    expect(await hooks.remove(webhook.id)).toBe(false);
  });

  it('gives up after the maximum age', async () => {
    const receiver = await startReceiver([500, 500, 500, 500, 500, 500]);
    cleanups.push(receiver.close);
    const hooks = await dispatcher({ baseDelayMs: 50, maxAgeMs: 120 });
    await hooks.create({ url: receiver.url, events: ['bounced'] });
    await events.append([makeEvent({ time: new Date().toISOString() })]);
    await waitFor(async () => (receiver.received.length >= 1 && (await new WebhookStore(db).pendingCount()) === 0 ? true : undefined), 5000);
    const count = receiver.received.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received.length).toBe(count);
  });

  it('refuses link-local and non-http URLs', async () => {
    const hooks = await dispatcher();
    await expect(hooks.create({ url: 'http://169.254.169.254/latest/meta-data', events: ['bounced'] })).rejects.toThrow(WebhookUrlError);
    await expect(hooks.create({ url: 'http://[fd00:ec2::254]/', events: ['bounced'] })).rejects.toThrow(/link-local/);
    await expect(hooks.create({ url: 'ftp://example.com/', events: ['bounced'] })).rejects.toThrow(/only http/);
    await expect(hooks.create({ url: 'http://user:pw@example.com/', events: ['bounced'] })).rejects.toThrow(/user name/);
    const allowed = await hooks.create({ url: 'http://169.254.169.254/hook', events: ['bounced'], allowLinkLocal: true });
    expect(allowed.webhook.allowLinkLocal).toBe(true);
  });

  it('classifies addresses and event types', () => {
    expect(isLinkLocalAddress('169.254.169.254')).toBe(true);
    expect(isLinkLocalAddress('::ffff:169.254.1.1')).toBe(true);
    expect(isLinkLocalAddress('fe80::1')).toBe(true);
    expect(isLinkLocalAddress('fd00:ec2::254')).toBe(true);
    expect(isLinkLocalAddress('127.0.0.1')).toBe(false);
    expect(checkWebhookUrl('https://hooks.example.com/x?y=1', false)).toBe('https://hooks.example.com/x?y=1');

    const bounce = { ...makeEvent({ suppressed: true }), id: '1' };
    expect(eventTypes(bounce)).toEqual(['bounced', 'suppressed']);
    expect(eventTypes({ ...bounce, suppressed: false, stage: 'dsn' })).toEqual(['bounced', 'dsn']);
    expect(eventTypes({ ...bounce, action: 'suppressed', suppressed: true })).toEqual(['suppressed']);
  });
});
