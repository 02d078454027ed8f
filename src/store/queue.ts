import type { Reply } from '../core/reply.js';
import type { QueueId, RecipientStatus, SubmissionSource } from '../core/types.js';
import { HIGH, SEP, type BatchOperation, type Database } from './db.js';

/** Envelope and metadata of one spooled message; the body lives in the spool folder. */
export interface MessageRecord {
  queueId: QueueId;
  sender: string;
  recipients: string[];
  messageId: string | null;
  campaign: string | null;
  source: SubmissionSource;
  size: number;
  /** ISO-8601 UTC time of the 250 reply. */
  receivedAt: string;
  /** True for bounces we generated, which never cause another bounce. */
  isBounce: boolean;
  smtputf8: boolean;
  /** Operator hold: held messages are not tried until released. */
  held: boolean;
  /** True when the body is stored in LevelDB beside this record instead of in a spool file. */
  inline?: boolean;
}

/** Queue state of one recipient of one message. */
export interface RecipientRecord {
  queueId: QueueId;
  index: number;
  recipient: string;
  status: RecipientStatus;
  attempts: number;
  /** ms since the epoch of the next attempt; null once the recipient is finished. */
  nextAttemptAt: number | null;
  lastReply: Reply | null;
  lastMx: string | null;
  updatedAt: string;
}

/** Statuses after which a recipient is never tried again. */
export const FINAL_STATUSES: ReadonlySet<RecipientStatus> = new Set(['delivered', 'bounced', 'expired', 'suppressed']);

/** A single atomic write to the queue, for grouping many messages into one durable commit. */
export type QueueOperation = BatchOperation;

/**
 * The queue in LevelDB: message records, per-recipient state and a due-time index
 * (`<ms padded>\0<queueId>\0<index>`) so the scheduler finds due recipients with a range scan,
 * and a restart finds every unfinished recipient again.
 */
export class QueueStore {
  private readonly db: Database;
  private readonly messages;
  private readonly recipients;
  private readonly due;
  /** Queue ids of held messages, whose recipients have no due entries while the hold lasts. */
  private readonly held;
  /** Bodies small enough to be written in the same synced batch as their message record. */
  private readonly bodies;

  constructor(db: Database) {
    this.db = db;
    this.messages = db.sublevel<MessageRecord>('messages');
    this.recipients = db.sublevel<RecipientRecord>('recipients');
    this.due = db.sublevel<string>('due');
    this.held = db.sublevel<string>('held-messages');
    this.bodies = db.level.sublevel<string, Buffer>('bodies', { valueEncoding: 'buffer' });
  }

  /** Returns the operation that stores a message body with its record, for a group commit. */
  bodyOperation(queueId: string, body: Buffer): QueueOperation {
    return { type: 'put', sublevel: this.bodies, key: queueId, value: body };
  }

  /** Returns the operation that removes a stored body, for a group commit. */
  removeBodyOperation(queueId: string): QueueOperation {
    return { type: 'del', sublevel: this.bodies, key: queueId };
  }

  /** Iterates the queue ids of every body stored in LevelDB (used at start). */
  async *bodyIds(): AsyncGenerator<string> {
    for await (const key of this.bodies.keys()) {
      yield key;
    }
  }

  /** Returns a body stored in LevelDB, or null when there is none. */
  async getBody(queueId: string): Promise<Buffer | null> {
    return (await this.bodies.get(queueId)) ?? null;
  }

  /** Returns the operations that enqueue a message, for a group commit. */
  enqueueOperations(message: MessageRecord, recipients: RecipientRecord[]): QueueOperation[] {
    const operations: QueueOperation[] = [{ type: 'put', sublevel: this.messages, key: message.queueId, value: message }];
    for (const recipient of recipients) {
      operations.push(...this.recipientOperations(null, recipient));
    }
    return operations;
  }

  /**
   * Writes operations in one batch, synced to disk unless `sync` is false. An unsynced batch survives
   * a crash of the process (it is in the OS page cache) and reaches the disk with the next synced one.
   */
  async commit(operations: QueueOperation[], sync = true): Promise<void> {
    await this.db.write(operations, { sync });
  }

  /** Replaces recipient records, keeping the due index in step, in one synced batch. */
  async updateRecipients(updates: Array<{ before: RecipientRecord | null; after: RecipientRecord }>): Promise<void> {
    const operations: QueueOperation[] = [];
    for (const { before, after } of updates) {
      operations.push(...this.recipientOperations(before, after));
    }
    await this.commit(operations);
  }

