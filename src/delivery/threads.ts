import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { TransactionResult } from './transaction.js';
import type { DeliveryAnswer, DeliveryJob, WorkerSettings } from './worker-protocol.js';

/** A delivery attempt as the queue runner hands it over; the id is added here. */
export type DeliveryRequest = Omit<DeliveryJob, 'id'>;

/** Wait before replacing a thread that stopped, doubled while replacements keep stopping early. */
const RESTART_DELAY_MS = { first: 500, max: 30_000 };
/** A thread that ran this long counts as healthy again. */
const HEALTHY_AFTER_MS = 10_000;

interface Thread {
  worker: Worker;
  /** Settles when the thread has loaded its code (or failed to). */
  ready: Promise<void>;
  live: boolean;
  startedAt: number;
  pending: Map<number, { resolve(result: TransactionResult): void; reject(error: Error): void }>;
}

/**
 * Runs the SMTP client side of delivery in worker threads, so it uses another core than the
 * listener and the store, which stay on the main thread. Each attempt goes to the live thread with
 * the fewest attempts under way. A thread that stops is replaced after a pause. Its attempts under
 * way fail with an error, and the queue runner tries their recipients again later.
 */
export class DeliveryThreads {
  private readonly threads: Thread[] = [];
  private readonly settings: WorkerSettings;
  private readonly logger: Logger;
  private nextId = 1;
  private restartDelay = RESTART_DELAY_MS.first;
  private closing = false;

  constructor(count: number, settings: WorkerSettings, logger: Logger) {
    this.settings = settings;
    this.logger = logger;
    for (let index = 0; index < count; index += 1) {
      this.threads.push(this.spawn());
    }
  }

  /** Resolves once every thread has loaded its code; rejects when one cannot start. */
  async ready(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.ready));
  }

  /** Runs one delivery attempt in a thread. Rejects when the body cannot be read or the thread stops. */
  deliver(request: DeliveryRequest): Promise<TransactionResult> {
    const live = this.threads.filter((thread) => thread.live);
    const thread = live.reduce<Thread | null>((best, candidate) => (!best || candidate.pending.size < best.pending.size ? candidate : best), null);
    if (!thread) {
      return Promise.reject(new Error('no delivery thread is running; the attempt waits for the next scan'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ ...request, id } satisfies DeliveryJob);
    });
  }

  /** Closes the threads' idle SMTP sessions and stops the threads. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.threads.map(
        (thread) =>
          new Promise<void>((resolve) => {
            if (!thread.live) {
              void thread.worker.terminate().finally(resolve);
              return;
            }
            const timer = setTimeout(() => void thread.worker.terminate(), 10_000);
            thread.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            thread.worker.postMessage({ type: 'close' });
          }),
      ),
    );
  }

  private spawn(): Thread {
    const worker = startWorker(this.settings);
    let markReady: () => void = () => undefined;
    let failStart: (error: Error) => void = () => undefined;
    const thread: Thread = {
      worker,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        failStart = reject;
      }),
      live: false,
      startedAt: Date.now(),
      pending: new Map(),
    };
    // A rejection is handled by ready() at start; a replacement thread's is only logged.
    thread.ready.catch(() => undefined);

    worker.on('message', (answer: DeliveryAnswer | { ready: true }) => {
      if ('ready' in answer) {
        thread.live = true;
        markReady();
        return;
      }
      const waiter = thread.pending.get(answer.id);
      thread.pending.delete(answer.id);
      if (!waiter) {
        return;
      }
      if (answer.ok) {
        waiter.resolve(answer.result);
      } else {
        waiter.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code ?? undefined }));
      }
    });
    worker.on('error', (error) => {
      failStart(error);
      this.logger.error({ err: error }, 'delivery thread failed');
    });
    worker.on('exit', (code) => {
      thread.live = false;
      failStart(new Error(`the delivery thread stopped with exit code ${code} before it was ready`));
      for (const waiter of thread.pending.values()) {
        waiter.reject(new Error(`the delivery thread stopped (exit code ${code}) during the attempt`));
      }
      thread.pending.clear();
      if (this.closing) {
        return;
      }
      this.restartDelay = Date.now() - thread.startedAt > HEALTHY_AFTER_MS ? RESTART_DELAY_MS.first : Math.min(this.restartDelay * 2, RESTART_DELAY_MS.max);
      this.logger.error({ exitCode: code, restartInMs: this.restartDelay }, 'delivery thread stopped; starting a new one');
      const timer = setTimeout(() => {
        const position = this.threads.indexOf(thread);
        if (!this.closing && position >= 0) {
          this.threads[position] = this.spawn();
        }
      }, this.restartDelay);
      timer.unref();
    });
    return thread;
  }
}

/**
 * Starts the thread's entry. Compiled, it is worker.js beside this file. Under tsx or vitest this
 * module is TypeScript: the thread then registers tsx's loader before it imports worker.ts.
 */
function startWorker(settings: WorkerSettings): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./worker.js', import.meta.url), { workerData: settings });
  }
  const entry = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: settings });
}
