import { z } from 'zod';
import { ApiError, invalidParameter } from './errors.js';
import { decodeSegment, readJsonBody } from './http.js';
import { checkParameterNames, limitParameter, patternParameter, stringParameter, validateAddress } from './params.js';
import type { AdminDeps, RequestContext, Route } from './types.js';

/** Page size of GET /api/suppressions when `limit` is absent. */
export const DEFAULT_SUPPRESSION_LIMIT = 100;
/** Largest accepted `limit` of GET /api/suppressions. */
export const MAX_SUPPRESSION_LIMIT = 1000;
/** Audit actor recorded when a request names none. */
export const DEFAULT_ACTOR = 'admin-api';

const MAX_NOTE_LENGTH = 2000;
const MAX_REASON_LENGTH = 100;
const MAX_ACTOR_LENGTH = 100;
const DOMAIN = /^[^\s@/]{1,255}$/;
const NO_CONTROL_CHARACTERS = /^[^\x00-\x1f\x7f-\x9f]*$/;

const NOTE_REQUIRED =
  'note is required: state the fresh signal that justifies sending to this address again, ' +
  'e.g. "recipient confirmed by phone that the mailbox works again"';

const actorSchema = z
  .string({ error: 'actor must be a string' })
  .trim()
  .min(1, { error: 'actor must not be empty' })
  .max(MAX_ACTOR_LENGTH, { error: `actor must be at most ${MAX_ACTOR_LENGTH} characters` })
  .regex(NO_CONTROL_CHARACTERS, { error: 'actor must not contain control characters' });

const putBodySchema = z
  .object({
    reason: z
      .string({ error: 'reason is required: a non-empty string such as "userunknown"' })
      .trim()
      .min(1, { error: 'reason is required: a non-empty string such as "userunknown"' })
      .max(MAX_REASON_LENGTH, { error: `reason must be at most ${MAX_REASON_LENGTH} characters` })
      .regex(NO_CONTROL_CHARACTERS, { error: 'reason must not contain control characters' }),
    note: z
      .string({ error: 'note must be a string or null' })
      .trim()
      .max(MAX_NOTE_LENGTH, { error: `note must be at most ${MAX_NOTE_LENGTH} characters` })
      .nullable()
      .optional(),
    actor: actorSchema.optional(),
  })
  .strict();

const deleteBodySchema = z
  .object({
    note: z
      .string({ error: NOTE_REQUIRED })
      .trim()
      .max(MAX_NOTE_LENGTH, { error: `note must be at most ${MAX_NOTE_LENGTH} characters` })
      .optional(),
    actor: actorSchema.optional(),
  })
  .strict();

/** Builds the suppression list routes: listing, lookup with audit trail, manual add and removal. */
export function suppressionRoutes(deps: AdminDeps): Route[] {
  const { suppressions } = deps;

  return [
    {
      pattern: '/api/suppressions',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['domain', 'reason', 'limit', 'after']);
          const page = await suppressions.list({
            domain: patternParameter(query, 'domain', DOMAIN, 'a domain such as example.com'),
            reason: stringParameter(query, 'reason'),
            after: stringParameter(query, 'after'),
            limit: limitParameter(query, DEFAULT_SUPPRESSION_LIMIT, MAX_SUPPRESSION_LIMIT),
          });
          return { status: 200, body: { suppressions: page.suppressions, next: page.next } };
        },
      },
    },
    {
      pattern: '/api/suppressions/:address',
      handlers: {
        GET: async (context) => {
          checkParameterNames(context.query, []);
          const address = pathAddress(context);
          const [entry, audit] = await Promise.all([suppressions.get(address), suppressions.history(address)]);
          if (!entry) {
            // The trail stays after a removal, so a 404 still shows who removed the address and why.
            throw new ApiError('not_found', `${suppressions.key(address)} is not on the suppression list`, {
              extra: { audit },
            });
          }
          return { status: 200, body: { ...entry, audit } };
        },

        PUT: async (context) => {
          checkParameterNames(context.query, []);
          const address = pathAddress(context);
          const body = parseBody(putBodySchema, await readJsonBody(context.req));
          const existing = await suppressions.get(address);
          const entry = await suppressions.addManual(address, body.reason, body.note || null, body.actor ?? DEFAULT_ACTOR);
          return {
            status: existing ? 200 : 201,
            body: entry,
            headers: { Location: `/api/suppressions/${encodeURIComponent(entry.address)}` },
          };
        },

        DELETE: async (context) => {
          checkParameterNames(context.query, ['note', 'actor']);
          const address = pathAddress(context);
          const body = parseBody(deleteBodySchema, await readJsonBody(context.req));
          const note = removalNote(body.note, context.query.get('note'));
          const actor = body.actor ?? actorFromQuery(context.query) ?? DEFAULT_ACTOR;

          const removed = await suppressions.remove(address, note, actor);
          if (!removed) {
            throw new ApiError('not_found', `${suppressions.key(address)} is not on the suppression list`);
          }
          return { status: 200, body: removed };
        },
      },
    },
  ];
}

function pathAddress(context: RequestContext): string {
  return validateAddress('address', decodeSegment('address', context.params.address ?? ''));
}

/** Validates a JSON body against a schema; a missing body counts as `{}` so required fields are named. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) {
    return result.data;
  }

  const issue = result.error.issues[0];
  if (!issue) {
    throw new ApiError('invalid_parameter', 'invalid request body');
  }
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0] ?? 'body';
    throw invalidParameter(field, `unknown body field "${field}"; allowed: ${Object.keys(objectShape(schema)).join(', ')}`);
  }
  if (issue.path.length === 0) {
    throw invalidParameter('body', 'request body must be a JSON object');
  }
  throw invalidParameter(issue.path.join('.'), issue.message);
}

function objectShape(schema: z.ZodType): Record<string, unknown> {
  return schema instanceof z.ZodObject ? schema.shape : {};
}

/** Returns the removal note from the body or the query; exactly one must carry a non-empty note. */
function removalNote(fromBody: string | undefined, fromQuery: string | null): string {
  const queryNote = fromQuery?.trim() ?? '';
  if (fromBody !== undefined && fromQuery !== null) {
    throw invalidParameter('note', 'note is given both in the body and in the query; give it once');
  }
  const note = fromBody ?? queryNote;
  if (note === '') {
    throw invalidParameter('note', NOTE_REQUIRED);
  }
  if (note.length > MAX_NOTE_LENGTH) {
    throw invalidParameter('note', `note must be at most ${MAX_NOTE_LENGTH} characters`);
  }
  return note;
}

function actorFromQuery(query: URLSearchParams): string | undefined {
  const actor = stringParameter(query, 'actor');
  if (actor === undefined) {
    return undefined;
  }
  const result = actorSchema.safeParse(actor);
  if (!result.success) {
    throw invalidParameter('actor', result.error.issues[0]?.message ?? 'invalid actor');
  }
  return result.data;
}
