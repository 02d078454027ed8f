import type { Logger } from 'pino';
import type { MessageBodies } from '../spool/bodies.js';
import type { Spool } from '../spool/spool.js';
import type { QueueStore } from '../store/queue.js';

/**
 * Reconciles the spool folder with the queue at start. A body file without a queue record never got a
 * 250, because the record is written last, so it is removed. (An inline body is written in the same
 * batch as its record, so it cannot be left alone.) A queued message whose body is missing cannot be
 * delivered, so it is logged as an error with its queue id.
 */
export async function recoverSpool(deps: { queue: QueueStore; spool: Spool; bodies: MessageBodies; logger: Logger }): Promise<void> {
  const { queue, spool, bodies, logger } = deps;
  const files = new Set(await spool.list());
  let orphans = 0;
  for (const queueId of files) {
    if (!(await queue.getMessage(queueId))) {
      await spool.remove(queueId);
      orphans += 1;
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
  logger.info({ pendingRecipients: pending, messages: seen.size, removedUnfinishedWrites: orphans }, 'queue recovered');
}
