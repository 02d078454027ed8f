import type { RecipientStatus } from '../core/types.js';
import type { MessageRecord, RecipientRecord } from '../store/queue.js';
import { ApiError } from './errors.js';
import { decodeSegment } from './http.js';
import { checkParameterNames, limitParameter, printable } from './params.js';
import type { AdminDeps, RequestContext, Route } from './types.js';

/** Entries of GET /api/queue when `limit` is absent. */
export const DEFAULT_QUEUE_LIMIT = 1000;
/** Largest accepted `limit` of GET /api/queue. */
export const MAX_QUEUE_LIMIT = 10_000;

const QUEUE_ID = /^[A-Za-z0-9]{1,64}$/;

/** One waiting recipient in GET /api/queue. */
export interface QueueItem {
  queueId: string;
  recipient: string;
  status: RecipientStatus;
  attempts: number;
  /** ISO-8601 UTC time of the next attempt. */
  nextAttemptAt: string | null;
  lastReply: { code: number | null; enhancedCode: string; text: string } | null;
  lastMx: string | null;
  /** Envelope sender; null when the message record is missing. */
  sender: string | null;
  /** ISO-8601 UTC time of acceptance; null when the message record is missing. */
  receivedAt: string | null;
  /** Whether an operator put the message on hold; a held message is not tried, even when nextAttemptAt has passed. */
  held: boolean;
}

/** Builds the queue routes: the listing and the retry action. */
export function queueRoutes(deps: AdminDeps): Route[] {
  return [
    {
      pattern: '/api/queue',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['limit']);
          const limit = limitParameter(query, DEFAULT_QUEUE_LIMIT, MAX_QUEUE_LIMIT);
          return { status: 200, body: await listQueue(deps, limit) };
        },
      },
    },
    {
      pattern: '/api/queue/:queueId/retry',
      handlers: {
        POST: async (context) => {
          checkParameterNames(context.query, []);
          const queueId = pathQueueId(context);
          if (!deps.queueControl) {
            throw new ApiError(
              'queue_control_unavailable',
              'this admin server is not connected to the delivery queue, so it cannot retry messages',
            );
          }
          const found = await deps.queueControl.retryNow(queueId);
          if (!found) {
            throw new ApiError('not_found', `queued message ${queueId} not found`);
          }
          return { status: 202, body: { queueId, scheduled: true } };
        },
      },
    },
  ];
}

/** Lists unfinished recipients, soonest attempt first, and counts all of them. */
async function listQueue(deps: AdminDeps, limit: number): Promise<{ queue: QueueItem[]; total: number }> {
  const messages = new Map<string, MessageRecord | null>();
  const queue: QueueItem[] = [];

  for await (const record of deps.queue.pending()) {
    if (queue.length === limit) {
      break;
    }
    let message = messages.get(record.queueId);
    if (message === undefined) {
      message = await deps.queue.getMessage(record.queueId);
      messages.set(record.queueId, message);
    }
    queue.push(toQueueItem(record, message));
  }

  // The due index has one key per unfinished recipient, so its length is the total.
  // NOTE: this reads every key of the due index into memory; a queue of millions makes this request slow.
  const total = (await deps.queue.dueRecipients(Number.MAX_SAFE_INTEGER, Infinity)).length;
  return { queue, total };
}

function toQueueItem(record: RecipientRecord, message: MessageRecord | null): QueueItem {
  return {
    queueId: record.queueId,
    recipient: record.recipient,
    status: record.status,
    attempts: record.attempts,
    nextAttemptAt: record.nextAttemptAt === null ? null : new Date(record.nextAttemptAt).toISOString(),
    lastReply: record.lastReply
      ? { code: record.lastReply.code, enhancedCode: record.lastReply.enhancedCode, text: record.lastReply.text }
      : null,
    lastMx: record.lastMx,
    sender: message?.sender ?? null,
    receivedAt: message?.receivedAt ?? null,
    held: message?.held ?? false,
  };
}

function pathQueueId(context: RequestContext): string {
  const queueId = decodeSegment('queueId', context.params.queueId ?? '');
  if (!QUEUE_ID.test(queueId)) {
    throw new ApiError('invalid_parameter', `invalid queueId "${printable(queueId)}": expected letters and digits only`, {
      field: 'queueId',
    });
  }
  return queueId;
}
