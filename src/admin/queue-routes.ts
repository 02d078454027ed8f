import { z } from 'zod';
import type { RecipientStatus } from '../core/types.js';
import type { MessageRecord, RecipientRecord } from '../store/queue.js';
import { ApiError, invalidParameter } from './errors.js';
import { pathQueueId } from './history-routes.js';
import { readJsonBody } from './http.js';
import { checkParameterNames, limitParameter, stringParameter } from './params.js';
import { summarizeQueue } from './queue-summary.js';
import type { AdminDeps, QueueControl, Route } from './types.js';

/** Entries of GET /api/queue when `limit` is absent. */
export const DEFAULT_QUEUE_LIMIT = 1000;
/** Largest accepted `limit` of GET /api/queue. */
export const MAX_QUEUE_LIMIT = 10_000;

const MAX_NOTE_LENGTH = 2000;
const MAX_ACTOR_LENGTH = 100;
const NO_CONTROL_CHARACTERS = /^[^\x00-\x1f\x7f-\x9f]*$/;
const NOTE_REQUIRED = 'note is required: say why the message is deleted, e.g. "duplicate send of the March newsletter"';
/** Audit actor recorded on the events of a deletion when the request names none. */
const DEFAULT_ACTOR = 'admin-api';

const deleteBodySchema = z
  .object({
    note: z.string({ error: NOTE_REQUIRED }).trim().max(MAX_NOTE_LENGTH, { error: `note must be at most ${MAX_NOTE_LENGTH} characters` }).optional(),
    actor: z
      .string({ error: 'actor must be a string' })
      .trim()
      .min(1, { error: 'actor must not be empty' })
      .max(MAX_ACTOR_LENGTH, { error: `actor must be at most ${MAX_ACTOR_LENGTH} characters` })
      .regex(NO_CONTROL_CHARACTERS, { error: 'actor must not contain control characters' })
      .optional(),
  })
  .strict();

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

/** Builds the queue routes: the listing, the summary, and retry, hold, release and delete. */
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
      pattern: '/api/queue/summary',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, []);
          return { status: 200, body: await summarizeQueue(deps.queue) };
        },
      },
    },
    {
      pattern: '/api/queue/:queueId/retry',
      handlers: {
        POST: async (context) => {
          checkParameterNames(context.query, []);
          const queueId = pathQueueId(context);
          const control = requireControl(deps, 'retry');
          const message = await deps.queue.getMessage(queueId);
          if (message?.held) {
            throw new ApiError('conflict', `queued message ${queueId} is on hold; release it with POST /api/queue/${queueId}/release`);
          }
          const found = await control.retryNow(queueId);
          if (!found) {
            throw new ApiError('not_found', `queued message ${queueId} not found`);
          }
          return { status: 202, body: { queueId, scheduled: true } };
        },
      },
    },
    {
      pattern: '/api/queue/:queueId/hold',
      handlers: {
        POST: async (context) => {
          checkParameterNames(context.query, []);
          const queueId = pathQueueId(context);
          const result = await requireControl(deps, 'hold').hold(queueId);
          if (!result) {
            throw new ApiError('not_found', `queued message ${queueId} not found`);
          }
          return { status: 200, body: result };
        },
      },
    },
    {
      pattern: '/api/queue/:queueId/release',
      handlers: {
        POST: async (context) => {
          checkParameterNames(context.query, []);
          const queueId = pathQueueId(context);
          const result = await requireControl(deps, 'release').release(queueId);
          if (!result) {
            throw new ApiError('not_found', `queued message ${queueId} not found`);
          }
          return { status: 200, body: result };
        },
      },
    },
    {
      pattern: '/api/queue/:queueId',
      handlers: {
        DELETE: async (context) => {
          checkParameterNames(context.query, ['note', 'actor']);
          const queueId = pathQueueId(context);
          const control = requireControl(deps, 'delete');
          const parsed = deleteBodySchema.safeParse((await readJsonBody(context.req)) ?? {});
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            const field = issue?.code === 'unrecognized_keys' ? (issue.keys[0] ?? 'body') : (issue?.path.join('.') || 'body');
            throw invalidParameter(field, issue?.code === 'unrecognized_keys' ? `unknown body field "${field}"; allowed: note, actor` : (issue?.message ?? 'invalid body'));
          }
          const queryNote = stringParameter(context.query, 'note');
          if (parsed.data.note !== undefined && queryNote !== undefined) {
            throw invalidParameter('note', 'note is given both in the body and in the query; give it once');
          }
          const note = parsed.data.note ?? queryNote ?? '';
          if (note === '') {
            throw invalidParameter('note', NOTE_REQUIRED);
          }
          if (note.length > MAX_NOTE_LENGTH) {
            throw invalidParameter('note', `note must be at most ${MAX_NOTE_LENGTH} characters`);
          }
          const actor = parsed.data.actor ?? stringParameter(context.query, 'actor') ?? DEFAULT_ACTOR;

          const result = await control.remove(queueId, note, actor);
          if (!result) {
            throw new ApiError('not_found', `queued message ${queueId} not found`);
          }
          return { status: 200, body: { ...result, deleted: true } };
        },
      },
    },
  ];
}

function requireControl(deps: AdminDeps, action: string): QueueControl {
  if (!deps.queueControl) {
    throw new ApiError('queue_control_unavailable', `this admin server is not connected to the delivery queue, so it cannot ${action} messages`);
  }
  return deps.queueControl;
}

/**
 * Lists unfinished recipients, soonest attempt first and held ones last, and counts all of them.
 * Held recipients have no due entry (their nextAttemptAt is null), so they are read from the held index.
 */
async function listQueue(deps: AdminDeps, limit: number): Promise<{ queue: QueueItem[]; total: number }> {
  const messages = new Map<string, MessageRecord | null>();
  const queue: QueueItem[] = [];
  const seen = new Set<string>();

  const add = async (record: RecipientRecord) => {
    const key = `${record.queueId}\u0000${record.index}`;
    if (queue.length === limit || seen.has(key)) {
      return;
    }
    seen.add(key);
    let message = messages.get(record.queueId);
    if (message === undefined) {
      message = await deps.queue.getMessage(record.queueId);
      messages.set(record.queueId, message);
    }
    queue.push(toQueueItem(record, message));
  };

  for await (const record of deps.queue.pending()) {
    if (queue.length === limit) {
      break;
    }
    await add(record);
  }
  let held = 0;
  for await (const record of deps.queue.heldRecipients()) {
    held += 1;
    await add(record);
  }

  // NOTE: counting reads every key of the due index; a queue of millions makes this request slow.
  const total = (await deps.queue.countDue()) + held;
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
