import { z } from 'zod';
import { canonicalReason, describeAllowedReasons } from '../classify/reasons.js';
import type { SuppressionEntry, SuppressionQuery } from '../store/suppressions.js';
import { ApiError, invalidParameter } from './errors.js';
import { EVENT_CURSOR_FORM, EVENT_ID } from './event-routes.js';
import { decodeSegment, MAX_IMPORT_BYTES, parseJsonText, readJsonBody, readTextBody } from './http.js';
import {
  checkParameterNames,
  enumParameter,
  limitParameter,
  patternParameter,
  stringParameter,
  timeParameter,
  validateAddress,
} from './params.js';
import { formatCsv, ImportError, parseCsv, rowsFromCsv, rowsFromJson } from './suppression-transfer.js';
import type { AdminDeps, RequestContext, Route } from './types.js';

/** Page size of GET /api/suppressions when `limit` is absent. */
export const DEFAULT_SUPPRESSION_LIMIT = 100;
/** Largest accepted `limit` of GET /api/suppressions. */
export const MAX_SUPPRESSION_LIMIT = 1000;
/** Audit actor recorded when a request names none. */
export const DEFAULT_ACTOR = 'admin-api';

/** Page size of GET /api/audit when `limit` is absent. */
export const DEFAULT_AUDIT_LIMIT = 100;
/** Largest accepted `limit` of GET /api/audit. */
export const MAX_AUDIT_LIMIT = 1000;

const MAX_NOTE_LENGTH = 2000;
const ORIGINS = ['delivery', 'dsn', 'manual'] as const;
const STATUSES = ['active', 'pending'] as const;
/** Filter parameters of the listing and the export. */
const LIST_FILTERS = ['domain', 'reason', 'origin', 'status', 'olderThan', 'newerThan'] as const;
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
      .regex(NO_CONTROL_CHARACTERS, { error: 'reason must not contain control characters' })
      .refine((value) => canonicalReason(value) !== null, { error: `reason must be a bounce reason name: ${describeAllowedReasons()}` })
      .transform((value) => canonicalReason(value) ?? value),
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

const reviewBodySchema = z
  .object({
    note: z
      .string({ error: 'note must be a string' })
      .trim()
      .max(MAX_NOTE_LENGTH, { error: `note must be at most ${MAX_NOTE_LENGTH} characters` })
      .optional(),
    actor: actorSchema.optional(),
  })
  .strict();

/**
 * Builds the suppression list routes: listing, export and import, lookup with audit trail, manual
 * add and removal, review of pending entries, and the audit log of the whole list.
 */
