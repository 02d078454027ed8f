import { ROLLUP_DIMENSIONS } from '../store/rollups.js';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/types.js';
import { API_ERRORS } from './errors.js';
import { ACTIONS, STAGES } from './event-routes.js';
import { VERDICTS } from './triage.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Schema): Schema => ({ anyOf: [schema, { type: 'null' }] });
const string: Schema = { type: 'string' };
const integer: Schema = { type: 'integer' };
const boolean: Schema = { type: 'boolean' };
const time: Schema = { type: 'string', format: 'date-time' };
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
const object = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: 'object',
  properties,
  required,
});

function query(name: string, description: string, schema: Schema = string, required = false): Schema {
  return { name, in: 'query', required, description, schema };
}

function path(name: string, description: string): Schema {
  return { name, in: 'path', required: true, description, schema: string };
}

const TIME_PARAMETER: Schema = { type: 'string', description: 'ms since the epoch or ISO-8601 (a date-time without offset is UTC)' };
const sinceParameter = (description = 'start of the window, inclusive (default: until minus 7 days)') => query('since', description, TIME_PARAMETER);
const untilParameter = (description = 'end of the window, exclusive (default: now)') => query('until', description, TIME_PARAMETER);
const limitParameter = (max: number, fallback: number) => query('limit', `page size, 1 to ${max}, default ${fallback}`, { type: 'integer', minimum: 1, maximum: max });

const EVENT_FILTERS: Schema[] = [
  query('recipient', 'recipient address, compared after normalisation'),
  query('domain', 'recipient domain'),
  query('queueId', 'queue id of the message'),
  query('action', 'disposition of the event', { type: 'string', enum: ACTIONS }),
  query('mx', 'MX host name, case-insensitive'),
  query('remoteIp', 'IP address of the remote MTA'),
  query('source', 'submission source: client IP or AUTH user'),
  query('stage', 'SMTP step or origin of the event', { type: 'string', enum: STAGES }),
  query('code', 'basic reply code, 200 to 599', { type: 'integer', minimum: 200, maximum: 599 }),
  query('enhancedCode', 'enhanced status code such as 5.1.1'),
  query('reason', 'bounce class such as userunknown'),
  query('campaign', 'campaign from the campaign header'),
];

const SUPPRESSION_FILTERS: Schema[] = [
  query('domain', 'only addresses at this domain'),
  query('reason', 'only entries with this reason'),
  query('origin', 'how the entry came onto the list', { type: 'string', enum: ['delivery', 'dsn', 'manual'] }),
  query('status', 'active entries block mail; pending ones await review', { type: 'string', enum: ['active', 'pending'] }),
  query('olderThan', 'only entries created before this time, or longer ago than a span such as 7d or 24h', string),
  query('newerThan', 'only entries created at or after this time, or within a span such as 7d or 24h', string),
];

const NOTE_BODY = object({ note: string, actor: string }, ['note']);
const REVIEW_BODY = object({ note: string, actor: string }, []);

function json(description: string, schema: Schema): Schema {
  return { description, content: { 'application/json': { schema } } };
}

function errors(...codes: Array<keyof typeof API_ERRORS>): Record<string, Schema> {
  const responses: Record<string, Schema> = {};
  for (const code of ['unauthorized', ...codes] as Array<keyof typeof API_ERRORS>) {
    const { status, description } = API_ERRORS[code];
    const key = String(status);
    const existing = responses[key] as { description: string } | undefined;
    responses[key] = json(existing ? `${existing.description} ${description}` : description, ref('Error'));
  }
  return responses;
}

function body(schema: Schema, required = true, type = 'application/json'): Schema {
  return { required, content: { [type]: { schema } } };
}

