import type { Logger } from 'pino';
import type { MessageBodies } from '../spool/bodies.js';
import type { Spool } from '../spool/spool.js';
import { FINAL_STATUSES, type QueueStore } from '../store/queue.js';

/**
 * Reconciles the stored bodies with the queue at start:
 * - A body file without a queue record never got a 250, because the record is written last, so it
 *   is removed. An inline body is written in the same batch as its record, so it cannot be left
 *   without one.
 * - A body whose recipients all have a final status was left by a stop between the commit of the
 *   last outcome and the removal of the body, so it is removed.
 * - A queued message whose body is missing cannot be delivered, so it is logged as an error with
 *   its queue id.
 */
export async function recoverSpool(deps: { queue: QueueStore; spool: Spool; bodies: MessageBodies; logger: Logger }): Promise<void> {
  const { queue, spool, bodies, logger } = deps;
  const files = new Set(await spool.list());
  let orphans = 0;
  let finished = 0;
  for (const queueId of [...files]) {
    const message = await queue.getMessage(queueId);
    if (!message) {
      orphans += 1;
    } else if (await allFinished(queue, queueId)) {
      finished += 1;
    } else {
      continue;
    }
    await spool.remove(queueId);
    files.delete(queueId);
  }

  const inline: string[] = [];
  for await (const queueId of queue.bodyIds()) {
    inline.push(queueId);
  }
  for (const queueId of inline) {
    if (await allFinished(queue, queueId)) {
      await queue.commit([queue.removeBodyOperation(queueId)]);
      finished += 1;
    }
  }

  let pending = 0;
  const seen = new Set<string>();
  for await (const record of queue.pending()) {
    pending += 1;
    if (seen.has(record.queueId)) {
      continue;
    }
    seen.add(record.queueId);
    const message = await queue.getMessage(record.queueId);
    if (!message || !(await bodies.exists(message, files))) {
      logger.error({ queueId: record.queueId }, 'queued message has no stored body; its recipients cannot be delivered');
    }
  }
  logger.info(
    { pendingRecipients: pending, messages: seen.size, removedUnfinishedWrites: orphans, removedFinishedBodies: finished },
    'queue recovered',
  );
}

/** Tells whether every recipient of a message has a final status. */
async function allFinished(queue: QueueStore, queueId: string): Promise<boolean> {
  const records = await queue.getRecipients(queueId);
  return records.length > 0 && records.every((record) => FINAL_STATUSES.has(record.status));
}
