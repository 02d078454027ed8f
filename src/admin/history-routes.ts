import type { DeliveryEvent } from '../core/types.js';
import type { RecipientRecord } from '../store/queue.js';
import { ApiError } from './errors.js';
import { EVENT_CURSOR_FORM, EVENT_ID } from './event-routes.js';
import { decodeSegment } from './http.js';
import { checkParameterNames, limitParameter, patternParameter, printable, validateAddress } from './params.js';
import type { AdminDeps, RequestContext, Route } from './types.js';

/** Events per page of a recipient's history when `limit` is absent. */
export const DEFAULT_HISTORY_LIMIT = 200;
/** Largest accepted `limit` of a history request. */
export const MAX_HISTORY_LIMIT = 1000;
/** Maximum events returned for one message, which has one event per recipient and attempt. */
const MAX_MESSAGE_EVENTS = 5000;

const QUEUE_ID = /^[A-Za-z0-9]{1,64}$/;

/** One recipient of a message in GET /api/history/message/{queueId}. */
export interface RecipientState {
  index: number;
  recipient: string;
  status: RecipientRecord['status'];
  attempts: number;
  /** ISO-8601 UTC time of the next attempt; null when finished or held. */
  nextAttemptAt: string | null;
  lastReply: { code: number | null; enhancedCode: string; text: string } | null;
  lastMx: string | null;
  updatedAt: string;
}

/** Builds the history routes: everything recorded for one recipient, and for one queued message. */
export function historyRoutes(deps: AdminDeps): Route[] {
  return [
    {
      pattern: '/api/history/recipient/:address',
      handlers: {
        GET: async (context) => {
          checkParameterNames(context.query, ['limit', 'before']);
          const address = validateAddress('address', decodeSegment('address', context.params.address ?? ''));
          const limit = limitParameter(context.query, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT);
          const before = patternParameter(context.query, 'before', EVENT_ID, EVENT_CURSOR_FORM);

          const [page, suppression, audit] = await Promise.all([
            deps.events.query({ recipient: address, limit, before }),
            deps.suppressions.get(address),
            deps.suppressions.history(address),
          ]);
          return {
            status: 200,
            body: {
              recipient: deps.suppressions.key(address),
              suppression,
              audit,
              summary: summarize(page.events),
              events: page.events,
              next: page.next,
            },
          };
        },
      },
    },
    {
      pattern: '/api/history/message/:queueId',
      handlers: {
        GET: async (context) => {
          checkParameterNames(context.query, []);
          const queueId = pathQueueId(context);
          const [message, records, page] = await Promise.all([
            deps.queue.getMessage(queueId),
            deps.queue.getRecipients(queueId),
            deps.events.query({ queueId, limit: MAX_MESSAGE_EVENTS }),
          ]);
          if (!message && page.events.length === 0) {
            throw new ApiError('not_found', `no message or event with queue id ${queueId}`);
          }
          return {
            status: 200,
            body: {
              queueId,
              message,
              recipients: records.map(recipientState),
              events: page.events,
              truncated: page.next !== null,
            },
          };
        },
      },
    },
  ];
}

/** Counts a page of events by action and names the first and last event time. */
function summarize(events: DeliveryEvent[]): { counts: Record<string, number>; first: string | null; last: string | null } {
  const counts: Record<string, number> = { delivered: 0, deferred: 0, bounced: 0, expired: 0, suppressed: 0 };
  for (const event of events) {
    counts[event.action] = (counts[event.action] ?? 0) + 1;
  }
  return { counts, first: events[events.length - 1]?.time ?? null, last: events[0]?.time ?? null };
}

/** Converts a recipient record into its API form, with ISO times. */
export function recipientState(record: RecipientRecord): RecipientState {
  return {
    index: record.index,
    recipient: record.recipient,
    status: record.status,
    attempts: record.attempts,
    nextAttemptAt: record.nextAttemptAt === null ? null : new Date(record.nextAttemptAt).toISOString(),
    lastReply: record.lastReply ? { code: record.lastReply.code, enhancedCode: record.lastReply.enhancedCode, text: record.lastReply.text } : null,
    lastMx: record.lastMx,
    updatedAt: record.updatedAt,
  };
}

/** Reads and validates the queue id path segment. */
export function pathQueueId(context: RequestContext): string {
  const queueId = decodeSegment('queueId', context.params.queueId ?? '');
  if (!QUEUE_ID.test(queueId)) {
    throw new ApiError('invalid_parameter', `invalid queueId "${printable(queueId)}": expected letters and digits only`, {
      field: 'queueId',
    });
  }
  return queueId;
}