const SCHEMAS: Record<string, Schema> = {
  Error: object({ error: object({ code: { type: 'string', enum: Object.keys(API_ERRORS) }, message: string, field: string }, ['code', 'message']) }),
  TlsInfo: object({ version: string, cipher: string, verified: boolean, error: nullable(string) }),
  DeliveryEvent: object({
    id: { type: 'string', description: 'time-ordered id: 13 digits of ms since the epoch, a 6-digit counter and a 4-hex-digit process tag' },
    time,
    queueId: string,
    messageId: nullable(string),
    sender: string,
    recipient: string,
    stage: { type: 'string', enum: STAGES },
    mx: nullable(string),
    remoteIp: nullable(string),
    remotePort: nullable(integer),
    localIp: nullable(string),
    tls: nullable(ref('TlsInfo')),
    code: nullable(integer),
    enhancedCode: string,
    text: { type: 'string', description: 'full reply text, every line, joined with "\\n"' },
    attempt: integer,
    permanent: boolean,
    reason: string,
    action: { type: 'string', enum: ACTIONS },
    source: nullable(object({ ip: string, user: nullable(string) })),
    campaign: nullable(string),
    side: nullable({ type: 'string', enum: ['recipient', 'sender', 'message', 'network'] }),
    rule: nullable(string),
    suppressed: boolean,
  }),
  EventPage: object({ events: arrayOf(ref('DeliveryEvent')), next: nullable(string) }),
  FailureRecord: object({
    time,
    code: nullable(integer),
    enhancedCode: string,
    text: string,
    mx: nullable(string),
    remoteIp: nullable(string),
    queueId: nullable(string),
  }),
  SuppressionEntry: object(
    {
      address: string,
      domain: string,
      reason: string,
      origin: { type: 'string', enum: ['delivery', 'dsn', 'manual'] },
      status: { type: 'string', enum: ['active', 'pending'] },
      first: ref('FailureRecord'),
      last: ref('FailureRecord'),
      count: integer,
      createdAt: time,
      updatedAt: time,
      note: nullable(string),
      expiresAt: { ...nullable(time), description: 'when the entry stops blocking mail, from the reason; null never' },
    },
    ['address', 'domain', 'reason', 'origin', 'status', 'first', 'last', 'count', 'createdAt', 'updatedAt', 'note'],
  ),
  AuditEntry: object({
    id: string,
    time,
    address: string,
    change: { type: 'string', enum: ['add', 'update', 'remove', 'expire', 'confirm', 'discard'] },
    origin: { type: 'string', enum: ['delivery', 'dsn', 'manual'] },
    actor: string,
    note: nullable(string),
    reason: nullable(string),
  }),
  ImportEntry: object(
    {
      address: string,
      reason: string,
      status: { type: 'string', enum: ['active', 'pending'] },
      origin: { type: 'string', enum: ['delivery', 'dsn', 'manual'] },
      note: nullable(string),
      createdAt: time,
      count: integer,
      last: ref('FailureRecord'),
    },
    ['address', 'reason'],
  ),
  ReplySummary: object({ code: nullable(integer), enhancedCode: string, text: string }),
  QueueItem: object({
    queueId: string,
    recipient: string,
    status: { type: 'string', enum: ['queued', 'deferred', 'delivered', 'bounced', 'expired', 'suppressed'] },
    attempts: integer,
    nextAttemptAt: nullable(time),
    lastReply: nullable(ref('ReplySummary')),
    lastMx: nullable(string),
    sender: nullable(string),
    receivedAt: nullable(time),
    held: boolean,
  }),
  QueueGroup: object({
    domain: string,
    lastMx: nullable(string),
    recipients: integer,
    messages: integer,
    held: integer,
    oldestReceivedAt: nullable(time),
    nextAttemptAt: nullable(time),
    topReply: nullable(object({ text: string, sample: string, code: nullable(integer), enhancedCode: string, count: integer })),
  }),
  QueueActionResult: object({ queueId: string, held: boolean, recipients: arrayOf(string) }),
  MessageRecord: object({
    queueId: string,
    sender: string,
    recipients: arrayOf(string),
    messageId: nullable(string),
    campaign: nullable(string),
    source: object({ ip: string, user: nullable(string) }),
    size: integer,
    receivedAt: time,
    isBounce: boolean,
    smtputf8: boolean,
    held: boolean,
  }),
  RecipientState: object({
    index: integer,
    recipient: string,
    status: string,
    attempts: integer,
    nextAttemptAt: nullable(time),
    lastReply: nullable(ref('ReplySummary')),
    lastMx: nullable(string),
    updatedAt: time,
  }),
  Segment: object({
    value: string,
    delivered: integer,
    deferred: integer,
    bounced: integer,
    expired: integer,
    suppressed: integer,
    total: integer,
    failed: { type: 'integer', description: 'bounced + deferred + expired' },
  }),
  TriageResult: object({
    subject: { oneOf: [object({ domain: string }), object({ mx: string })] },
    since: time,
    until: time,
    verdict: { type: 'string', enum: VERDICTS },
    summary: string,
    action: string,
    evidence: object({
      eventIds: arrayOf(string),
      recipients: arrayOf(string),
      mx: arrayOf(string),
      text: nullable(string),
      sampleText: nullable(string),
      counts: { type: 'object', additionalProperties: integer },
    }),
    totals: object({ events: integer, delivered: integer, deferred: integer, bounced: integer, expired: integer, suppressed: integer, recipients: integer }),
    truncated: boolean,
  }),
  EscalationPacket: object({
    domain: string,
    bounceText: string,
    code: nullable(integer),
    enhancedCode: string,
    time,
    senderDomain: string,
    envelopeSender: string,
    sendingIp: nullable(string),
    remoteMx: nullable(string),
    remoteIp: nullable(string),
    sampleRecipients: arrayOf(string),
    eventId: string,
    relatedEventIds: arrayOf(string),
    queueId: string,
    text: string,
  }),
  Webhook: object({
    id: string,
    url: string,
    events: arrayOf({ type: 'string', enum: WEBHOOK_EVENT_TYPES }),
    allowLinkLocal: boolean,
    createdAt: time,
  }),
};

