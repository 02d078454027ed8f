import { createReadStream } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../core/logger.js';
import { SessionPool } from './pool.js';
import { deliverMessage } from './transaction.js';
import type { ControlRequest, DeliveryAnswer, DeliveryJob, WorkerSettings } from './worker-protocol.js';

/**
 * Entry of a delivery thread. It runs the SMTP client side of delivery attempts (connect, EHLO,
 * STARTTLS, the transaction, dot-stuffing the body) with its own session pool. So this work does not
 * share the main thread with the listener and the store.
 */
const port = parentPort;
if (!port) {
  throw new Error('the delivery worker must run in a worker thread');
}
const settings = workerData as WorkerSettings;
const logger = createLogger(settings.logLevel).child({ thread: 'delivery' });
const pool = new SessionPool();
lowerPriority(settings.nice);

port.on('message', (request: DeliveryJob | ControlRequest) => {
  if ('type' in request) {
    void pool.close().finally(() => port.close());
    return;
  }
  void run(request).then((answer) => port.postMessage(answer));
});
port.postMessage({ ready: true });

async function run(job: DeliveryJob): Promise<DeliveryAnswer> {
  const { body } = job;
  try {
    const result = await deliverMessage(
      {
        ...job.message,
        openBody: () =>
          'bytes' in body
            ? Readable.from([Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength)], { objectMode: false })
            : createReadStream(body.path),
      },
      job.destinations,
      { ...job.options, logger, pool },
    );
    return { id: job.id, ok: true, result };
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    return { id: job.id, ok: false, error: { message: failure?.message ?? String(error), code: failure?.code ?? null } };
  }
}

/**
 * Adds `increment` to this thread's nice value, up to 19. Linux keeps a nice value per thread, and
 * setpriority(2) with id 0 changes the calling thread's. Other systems would change the whole
 * process, so there it does nothing.
 */
function lowerPriority(increment: number): void {
  if (increment === 0 || process.platform !== 'linux') {
    return;
  }
  const nice = Math.min(19, getPriority() + increment);
  try {
    setPriority(nice);
  } catch (error) {
    logger.warn({ err: error, nice }, 'setting the delivery thread\'s nice value failed, so it runs at the priority of the process');
  }
}
