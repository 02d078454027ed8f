import { createReadStream } from 'node:fs';
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
