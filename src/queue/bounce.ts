import { Readable } from 'node:stream';
import { newQueueId } from '../core/ids.js';
import type { Reply } from '../core/reply.js';
import { composeBounce, type FailedRecipient } from '../dsn/compose.js';
import type { MessageRecord, RecipientRecord } from '../store/queue.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { MessageBodies } from '../spool/bodies.js';
import type { QueueOperation, QueueStore } from '../store/queue.js';

/** Dependencies of bounce queueing. */
export interface BounceDeps {
  config: Config;
  logger: Logger;
  bodies: MessageBodies;
  queue: QueueStore;
  commit(operations: QueueOperation[]): Promise<void>;
}

/**
 * Composes a bounce (RFC 3464) listing the given failed recipients and queues it to the original
 * envelope sender with the null reverse path. Callers never call this for a bounce or for a message
 * whose sender is the null path.
 */
export async function queueBounce(
  deps: BounceDeps,
  message: MessageRecord,
  failed: Array<{ record: RecipientRecord; reply: Reply; mx: string | null; at: number }>,
): Promise<{ message: MessageRecord; records: RecipientRecord[]; body: Buffer | null }> {
  const originalHeaders = await deps.bodies.readHeaderBlock(message).catch(() => '');
  const failures: FailedRecipient[] = failed.map(({ record, reply, mx, at }) => ({
    recipient: record.recipient,
    action: 'failed',
    status: reply.enhancedCode || (reply.code !== null && reply.code < 500 ? '4.0.0' : '5.0.0'),
    diagnostic: reply.text,
    remoteMta: reply.local ? null : mx,
    lastAttempt: new Date(at).toISOString(),
    fromServer: !reply.local,
  }));
  const body = await composeBounce({
    reportingMta: deps.config.hostname,
    queueId: message.queueId,
    sender: message.sender,
    receivedAt: message.receivedAt,
    failures,
    originalHeaders,
    originalMessageId: message.messageId,
  });

  const queueId = newQueueId();
  const written = await deps.bodies.write(queueId, Buffer.alloc(0), Readable.from([body]), Number.MAX_SAFE_INTEGER);
  const bodyOperations = await deps.bodies.persist(queueId, written);
  const now = Date.now();
  const bounce: MessageRecord = {
    queueId,
    sender: '',
    recipients: [message.sender],
    messageId: null,
    campaign: message.campaign,
    source: { ip: 'local', user: null },
    size: written.size,
    receivedAt: new Date(now).toISOString(),
    isBounce: true,
    smtputf8: message.smtputf8,
    held: false,
    ...(written.inline ? { inline: true } : {}),
  };
  const recipient: RecipientRecord = {
    queueId,
    index: 0,
    recipient: message.sender,
    status: 'queued',
    attempts: 0,
    nextAttemptAt: now,
    lastReply: null,
    lastMx: null,
    updatedAt: bounce.receivedAt,
  };
  await deps.commit([...deps.queue.enqueueOperations(bounce, [recipient]), ...bodyOperations]);
  deps.logger.info({ queueId, originalQueueId: message.queueId, to: message.sender, recipients: failures.length }, 'bounce queued for the sender');
  return { message: bounce, records: [recipient], body: written.inline };
}