  async getMessage(queueId: string): Promise<MessageRecord | null> {
    return (await this.messages.get(queueId)) ?? null;
  }

  async putMessage(message: MessageRecord): Promise<void> {
    await this.messages.put(message.queueId, message, { sync: true } as never);
  }

  /** Returns every recipient record of a message, in envelope order. */
  async getRecipients(queueId: string): Promise<RecipientRecord[]> {
    const records: RecipientRecord[] = [];
    for await (const record of this.recipients.values({ gte: `${queueId}${SEP}`, lt: `${queueId}${SEP}${HIGH}` })) {
      records.push(record);
    }
    return records;
  }

  /** Returns up to `limit` due entries at or before `now`, oldest first. */
  async dueRecipients(now: number, limit: number): Promise<Array<{ queueId: QueueId; index: number; at: number }>> {
    const result: Array<{ queueId: QueueId; index: number; at: number }> = [];
    for await (const key of this.due.keys({ lte: `${dueTime(now)}${SEP}${HIGH}`, limit })) {
      const [at, queueId, index] = key.split(SEP);
      result.push({ queueId: queueId as QueueId, index: Number(index), at: Number(at) });
    }
    return result;
  }

  /** Returns the earliest scheduled attempt time, or null when nothing waits. */
  async nextDueTime(): Promise<number | null> {
    for await (const key of this.due.keys({ limit: 1 })) {
      return Number(key.split(SEP)[0]);
    }
    return null;
  }

  /** Iterates every unfinished recipient (for the queue listing). */
  async *pending(): AsyncGenerator<RecipientRecord> {
    for await (const key of this.due.keys()) {
      const [, queueId, index] = key.split(SEP);
      const record = await this.recipients.get(recipientKey(queueId ?? '', Number(index)));
      if (record) {
        yield record;
      }
    }
  }

  /** Iterates every message record (used at start to find spool files without a record). */
  async *messageIds(): AsyncGenerator<string> {
    for await (const key of this.messages.keys()) {
      yield key;
    }
  }

  /**
   * Puts a message on hold: sets `held` and removes the due entries of its unfinished recipients
   * (nextAttemptAt becomes null, the status stays), so the scheduler does not rescan them. Returns
   * the recipients that were waiting, or null when the queue has no such message.
   */
  async hold(queueId: string, now: number = Date.now()): Promise<{ message: MessageRecord; recipients: RecipientRecord[] } | null> {
    const message = await this.getMessage(queueId);
    if (!message) {
      return null;
    }
    const waiting = (await this.getRecipients(queueId)).filter((record) => !FINAL_STATUSES.has(record.status));
    const updated = { ...message, held: true };
    const operations: QueueOperation[] = [
      { type: 'put', sublevel: this.messages, key: queueId, value: updated },
      { type: 'put', sublevel: this.held, key: queueId, value: '' },
    ];
    for (const record of waiting) {
      operations.push(...this.recipientOperations(record, { ...record, nextAttemptAt: null, updatedAt: new Date(now).toISOString() }));
    }
    await this.commit(operations);
    return { message: updated, recipients: waiting };
  }

  /**
   * Ends the hold of a message: clears `held` and makes every unfinished recipient due at `now`.
   * Returns the recipients made due, or null when the queue has no such message.
   */
  async release(queueId: string, now: number = Date.now()): Promise<{ message: MessageRecord; recipients: RecipientRecord[] } | null> {
    const message = await this.getMessage(queueId);
    if (!message) {
      return null;
    }
    const waiting = (await this.getRecipients(queueId)).filter((record) => !FINAL_STATUSES.has(record.status));
    const updated = { ...message, held: false };
    const operations: QueueOperation[] = [
      { type: 'put', sublevel: this.messages, key: queueId, value: updated },
      { type: 'del', sublevel: this.held, key: queueId },
    ];
    const released: RecipientRecord[] = [];
    for (const record of waiting) {
      const after = { ...record, nextAttemptAt: now, updatedAt: new Date(now).toISOString() };
      released.push(after);
      operations.push(...this.recipientOperations(record, after));
    }
    await this.commit(operations);
    return { message: updated, recipients: released };
  }