const PAGE_ASSET = (description: string, type: string): Schema => ({
  get: { summary: description, security: [], responses: { 200: { description, content: { [type]: { schema: string } } } } },
});

const PATHS: Record<string, Schema> = {
  '/healthz': {
    get: { summary: 'Liveness check', security: [], responses: { 200: json('The relay is running.', object({ status: { type: 'string', enum: ['ok'] } })) } },
  },
  '/': PAGE_ASSET('The operator web page', 'text/html'),
  '/index.html': PAGE_ASSET('The operator web page', 'text/html'),
  '/assets/app.js': PAGE_ASSET('Script of the web page', 'text/javascript'),
  '/assets/app.css': PAGE_ASSET('Style sheet of the web page', 'text/css'),
  '/metrics': {
    get: {
      summary: 'Prometheus metrics (text exposition format 0.0.4)',
      responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: string } } }, ...errors('metrics_unavailable') },
    },
  },
  '/api/openapi.json': { get: { summary: 'This document', responses: { 200: json('OpenAPI 3.1 document', { type: 'object' }), ...errors() } } },
  '/api/events': {
    get: {
      summary: 'Delivery events, newest first, with cursor pagination',
      parameters: [
        ...EVENT_FILTERS,
        sinceParameter('events at or after this time'),
        untilParameter('events before this time'),
        query('before', 'the next cursor of the previous page'),
        limitParameter(1000, 100),
      ],
      responses: { 200: json('A page of events', ref('EventPage')), ...errors('invalid_parameter') },
    },
  },
  '/api/events/stream': {
    get: {
      summary: 'New events as Server-Sent Events (event "delivery", id = event id); a comment every 15 s keeps the connection open',
      parameters: EVENT_FILTERS,
      responses: { 200: { description: 'An endless event stream', content: { 'text/event-stream': { schema: string } } }, ...errors('invalid_parameter') },
    },
  },
  '/api/history/recipient/{address}': {
    get: {
      summary: "A recipient's history: every event, its suppression entry and the audit trail",
      parameters: [path('address', 'percent-encoded address'), query('before', 'the next cursor of the previous page'), limitParameter(1000, 200)],
      responses: {
        200: json(
          'The history, newest event first',
          object({
            recipient: string,
            suppression: nullable(ref('SuppressionEntry')),
            audit: arrayOf(ref('AuditEntry')),
            summary: object({ counts: { type: 'object', additionalProperties: integer }, first: nullable(time), last: nullable(time) }),
            events: arrayOf(ref('DeliveryEvent')),
            next: nullable(string),
          }),
        ),
        ...errors('invalid_parameter'),
      },
    },
  },
  '/api/history/message/{queueId}': {
    get: {
      summary: 'A message: its record, the state of each recipient and every event',
      parameters: [path('queueId', 'queue id')],
      responses: {
        200: json(
          'The message history',
          object({
            queueId: string,
            message: nullable(ref('MessageRecord')),
            recipients: arrayOf(ref('RecipientState')),
            events: arrayOf(ref('DeliveryEvent')),
            truncated: boolean,
          }),
        ),
        ...errors('invalid_parameter', 'not_found'),
      },
    },
  },
  '/api/segments': {
    get: {
      summary: 'Event counts by action, grouped by a key, most failures first (read from hourly rollups)',
      parameters: [
        query('by', 'grouping key; text is the normalised reply text', { type: 'string', enum: ROLLUP_DIMENSIONS, default: 'domain' }),
        sinceParameter('start of the window, rounded down to the hour (default: until minus 7 days)'),
        untilParameter('end of the window, rounded up to the hour (default: now)'),
        limitParameter(1000, 50),
      ],
      responses: {
        200: json('Segments', object({ by: string, since: time, until: time, segments: arrayOf(ref('Segment')), total: integer })),
        ...errors('invalid_parameter'),
      },
    },
  },
  '/api/timeline': {
    get: {
      summary: 'Hourly counts of one action by a key: the top values get their own series, the rest add up to "(other)"',
      parameters: [
        query('by', 'grouping key', { type: 'string', enum: ROLLUP_DIMENSIONS, default: 'reason' }),
        query('action', 'the action counted', { type: 'string', enum: ACTIONS, default: 'bounced' }),
        query('top', 'values with their own series, 1 to 50, default 8', integer),
        sinceParameter('start of the window (default: until minus 2 days)'),
        untilParameter(),
      ],
      responses: {
        200: json(
          'Hourly buckets, oldest first',
          object({
            by: string,
            action: string,
            since: time,
            until: time,
            series: arrayOf(string),
            buckets: arrayOf(object({ hour: time, counts: { type: 'object', additionalProperties: integer } })),
          }),
        ),
        ...errors('invalid_parameter'),
      },
    },
  },
  '/api/triage': {
    get: {
      summary: "Which pattern a domain's or MX host's recent events fit, with the evidence and a recommended action",
      parameters: [query('domain', 'recipient domain (give domain or mx)'), query('mx', 'MX host (give domain or mx)'), sinceParameter(), untilParameter()],
      responses: { 200: json('The verdict', ref('TriageResult')), ...errors('invalid_parameter') },
    },
  },
  '/api/escalate': {
    get: {
      summary: "The newest rejection at a domain, packaged for the recipient's mail admin",
      parameters: [
        query('domain', 'recipient domain', string, true),
        query('format', 'json (default) or text, a message ready to paste', { type: 'string', enum: ['json', 'text'] }),
        sinceParameter(),
        untilParameter(),
      ],
      responses: {
        200: {
          description: 'The escalation packet',
          content: { 'application/json': { schema: ref('EscalationPacket') }, 'text/plain': { schema: string } },
        },
        ...errors('invalid_parameter', 'not_found'),
      },
    },
  },
  '/api/suppressions': {
    get: {
      summary: 'Suppressed addresses in address order',
      parameters: [...SUPPRESSION_FILTERS, limitParameter(1000, 100), query('after', 'the next value of the previous page')],
      responses: {
        200: json('A page of entries', object({ suppressions: arrayOf(ref('SuppressionEntry')), next: nullable(string) })),
        ...errors('invalid_parameter'),
      },
    },
  },
  '/api/suppressions/export': {
    get: {
      summary: 'Every entry that matches the filters, as JSON or CSV',
      parameters: [...SUPPRESSION_FILTERS, query('format', 'json (default) or csv', { type: 'string', enum: ['json', 'csv'] })],
      responses: {
        200: {
          description: 'The export',
          content: {
            'application/json': { schema: object({ exportedAt: time, count: integer, suppressions: arrayOf(ref('SuppressionEntry')) }) },
            'text/csv': { schema: string },
          },
        },
        ...errors('invalid_parameter'),
      },
    },
  },
  '/api/suppressions/import': {
    post: {
      summary: 'Adds or replaces entries from CSV (text/csv, columns as in the export) or JSON (an array, or an export); at most 10 MiB',
      parameters: [
        query('format', 'overrides the Content-Type', { type: 'string', enum: ['json', 'csv'] }),
        query('actor', 'recorded in the audit trail (default admin-api)'),
      ],
      requestBody: {
        required: true,
        content: {
          'text/csv': { schema: string },
          'application/json': { schema: { oneOf: [arrayOf(ref('ImportEntry')), object({ suppressions: arrayOf(ref('ImportEntry')) })] } },
        },
      },
      responses: {
        200: json('Counts of the import', object({ imported: integer, added: integer, replaced: integer })),
        ...errors('invalid_parameter', 'invalid_json', 'payload_too_large', 'unsupported_media_type'),
      },
    },
  },
  '/api/audit': {
    get: {
      summary: 'Changes to the whole suppression list, newest first',
      parameters: [sinceParameter('changes at or after this time'), query('before', 'the next cursor of the previous page'), limitParameter(1000, 100)],
      responses: { 200: json('A page of audit entries', object({ audit: arrayOf(ref('AuditEntry')), next: nullable(string) })), ...errors('invalid_parameter') },
    },
  },
  '/api/suppressions/{address}/confirm': {
    post: {
      summary: 'Confirms a pending entry, so it blocks mail',
      parameters: [path('address', 'percent-encoded address')],
      requestBody: body(REVIEW_BODY, false),
      responses: { 200: json('The confirmed entry', ref('SuppressionEntry')), ...errors('invalid_parameter', 'not_found', 'conflict') },
    },
  },
  '/api/suppressions/{address}/discard': {
    post: {
      summary: 'Discards a pending entry with a required note',
      parameters: [path('address', 'percent-encoded address')],
      requestBody: body(NOTE_BODY),
      responses: { 200: json('The discarded entry', ref('SuppressionEntry')), ...errors('invalid_parameter', 'not_found', 'conflict') },
    },
  },
  '/api/suppressions/{address}': {
    get: {
      summary: 'One entry with its audit trail',
      parameters: [path('address', 'percent-encoded address')],
      responses: { 200: json('The entry', { allOf: [ref('SuppressionEntry'), object({ audit: arrayOf(ref('AuditEntry')) })] }), ...errors('invalid_parameter', 'not_found') },
    },
    put: {
      summary: 'Adds or replaces an entry by hand',
      parameters: [path('address', 'percent-encoded address')],
      requestBody: body(object({ reason: string, note: nullable(string), actor: string }, ['reason'])),
      responses: {
        200: json('The entry replaced an earlier one', ref('SuppressionEntry')),
        201: json('The entry was added', ref('SuppressionEntry')),
        ...errors('invalid_parameter', 'invalid_json', 'payload_too_large'),
      },
    },
    delete: {
      summary: 'Removes an entry; the note (body or ?note=) is required',
      parameters: [path('address', 'percent-encoded address'), query('note', 'the removal note, when not in the body'), query('actor', 'recorded in the audit trail')],
      requestBody: body(NOTE_BODY, false),
      responses: { 200: json('The removed entry', ref('SuppressionEntry')), ...errors('invalid_parameter', 'not_found') },
    },
  },
  '/api/queue': {
    get: {
      summary: 'Recipients waiting for delivery, soonest attempt first, held ones last',
      parameters: [limitParameter(10_000, 1000)],
      responses: { 200: json('The queue', object({ queue: arrayOf(ref('QueueItem')), total: integer })), ...errors('invalid_parameter') },
    },
  },
  '/api/queue/summary': {
    get: {
      summary: 'Waiting recipients grouped by domain and last MX: counts, oldest, next attempt, most common last reply',
      responses: {
        200: json('Groups, busiest first', object({ groups: arrayOf(ref('QueueGroup')), recipients: integer, truncated: boolean })),
        ...errors(),
      },
    },
  },
  '/api/queue/{queueId}/retry': {
    post: {
      summary: 'Schedules every unfinished recipient of a message for an immediate attempt',
      parameters: [path('queueId', 'queue id')],
      responses: {
        202: json('Scheduled', object({ queueId: string, scheduled: boolean })),
        ...errors('invalid_parameter', 'not_found', 'conflict', 'queue_control_unavailable'),
      },
    },
  },
  '/api/queue/{queueId}/hold': {
    post: {
      summary: 'Holds a message: it is not tried until released',
      parameters: [path('queueId', 'queue id')],
      responses: { 200: json('Held', ref('QueueActionResult')), ...errors('invalid_parameter', 'not_found', 'queue_control_unavailable') },
    },
  },
  '/api/queue/{queueId}/release': {
    post: {
      summary: 'Releases a held message; its unfinished recipients are due at once',
      parameters: [path('queueId', 'queue id')],
      responses: { 200: json('Released', ref('QueueActionResult')), ...errors('invalid_parameter', 'not_found', 'queue_control_unavailable') },
    },
  },
  '/api/queue/{queueId}': {
    delete: {
      summary:
        'Deletes a message with a required note: unfinished recipients become expired with reason "deleted-by-operator", no bounce is sent',
      parameters: [path('queueId', 'queue id'), query('note', 'the note, when not in the body'), query('actor', 'recorded on the events')],
      requestBody: body(NOTE_BODY, false),
      responses: {
        200: json('Deleted', { allOf: [ref('QueueActionResult'), object({ deleted: boolean })] }),
        ...errors('invalid_parameter', 'not_found', 'queue_control_unavailable'),
      },
    },
  },
  '/api/webhooks': {
    get: {
      summary: 'Registered webhooks (without secrets)',
      responses: { 200: json('Webhooks', object({ webhooks: arrayOf(ref('Webhook')) })), ...errors('webhooks_unavailable') },
    },
    post: {
      summary: 'Registers a webhook; the secret (generated when absent) is returned only here',
      requestBody: body(
        object(
          { url: string, events: arrayOf({ type: 'string', enum: WEBHOOK_EVENT_TYPES }), secret: { type: 'string', minLength: 16 }, allowLinkLocal: boolean },
          ['url', 'events'],
        ),
      ),
      responses: {
        201: json('The webhook and its secret', { allOf: [ref('Webhook'), object({ secret: string })] }),
        ...errors('invalid_parameter', 'invalid_json', 'webhooks_unavailable'),
      },
    },
  },
  '/api/dsn': {
    post: {
      summary: 'Records an asynchronous bounce sent as the raw message body, as the bounce listener does',
      parameters: [query('recipient', 'envelope recipient the bounce was sent to, e.g. a VERP address')],
      requestBody: { required: true, content: { 'message/rfc822': { schema: string }, 'text/plain': { schema: string } } },
      responses: {
        200: json(
          'What was recorded',
          object({
            kind: { type: 'string', enum: ['bounce', 'delay', 'autoreply', 'feedback', 'not-bounce'] },
            correlation: { type: 'string', enum: ['verp', 'queue-id', 'message-id', 'none'] },
            queueId: nullable(string),
            events: arrayOf(ref('DeliveryEvent')),
            suppressed: arrayOf(string),
          }),
        ),
        ...errors('invalid_parameter', 'payload_too_large', 'bounces_unavailable'),
      },
    },
  },
  '/api/classify': {
    get: {
      summary: 'Classifies one reply with the rules in use and explains which rule matched and why',
      parameters: [
        query('reply', 'the SMTP reply; a literal \\n separates the lines of a multi-line reply', string, true),
        query('mx', 'the MX host that sent it, for provider rules'),
        query('stage', 'the SMTP step that drew the reply (default rcpt)', { type: 'string', enum: STAGES }),
      ],
      responses: {
        200: json(
          'The classification',
          object({
            reply: string,
            mx: nullable(string),
            stage: string,
            code: nullable(integer),
            enhancedCode: string,
            reason: string,
            side: string,
            permanent: boolean,
            suppress: boolean,
            rule: string,
            ruleSource: string,
            why: string,
          }),
        ),
        ...errors('invalid_parameter', 'classification_unavailable'),
      },
    },
  },
  '/api/rules/reload': {
    post: {
      summary: 'Reads every rule file again; an invalid file keeps the rules in use',
      responses: { 200: json('The files now in use', object({ files: arrayOf(string) })), ...errors('invalid_parameter', 'classification_unavailable') },
    },
  },
  '/api/classify/replay': {
    post: {
      summary: 'Classifies stored failure events again, with the rules in use or with candidate rules first, and reports what would change',
      parameters: [
        sinceParameter('oldest event to read (default: no limit)'),
        untilParameter('newest event to read, exclusive (default: now)'),
        query('domain', 'only events of recipients at this domain'),
        query('limit', 'events read at most, 1 to 200000, default 50000', { type: 'integer', minimum: 1, maximum: 200_000 }),
      ],
      requestBody: body(object({ rules: string }, []), false),
      responses: {
        200: json(
          'What would change; nothing is written',
          object({
            candidate: boolean,
            scanned: integer,
            classified: integer,
            changed: integer,
            summary: arrayOf(object({ from: string, to: string, events: integer, suppressionChanges: integer })),
            changes: arrayOf(object({})),
          }),
        ),
        ...errors('invalid_parameter', 'invalid_json', 'payload_too_large', 'classification_unavailable'),
      },
    },
  },
  '/api/alerts': {
    get: {
      summary: 'Alerts of the mass-suppression guard since start, newest first',
      responses: {
        200: json(
          'Alerts',
          object({
            alerts: arrayOf(
              object({ time, mx: string, domain: string, rejection: string, sample: string, recipients: arrayOf(string), pausedUntil: time }),
            ),
          }),
        ),
        ...errors(),
      },
    },
  },
  '/api/webhooks/{id}': {
    delete: {
      summary: 'Removes a webhook and its pending deliveries',
      parameters: [path('id', 'webhook id')],
      responses: { 200: json('Removed', object({ id: string, removed: boolean })), ...errors('invalid_parameter', 'not_found', 'webhooks_unavailable') },
    },
  },
};

/** Returns the OpenAPI 3.1 description of every route of the admin API. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'bouncegate admin API',
      version: '1',
      description: 'Delivery events, triage, suppressions, queue control, webhooks and metrics of a bouncegate relay.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: PATHS,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin.token, or the token in <dataDir>/admin-token' } },
      schemas: SCHEMAS,
    },
  };
}
