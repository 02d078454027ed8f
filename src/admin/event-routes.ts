import type { Action, Stage } from '../core/types.js';
import type { EventQuery } from '../store/events.js';
import { invalidParameter } from './errors.js';
import {
  checkParameterNames,
  enumParameter,
  integerParameter,
  limitParameter,
  patternParameter,
  stringParameter,
  timeParameter,
  validateAddress,
} from './params.js';
import type { AdminDeps, Route } from './types.js';

/** Page size of GET /api/events when `limit` is absent. */
export const DEFAULT_EVENT_LIMIT = 100;
/** Largest accepted `limit` of GET /api/events. */
export const MAX_EVENT_LIMIT = 1000;

/** Dispositions an event can record, in the order the API documents them. */
export const ACTIONS: readonly Action[] = ['delivered', 'deferred', 'bounced', 'expired', 'suppressed'];

/** Stages an event can record. */
export const STAGES: readonly Stage[] = ['connect', 'greeting', 'ehlo', 'starttls', 'auth', 'mail', 'rcpt', 'data', 'eod', 'dns', 'queue', 'submit', 'dsn'];

/** Filter parameters shared by GET /api/events and GET /api/events/stream. */
export const EVENT_FILTER_PARAMETERS = [
  'recipient',
  'domain',
  'queueId',
  'action',
  'mx',
  'remoteIp',
  'source',
  'stage',
  'code',
  'enhancedCode',
  'reason',
  'campaign',
  'since',
  'until',
] as const;

const EVENT_PARAMETERS = [...EVENT_FILTER_PARAMETERS, 'before', 'limit'] as const;

// An event id: 13 digits of ms since the epoch, a 6-digit sequence and a 4-hex-digit process tag (see newEventId).
export const EVENT_ID = /^\d{19}[0-9a-f]{4}$/;
/** Description of the `before` cursor form, for error messages. */
export const EVENT_CURSOR_FORM = 'the "next" cursor of a previous page (19 digits and 4 hex digits)';
// RFC 3463 §2: class.subject.detail.
const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}$/;
const DOMAIN = /^[^\s@/]{1,255}$/;
const QUEUE_ID = /^[A-Za-z0-9]{1,64}$/;
// An IPv4 or IPv6 address as recorded on events; the store compares it exactly.
const IP_ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

/** Builds GET /api/events: recorded delivery events, newest first, with a cursor for the next page. */
export function eventRoutes(deps: AdminDeps): Route[] {
  return [
    {
      pattern: '/api/events',
      handlers: {
        GET: async ({ query }) => {
          const page = await deps.events.query(parseEventQuery(query));
          return { status: 200, body: { events: page.events, next: page.next } };
        },
      },
    },
  ];
}

/** Validates the query string of GET /api/events; each error names the parameter. */
export function parseEventQuery(query: URLSearchParams, allowed: readonly string[] = EVENT_PARAMETERS): EventQuery {
  checkParameterNames(query, allowed);

  const recipient = stringParameter(query, 'recipient');
  const result: EventQuery = {
    recipient: recipient === undefined ? undefined : validateAddress('recipient', recipient),
    domain: patternParameter(query, 'domain', DOMAIN, 'a domain such as example.com'),
    queueId: patternParameter(query, 'queueId', QUEUE_ID, 'letters and digits only'),
    action: enumParameter(query, 'action', ACTIONS),
    mx: stringParameter(query, 'mx'),
    remoteIp: patternParameter(query, 'remoteIp', IP_ADDRESS, 'an IPv4 or IPv6 address such as 192.0.2.1'),
    source: stringParameter(query, 'source'),
    stage: enumParameter(query, 'stage', STAGES),
    code: integerParameter(query, 'code', 200, 599),
    enhancedCode: patternParameter(query, 'enhancedCode', ENHANCED_CODE, 'an RFC 3463 code such as 5.1.1'),
    reason: stringParameter(query, 'reason'),
    campaign: stringParameter(query, 'campaign'),
    since: timeParameter(query, 'since'),
    until: timeParameter(query, 'until'),
    before: patternParameter(query, 'before', EVENT_ID, EVENT_CURSOR_FORM),
    limit: limitParameter(query, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT),
  };

  if (result.since !== undefined && result.until !== undefined && result.since > result.until) {
    throw invalidParameter('since', 'since is later than until; since is inclusive and until exclusive');
  }
  return result;
}
