import type { Database } from './db.js';
import type { QueueOperation } from './queue.js';

/** Maps the Message-ID header of queued messages to their queue ids, to correlate bounces without VERP. */
export class MessageIdIndex {
  private readonly index;

  constructor(db: Database) {
    this.index = db.sublevel<string>('messages-by-message-id');
  }

  /** Returns the operation that indexes a message, for the same commit as its queue record. */
  operation(messageId: string, queueId: string): QueueOperation {
    return { type: 'put', sublevel: this.index, key: normalizeMessageId(messageId), value: queueId };
  }

  /** Returns the queue id of the message with this Message-ID, or null. */
  async lookup(messageId: string): Promise<string | null> {
    return (await this.index.get(normalizeMessageId(messageId))) ?? null;
  }
}

/** Strips angle brackets and surrounding space, so "<a@b>" and "a@b" compare equal. */
export function normalizeMessageId(messageId: string): string {
  return messageId.trim().replace(/^<|>$/g, '').trim();
}
