import type { QueueOperation, QueueStore } from './queue.js';

/**
 * Maximum wait, in ms, of operations that ride along with the next batch before they are written
 * on their own. Under load a batch starts well within it.
 */
export const RIDE_ALONG_MAX_WAIT_MS = 5;

/**
 * Maximum wait, in ms, of riders whose batch is written. They go on when the next synced batch
 * starts, or after this wait.
 */
export const RIDER_RELEASE_MAX_WAIT_MS = 5;

interface Waiter {
  operations: QueueOperation[];
  sync: boolean;
  rideAlong: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Options of one commit. */
export interface CommitOptions {
  /** Whether the batch is synced to disk before the commit resolves (default true). */
  sync?: boolean;
  /**
   * Whether to wait, for at most RIDE_ALONG_MAX_WAIT_MS, for the next batch that another caller
   * starts, instead of starting one. Ignored when `sync` is true.
   */
  rideAlong?: boolean;
}

/**
 * Writes queue operations of concurrent callers in shared synced batches (group commit): while one
 * batch is being written, new callers wait and the next batch carries all of them. One sync covers
 * many messages, so durable acceptance is not capped by the disk's fsync rate. Batches are written
 * one at a time, in the order of their callers. A batch is synced when any of its callers requests it.
 *
 * Unsynced operations may ride along: they start no batch and join the next one, such as the next
 * message's synced acceptance. Each batch is a round trip through libuv's thread pool, which wakes a
 * pool thread and then the main thread. With 4 KB messages and a new connection per message, batches
 * of their own for the outcome and the events of each delivery attempt cost 8 % of throughput.
 */
export class GroupCommitter {
  private readonly queue: QueueStore;
  private waiting: Waiter[] = [];
  /** Waiters in `waiting` that start a batch: those that do not ride along. */
  private starters = 0;
  private writing = false;
  private timer: NodeJS.Timeout | null = null;
  /** Work waiting for the next synced batch to start, and the timer that bounds its wait. */
  private deferred: Array<() => void> = [];
  private deferredTimer: NodeJS.Timeout | null = null;

  constructor(queue: QueueStore) {
    this.queue = queue;
  }

  /** Resolves once the operations are in LevelDB and, unless `sync` is false, synced to disk. */
  commit(operations: QueueOperation[], options: CommitOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const sync = options.sync ?? true;
      const rideAlong = options.rideAlong === true && !sync;
      this.waiting.push({ operations, sync, rideAlong, resolve, reject });
      if (!rideAlong) {
        this.starters += 1;
      }
      this.schedule();
    });
  }

  /**
   * Runs `task` when the next synced batch is handed to LevelDB, or after at most
   * RIDER_RELEASE_MAX_WAIT_MS, so it overlaps the disk sync instead of delaying a client's command.
   */
  private defer(task: () => void): void {
    this.deferred.push(task);
    this.deferredTimer ??= setTimeout(() => this.runDeferred(), RIDER_RELEASE_MAX_WAIT_MS);
  }

  private runDeferred(): void {
    if (this.deferredTimer) {
      clearTimeout(this.deferredTimer);
      this.deferredTimer = null;
    }
    const tasks = this.deferred;
    this.deferred = [];
    for (const task of tasks) {
      task();
    }
  }

  /** Starts a batch when a waiter needs one, or arms the timer for waiters that ride along. */
  private schedule(): void {
    if (this.writing || this.waiting.length === 0) {
      return;
    }
    if (this.starters > 0) {
      void this.drain();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (!this.writing && this.waiting.length > 0) {
        void this.drain();
      }
    }, RIDE_ALONG_MAX_WAIT_MS);
  }

  private async drain(): Promise<void> {
    this.writing = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // The first batch goes out whatever it holds; later ones only when a waiter needs a batch.
    do {
      const group = this.waiting;
      this.waiting = [];
      this.starters = 0;
      try {
        const sync = group.some((waiter) => waiter.sync);
        const written = this.queue.commit(
          group.flatMap((waiter) => waiter.operations),
          sync,
        );
        if (sync) {
          this.runDeferred();
        }
        await written;
        // Riders waited for a batch anyway. They go on with the next synced batch, so the callers that
        // started this one reply to their clients first.
        const riders = group.filter((waiter) => waiter.rideAlong);
        for (const waiter of group) {
          if (!waiter.rideAlong) {
            waiter.resolve();
          }
        }
        if (riders.length > 0) {
          this.defer(() => riders.forEach((waiter) => waiter.resolve()));
        }
      } catch (error) {
        for (const waiter of group) {
          waiter.reject(error);
        }
      }
    } while (this.starters > 0);
    this.writing = false;
    this.schedule();
  }
}
