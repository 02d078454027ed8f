import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { createAdminServer, type AdminDeps, type QueueControl } from '../../src/admin/server.js';
import type { QueueId } from '../../src/core/types.js';
import { Database } from '../../src/store/db.js';
import { EventStore, type NewEvent } from '../../src/store/events.js';
import { QueueStore, type MessageRecord, type RecipientRecord } from '../../src/store/queue.js';
import { SuppressionStore } from '../../src/store/suppressions.js';
import { makeTempDir } from '../helpers/tmp.js';

/** Token used by the test servers; 43 characters like a generated one. */
export const TEST_TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuv';

/** A running admin server over real stores in a temporary folder. */
export interface AdminFixture {
  url: string;
  events: EventStore;
  suppressions: SuppressionStore;
  queue: QueueStore;
  /** Parsed pino lines written so far. */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts an admin server on 127.0.0.1 port 0 with debug logs captured in `logs`. */
export async function startAdminFixture(
  options: { queueControl?: QueueControl; streamHeartbeatMs?: number; webhooks?: AdminDeps['webhooks']; metrics?: AdminDeps['metrics'] } = {},
): Promise<AdminFixture> {
  const dir = makeTempDir();
  const db = await Database.open(dir.path);
  const normalize = { caseSensitiveLocalPart: false };
  const events = new EventStore(db, normalize);
  const suppressions = new SuppressionStore(db, normalize);
  const queue = new QueueStore(db);
  const { logger, logs } = captureLogger();

  const server = createAdminServer({ events, suppressions, queue, token: TEST_TOKEN, logger, ...options });
  const address = await server.listen('127.0.0.1', 0);

  return {
    url: `http://127.0.0.1:${address.port}`,
    events,
    suppressions,
    queue,
    logs,
    async close() {
      await server.close();
      await db.close();
      dir.remove();
    },
  };
}

/** Builds a queue control whose retry calls `retryNow` and whose other actions find no message. */
export function stubQueueControl(retryNow: QueueControl['retryNow']): QueueControl {
  return { retryNow, hold: async () => null, release: async () => null, remove: async () => null };
}

/** Creates a debug-level pino logger that parses each line it writes into `logs`. */
export function captureLogger(): { logger: Logger; logs: Array<Record<string, unknown>>; raw: string[] } {
  const logs: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), logs, raw };
}

/** Builds an event as the delivery code records it; `overrides` changes single fields. */
export function makeEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    time: '2026-01-01T00:00:00.000Z',
    queueId: 'Q1',
    messageId: null,
    sender: 'app@sender.example',
    recipient: 'a@example.com',
    stage: 'rcpt',
    mx: 'mx.example.com',
    remoteIp: '127.0.0.1',
    remotePort: 25,
    localIp: '127.0.0.1',
    tls: null,
    code: 550,
    enhancedCode: '5.1.1',
    text: '550 5.1.1 no such user',
    attempt: 1,
    permanent: true,
    reason: 'userunknown',
    action: 'bounced',
    source: { ip: '127.0.0.1', user: null },
    campaign: null,
    side: 'recipient',
    rule: 'test',
    suppressed: true,
    ...overrides,
  };
}

/** Enqueues a message with one record per recipient; `recipients` override fields per recipient. */
export async function enqueue(
  queue: QueueStore,
  queueId: string,
  recipients: Array<Partial<RecipientRecord> & { recipient: string }>,
  message: Partial<MessageRecord> = {},
): Promise<void> {
  const id = queueId as QueueId;
  const records: RecipientRecord[] = recipients.map((item, index) => ({
    queueId: id,
    index,
    status: 'queued',
    attempts: 0,
    nextAttemptAt: Date.parse('2026-01-01T00:05:00.000Z'),
    lastReply: null,
    lastMx: null,
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...item,
  }));
  await queue.commit(
    queue.enqueueOperations(
      {
        queueId: id,
        sender: 'app@sender.example',
        recipients: recipients.map((item) => item.recipient),
        messageId: null,
        campaign: null,
        source: { ip: '127.0.0.1', user: null },
        size: 100,
        receivedAt: '2026-01-01T00:00:00.000Z',
        isBounce: false,
        smtputf8: false,
        held: false,
        ...message,
      },
      records,
    ),
  );
}
