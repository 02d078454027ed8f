import { Readable } from 'node:stream';
import type { MessageRecord, QueueOperation, QueueStore } from '../store/queue.js';
import type { Spool, SpoolWrite } from './spool.js';

/**
 * Storage of message bodies: small ones in LevelDB, written in the same synced batch as the queue
 * record, and the rest in spool files. Callers go through this class and need not know which.
 */
export class MessageBodies {
  private readonly spool: Spool;
  private readonly queue: QueueStore;
  private readonly inlineMaxSize: number;

  constructor(spool: Spool, queue: QueueStore, inlineMaxSize: number) {
    this.spool = spool;
    this.queue = queue;
    this.inlineMaxSize = inlineMaxSize;
  }

  /** Streams a body in: into memory when it fits the inline limit, otherwise into a synced spool file. */
  write(queueId: string, prefix: Buffer, body: Readable, maxSize: number): Promise<SpoolWrite> {
    return this.spool.write(queueId, prefix, body, maxSize, this.inlineMaxSize);
  }

  /**
   * Makes a written body durable together with its record: returns the operation that stores an
   * inline body, or fsyncs the spool folder for a file and returns none. The message record must go
   * into the same commit as the returned operations.
   */
  async persist(queueId: string, written: SpoolWrite): Promise<QueueOperation[]> {
    if (written.inline) {
      return [this.queue.bodyOperation(queueId, written.inline)];
    }
    await this.spool.syncDirectory();
    return [];
  }

  /** Drops a written body that will not be queued (a failed commit, a rejected message). */
  async discard(queueId: string, written: SpoolWrite | null): Promise<void> {
    if (!written?.inline) {
      await this.spool.remove(queueId);
    }
  }

  /** Opens a body for delivery; `cached` is the body when the caller still has it in memory. */
  open(message: MessageRecord, cached?: Buffer): Readable {
    if (!message.inline) {
      return this.spool.openBody(message.queueId);
    }
    if (cached) {
      return Readable.from([cached], { objectMode: false });
    }
    const stream = new Readable({ read() {} });
    this.queue.getBody(message.queueId).then(
      (body) => {
        if (!body) {
          stream.destroy(Object.assign(new Error(`the body of ${message.queueId} is missing from the store`), { code: 'ENOENT' }));
          return;
        }
        stream.push(body);
        stream.push(null);
      },
      (error: unknown) => stream.destroy(error as Error),
    );
    return stream;
  }

  /**
   * Returns what a delivery thread needs to read a body: its bytes (`cached`, or read from LevelDB)
   * for an inline body, or the spool file's path. Throws an ENOENT error when an inline body is missing.
   */
  async locate(message: MessageRecord, cached?: Buffer): Promise<{ bytes: Uint8Array } | { path: string }> {
    if (!message.inline) {
      return { path: this.spool.pathOf(message.queueId) };
    }
    const bytes = cached ?? (await this.queue.getBody(message.queueId));
    if (!bytes) {
      throw Object.assign(new Error(`the body of ${message.queueId} is missing from the store`), { code: 'ENOENT' });
    }
    return { bytes };
  }

  /** Reads the header block of a body (up to the first empty line, at most `maxBytes`). */
  async readHeaderBlock(message: MessageRecord, maxBytes = 64 * 1024): Promise<string> {
    if (!message.inline) {
      return this.spool.readHeaderBlock(message.queueId, maxBytes);
    }
    const body = await this.queue.getBody(message.queueId);
    const text = body ? body.subarray(0, maxBytes).toString('utf8') : '';
    const end = text.search(/\r?\n\r?\n/);
    return end >= 0 ? text.slice(0, end) : text;
  }

  /** Returns the operation that removes an inline body in a commit, or null for a spool file. */
  removeOperation(message: MessageRecord): QueueOperation | null {
    return message.inline ? this.queue.removeBodyOperation(message.queueId) : null;
  }

  /** Removes a body once every recipient of its message is finished. */
  async remove(message: MessageRecord): Promise<void> {
    if (message.inline) {
      await this.queue.commit([this.queue.removeBodyOperation(message.queueId)]);
      return;
    }
    await this.spool.remove(message.queueId);
  }

  /** Tells whether the body of a queued message is still stored. */
  async exists(message: MessageRecord, files: ReadonlySet<string>): Promise<boolean> {
    return message.inline ? (await this.queue.getBody(message.queueId)) !== null : files.has(message.queueId);
  }
}
