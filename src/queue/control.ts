import type { Logger } from 'pino';
import type { MessageBodies } from '../spool/bodies.js';
import type { EventStore, NewEvent } from '../store/events.js';
import type { MessageRecord, QueueStore, RecipientRecord } from '../store/queue.js';

/** Reason recorded on the `expired` events of recipients whose message an operator deleted. */
export const DELETED_BY_OPERATOR = 'deleted-by-operator';

/** Result of an operator action on a queued message. */
export interface QueueActionResult {
  queueId: string;
  /** Whether the message is on hold after the action. */
  held: boolean;
  /** Recipients that the action affected: held, made due, or finished. */
  recipients: string[];
}

/** Actions on queued mail that only the running relay can perform; the admin API forwards to them. */
export interface QueueControl {
  /**
   * Schedules every unfinished recipient of a message for an immediate attempt.
   * Resolves to false when the queue has no message with this id.
   */
  retryNow(queueId: string): Promise<boolean>;
  /** Holds a message: it is not tried until released. Resolves to null when the message is unknown. */
  hold(queueId: string): Promise<QueueActionResult | null>;
  /** Releases a held message, making its unfinished recipients due now. Null when the message is unknown. */
  release(queueId: string): Promise<QueueActionResult | null>;
  /**
   * Deletes a message: its unfinished recipients become `expired` with an event of reason
   * "deleted-by-operator" that carries the note, and the body leaves the spool. No bounce is sent.
   * Null when the message is unknown.
   */
  remove(queueId: string, note: string, actor: string): Promise<QueueActionResult | null>;
}

/** Dependencies of the queue control: the stores, the message bodies, and the runner's scheduling hooks. */
export interface QueueControlDeps {
  queue: QueueStore;
  bodies: MessageBodies;
  events: EventStore;
  runner: { retryNow(queueId: string): Promise<boolean>; wake(): void; invalidate(queueId: string): void };
  logger?: Logger;
  /** Clock in ms since the epoch; injectable for tests. */
  now?: () => number;
}

/**
 * Creates the queue control that the admin API calls.
 *
 * NOTE: an attempt already under way when a message is held or deleted still finishes and writes its
 * outcome. So a recipient may end delivered after a delete, or get a due entry again while held.
 * The runner skips held messages, and a release makes them due anyway.
 */
export function createQueueControl(deps: QueueControlDeps): QueueControl {
  const now = deps.now ?? Date.now;

  return {
    retryNow: (queueId) => deps.runner.retryNow(queueId),

    async hold(queueId) {
      deps.runner.invalidate(queueId);
      const result = await deps.queue.hold(queueId, now());
      if (!result) {
        return null;
      }
      deps.logger?.info({ queueId, recipients: result.recipients.length }, 'message held by an operator');
      return { queueId, held: true, recipients: result.recipients.map((record) => record.recipient) };
    },

    async release(queueId) {
      deps.runner.invalidate(queueId);
      const result = await deps.queue.release(queueId, now());
      if (!result) {
        return null;
      }
      deps.runner.wake();
      deps.logger?.info({ queueId, recipients: result.recipients.length }, 'message released by an operator');
      return { queueId, held: false, recipients: result.recipients.map((record) => record.recipient) };
    },

    async remove(queueId, note, actor) {
      const time = now();
      deps.runner.invalidate(queueId);
      const result = await deps.queue.finishAll(queueId, 'expired', time);
      if (!result) {
        return null;
      }
      await deps.events.append(result.recipients.map((record) => deletedEvent(result.message, record, time, note, actor)));
      await deps.bodies.remove(result.message);
      deps.logger?.info({ queueId, recipients: result.recipients.length, actor }, 'message deleted by an operator');
      return { queueId, held: false, recipients: result.recipients.map((record) => record.recipient) };
    },
  };
}

function deletedEvent(message: MessageRecord, record: RecipientRecord, time: number, note: string, actor: string): NewEvent {
  return {
    time: new Date(time).toISOString(),
    queueId: message.queueId,
    messageId: message.messageId,
    sender: message.sender,
    recipient: record.recipient,
    stage: 'queue',
    mx: record.lastMx,
    remoteIp: null,
    remotePort: null,
    localIp: null,
    tls: null,
    code: null,
    enhancedCode: '',
    text: `deleted from the queue by ${actor}: ${note}`,
    attempt: record.attempts,
    permanent: true,
    reason: DELETED_BY_OPERATOR,
    action: 'expired',
    source: message.source,
    campaign: message.campaign,
    side: null,
    rule: null,
    suppressed: false,
  };
}
