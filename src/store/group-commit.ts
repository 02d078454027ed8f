import type { QueueOperation, QueueStore } from './queue.js';

interface Waiter {
  operations: QueueOperation[];
  sync: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Writes queue operations of concurrent callers in shared synced batches (group commit): while one
 * batch is being written, new callers wait and the next batch carries all of them. One sync covers
 * many messages, so durable acceptance is not capped by the disk's fsync rate. Batches are written
 * one at a time, in the order of their callers. A batch is synced when any of its callers requests it.
 */
export class GroupCommitter {
  private readonly queue: QueueStore;
  private waiting: Waiter[] = [];
  private writing = false;

  constructor(queue: QueueStore) {
    this.queue = queue;
  }

  /** Resolves once the operations are in LevelDB and, unless `sync` is false, synced to disk. */
  commit(operations: QueueOperation[], options: { sync?: boolean } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ operations, sync: options.sync ?? true, resolve, reject });
      if (!this.writing) {
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      try {
        await this.queue.commit(
          group.flatMap((waiter) => waiter.operations),
          group.some((waiter) => waiter.sync),
        );
        for (const waiter of group) {
          waiter.resolve();
        }
      } catch (error) {
        for (const waiter of group) {
          waiter.reject(error);
        }
      }
    }
    this.writing = false;
  }
}