  /**
   * Finishes every unfinished recipient of a message with `status` (an operator deleted the
   * message) and ends any hold. Returns the message and the recipients as they were before, or null
   * when the queue has no such message.
   */
  async finishAll(
    queueId: string,
    status: RecipientStatus,
    now: number = Date.now(),
  ): Promise<{ message: MessageRecord; recipients: RecipientRecord[] } | null> {
    const message = await this.getMessage(queueId);
    if (!message) {
      return null;
    }
    const waiting = (await this.getRecipients(queueId)).filter((record) => !FINAL_STATUSES.has(record.status));
    const updated = { ...message, held: false };
    const operations: QueueOperation[] = [
      { type: 'put', sublevel: this.messages, key: queueId, value: updated },
      { type: 'del', sublevel: this.held, key: queueId },
    ];
    for (const record of waiting) {
      operations.push(...this.recipientOperations(record, { ...record, status, nextAttemptAt: null, updatedAt: new Date(now).toISOString() }));
    }
    await this.commit(operations);
    return { message: updated, recipients: waiting };
  }

  /** Iterates the unfinished recipients of held messages, in queue id order. */
  async *heldRecipients(): AsyncGenerator<RecipientRecord> {
    for await (const queueId of this.held.keys()) {
      for (const record of await this.getRecipients(queueId)) {
        if (!FINAL_STATUSES.has(record.status)) {
          yield record;
        }
      }
    }
  }

  /** Counts the due entries: the recipients waiting for an attempt, held ones excluded. Reads every key. */
  async countDue(): Promise<number> {
    let total = 0;
    for await (const _ of this.due.keys()) {
      total += 1;
    }
    return total;
  }

  /**
   * Returns the number of waiting recipients (due and held) and the smallest queue id among them,
   * which is the oldest message because queue ids sort by acceptance time. Reads every key of the
   * due and held indexes but no records except those of held messages.
   */
  async waitingStats(): Promise<{ due: number; held: number; oldestQueueId: string | null }> {
    let due = 0;
    let oldest: string | null = null;
    for await (const key of this.due.keys()) {
      due += 1;
      const queueId = key.split(SEP)[1] ?? '';
      if (oldest === null || queueId < oldest) {
        oldest = queueId;
      }
    }
    let held = 0;
    for await (const record of this.heldRecipients()) {
      held += 1;
      if (oldest === null || record.queueId < oldest) {
        oldest = record.queueId;
      }
    }
    return { due, held, oldestQueueId: oldest };
  }

  /** Returns the operations that replace recipient records and their due entries, for a group commit. */
  recipientUpdateOperations(updates: Array<{ before: RecipientRecord | null; after: RecipientRecord }>): QueueOperation[] {
    return updates.flatMap(({ before, after }) => this.recipientOperations(before, after));
  }

  private recipientOperations(before: RecipientRecord | null, after: RecipientRecord): QueueOperation[] {
    const operations: QueueOperation[] = [
      { type: 'put', sublevel: this.recipients, key: recipientKey(after.queueId, after.index), value: after },
    ];
    if (before && before.nextAttemptAt !== null) {
      operations.push({ type: 'del', sublevel: this.due, key: dueKey(before) });
    }
    if (after.nextAttemptAt !== null) {
      operations.push({ type: 'put', sublevel: this.due, key: dueKey(after), value: '' });
    }
    return operations;
  }
}

/**
 * Returns the acceptance time (ms since the epoch) encoded in a queue id: its first 9 characters are
 * the time in base 36 (see newQueueId). Returns null for an id that does not start that way.
 */
export function acceptanceTimeOf(queueId: string): number | null {
  const prefix = queueId.slice(0, 9);
  if (!/^[0-9A-Z]{9}$/.test(prefix)) {
    return null;
  }
  const millis = Number.parseInt(prefix, 36);
  return Number.isSafeInteger(millis) ? millis : null;
}

function recipientKey(queueId: string, index: number): string {
  return `${queueId}${SEP}${String(index).padStart(5, '0')}`;
}

function dueTime(millis: number): string {
  return String(Math.max(0, Math.floor(millis))).padStart(15, '0');
}

function dueKey(record: RecipientRecord): string {
  return `${dueTime(record.nextAttemptAt ?? 0)}${SEP}${record.queueId}${SEP}${String(record.index).padStart(5, '0')}`;
}