export function suppressionRoutes(deps: AdminDeps): Route[] {
  const { suppressions } = deps;

  return [
    {
      pattern: '/api/suppressions',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, [...LIST_FILTERS, 'limit', 'after']);
          const page = await suppressions.list({
            ...listFilters(query),
            after: stringParameter(query, 'after'),
            limit: limitParameter(query, DEFAULT_SUPPRESSION_LIMIT, MAX_SUPPRESSION_LIMIT),
          });
          return { status: 200, body: { suppressions: page.suppressions, next: page.next } };
        },
      },
    },
    {
      pattern: '/api/suppressions/export',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, [...LIST_FILTERS, 'format']);
          const format = enumParameter(query, 'format', ['json', 'csv'] as const) ?? 'json';
          const filters = listFilters(query);
          const entries: SuppressionEntry[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await suppressions.list({ ...filters, after, limit: 10_000 });
            entries.push(...page.suppressions);
            if (page.next === null) {
              break;
            }
            after = page.next;
          }
          const stamp = new Date().toISOString().slice(0, 10);
          if (format === 'csv') {
            return {
              kind: 'text',
              status: 200,
              contentType: 'text/csv; charset=utf-8',
              body: formatCsv(entries),
              headers: { 'Content-Disposition': `attachment; filename="suppressions-${stamp}.csv"` },
            };
          }
          return {
            status: 200,
            body: { exportedAt: new Date().toISOString(), count: entries.length, suppressions: entries },
            headers: { 'Content-Disposition': `attachment; filename="suppressions-${stamp}.json"` },
          };
        },
      },
    },
    {
      pattern: '/api/suppressions/import',
      handlers: {
        POST: async ({ req, query }) => {
          checkParameterNames(query, ['format', 'actor']);
          const declared = enumParameter(query, 'format', ['json', 'csv'] as const) ?? formatFromContentType(req.headers['content-type']);
          const actor = actorFromQuery(query) ?? DEFAULT_ACTOR;
          const text = await readTextBody(req, MAX_IMPORT_BYTES);
          const format = declared === 'sniff' ? (/^\s*[[{]/.test(text) ? 'json' : 'csv') : declared;
          let rows;
          try {
            rows = format === 'csv' ? rowsFromCsv(parseCsv(text)) : rowsFromJson(parseJsonText(text) ?? null);
          } catch (error) {
            if (error instanceof ImportError) {
              throw new ApiError('invalid_parameter', error.message, { field: 'body', extra: { errors: error.errors } });
            }
            throw error;
          }
          const result = await suppressions.importEntries(rows, actor);
          deps.logger.info({ rows: rows.length, ...result, actor }, 'suppressions imported');
          return { status: 200, body: { imported: rows.length, ...result } };
        },
      },
    },
    {
      pattern: '/api/audit',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['since', 'before', 'limit']);
          const page = await suppressions.auditLog({
            since: timeParameter(query, 'since'),
            before: patternParameter(query, 'before', EVENT_ID, EVENT_CURSOR_FORM),
            limit: limitParameter(query, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT),
          });
          return { status: 200, body: page };
        },
      },
    },
    {
      pattern: '/api/suppressions/:address/confirm',
      handlers: {
        POST: async (context) => {
          checkParameterNames(context.query, []);
          const address = pathAddress(context);
          const body = parseBody(reviewBodySchema, await readJsonBody(context.req));
          const result = await suppressions.confirm(address, body.note || null, body.actor ?? DEFAULT_ACTOR);
          if (!result) {
            throw new ApiError('not_found', `${suppressions.key(address)} is not on the suppression list`);
          }
          if (!result.changed) {
            throw new ApiError('conflict', `${result.entry.address} is already active; only pending entries can be confirmed`);
          }
          return { status: 200, body: result.entry };
        },
      },
    },
    {
      pattern: '/api/suppressions/:address/discard',
      handlers: {
        POST: async (context) => {
          checkParameterNames(context.query, []);
          const address = pathAddress(context);
          const body = parseBody(reviewBodySchema, await readJsonBody(context.req));
          const note = removalNote(body.note, null);
          const result = await suppressions.discard(address, note, body.actor ?? DEFAULT_ACTOR);
          if (result === null) {
            throw new ApiError('not_found', `${suppressions.key(address)} is not on the suppression list`);
          }
          if (result === 'active') {
            throw new ApiError('conflict', `${suppressions.key(address)} is active, not pending; remove it with DELETE /api/suppressions/{address}`);
          }
          return { status: 200, body: result };
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

/** Reads the filters shared by the listing and the export. */
function listFilters(query: URLSearchParams): Omit<SuppressionQuery, 'limit'> {
  const olderThan = ageParameter(query, 'olderThan');
  const newerThan = ageParameter(query, 'newerThan');
  if (olderThan !== undefined && newerThan !== undefined && newerThan >= olderThan) {
    throw invalidParameter('newerThan', 'newerThan must be earlier than olderThan, or the listing is empty');
  }
  return {
    domain: patternParameter(query, 'domain', DOMAIN, 'a domain such as example.com'),
    reason: stringParameter(query, 'reason'),
    origin: enumParameter(query, 'origin', ORIGINS),
    status: enumParameter(query, 'status', STATUSES),
    olderThan,
    newerThan,
  };
}

// An age such as "90m", "24h" or "7d", counted back from now.
const AGE = /^(\d{1,6})([smhd])$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Reads an age bound: a span back from now ("7d", "24h") or a time (ms since the epoch or ISO-8601). */
function ageParameter(query: URLSearchParams, name: string): number | undefined {
  const match = AGE.exec(query.get(name)?.trim() ?? '');
  if (match) {
    return Date.now() - Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
  }
  return timeParameter(query, name);
}

/**
 * Picks the import format from the Content-Type: CSV for text/csv, JSON for application/json. A
 * body sent without a specific type (none, text/plain, or the form type that `curl -d` sets) is JSON
 * when it starts with "[" or "{", else CSV.
 */
function formatFromContentType(contentType: string | undefined): 'csv' | 'json' | 'sniff' {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/csv') {
    return 'csv';
  }
  if (type === 'application/json') {
    return 'json';
  }
  if (type === '' || type === 'text/plain' || type === 'application/x-www-form-urlencoded') {
    return 'sniff';
  }
  throw new ApiError('unsupported_media_type', `cannot import Content-Type "${type}": send text/csv or application/json, or set ?format=csv|json`);
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
