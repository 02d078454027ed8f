import type { Action } from '../core/types.js';
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

const EVENT_PARAMETERS = [
  'recipient',
  'domain',
  'queueId',
  'action',
  'mx',
  'code',
  'enhancedCode',
  'reason',
  'campaign',
  'since',
  'until',
  'before',
  'limit',
] as const;

// An event id: 13 digits of ms since the epoch, a 6-digit sequence and a 4-hex-digit process tag (see newEventId).
const EVENT_ID = /^\d{19}[0-9a-f]{4}$/;
// RFC 3463 §2: class.subject.detail.
const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}$/;
const DOMAIN = /^[^\s@/]{1,255}$/;
const QUEUE_ID = /^[A-Za-z0-9]{1,64}$/;

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
export function parseEventQuery(query: URLSearchParams): EventQuery {
  checkParameterNames(query, EVENT_PARAMETERS);

  const recipient = stringParameter(query, 'recipient');
  const result: EventQuery = {
    recipient: recipient === undefined ? undefined : validateAddress('recipient', recipient),
    domain: patternParameter(query, 'domain', DOMAIN, 'a domain such as example.com'),
    queueId: patternParameter(query, 'queueId', QUEUE_ID, 'letters and digits only'),
    action: enumParameter(query, 'action', ACTIONS),
    mx: stringParameter(query, 'mx'),
    code: integerParameter(query, 'code', 200, 599),
    enhancedCode: patternParameter(query, 'enhancedCode', ENHANCED_CODE, 'an RFC 3463 code such as 5.1.1'),
    reason: stringParameter(query, 'reason'),
    campaign: stringParameter(query, 'campaign'),
    since: timeParameter(query, 'since'),
    until: timeParameter(query, 'until'),
    before: patternParameter(query, 'before', EVENT_ID, 'the "next" cursor of a previous page (19 digits)'),
    limit: limitParameter(query, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT),
  };

  if (result.since !== undefined && result.until !== undefined && result.since > result.until) {
    throw invalidParameter('since', 'since is later than until; since is inclusive and until exclusive');
  }
  return result;
}
