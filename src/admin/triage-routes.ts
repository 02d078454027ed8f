import type { EventQuery } from '../store/events.js';
import { ApiError, invalidParameter } from './errors.js';
import { buildEscalation } from './escalation.js';
import { checkParameterNames, enumParameter, patternParameter, stringParameter } from './params.js';
import { triage, type CrossDomainContext } from './triage.js';
import type { AdminDeps, Route } from './types.js';
import { windowParameters } from './window.js';

/** Events of the subject read for one triage; a busier subject is judged on its newest events. */
export const MAX_TRIAGE_EVENTS = 5000;
/** How far before the window the history of a subject is read, in ms (90 days). */
const HISTORY_MS = 90 * 86_400_000;
/** Events of the history read at most. */
const MAX_HISTORY_EVENTS = 2000;

const DOMAIN = /^[^\s@/]{1,255}$/;

/** Builds GET /api/triage (which pattern a domain's or MX host's failures fit) and GET /api/escalate. */
export function triageRoutes(deps: AdminDeps): Route[] {
  const now = deps.now ?? Date.now;
  return [
    {
      pattern: '/api/triage',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['domain', 'mx', 'since', 'until']);
          const domain = patternParameter(query, 'domain', DOMAIN, 'a domain such as example.com');
          const mx = stringParameter(query, 'mx');
          if ((domain === undefined) === (mx === undefined)) {
            throw invalidParameter('domain', 'give exactly one of domain and mx');
          }
          const { since, until } = windowParameters(query, now());
          const filter: Omit<EventQuery, 'limit'> = domain !== undefined ? { domain: domain.toLowerCase() } : { mx: mx?.toLowerCase() };

          const [window, earlier, crossDomain] = await Promise.all([
            deps.events.query({ ...filter, since, until, limit: MAX_TRIAGE_EVENTS }),
            deps.events.query({ ...filter, since: since - HISTORY_MS, until: since, limit: MAX_HISTORY_EVENTS }),
            crossDomainContext(deps, since, until),
          ]);
          const result = triage({
            subject: domain !== undefined ? { domain: domain.toLowerCase() } : { mx: mx?.toLowerCase() ?? '' },
            since,
            until,
            events: window.events,
            earlier: earlier.events,
            crossDomain,
          });
          return { status: 200, body: { ...result, truncated: window.next !== null } };
        },
      },
    },
    {
      pattern: '/api/escalate',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['domain', 'format', 'since', 'until']);
          const domain = patternParameter(query, 'domain', DOMAIN, 'a domain such as example.com');
          if (domain === undefined) {
            throw invalidParameter('domain', 'domain is required, e.g. ?domain=example.com');
          }
          const format = enumParameter(query, 'format', ['json', 'text'] as const) ?? 'json';
          const { since, until } = windowParameters(query, now());

          const page = await deps.events.query({ domain: domain.toLowerCase(), since, until, limit: MAX_TRIAGE_EVENTS });
          const packet = buildEscalation(domain.toLowerCase(), page.events);
          if (!packet) {
            throw new ApiError('not_found', `no failure recorded for ${domain} between ${new Date(since).toISOString()} and ${new Date(until).toISOString()}`);
          }
          if (format === 'text') {
            return { kind: 'text', status: 200, contentType: 'text/plain; charset=utf-8', body: packet.text };
          }
          return { status: 200, body: packet };
        },
      },
    },
  ];
}

/** Reads failure rates over all domains from the rollups, for the window and the window before it. */
async function crossDomainContext(deps: AdminDeps, since: number, until: number): Promise<CrossDomainContext> {
  const span = until - since;
  const [current, previous] = await Promise.all([
    deps.events.segments({ dimension: 'domain', since, until }),
    deps.events.segments({ dimension: 'domain', since: since - span, until: since }),
  ]);
  return {
    failingDomains: current.filter((row) => row.bounced + row.expired + row.deferred > 0).length,
    failureRate: failureRate(current),
    previousFailureRate: failureRate(previous),
    events: eventCount(current),
    previousEvents: eventCount(previous),
  };
}

function eventCount(rows: Array<{ delivered: number; deferred: number; bounced: number; expired: number }>): number {
  return rows.reduce((sum, row) => sum + row.delivered + row.deferred + row.bounced + row.expired, 0);
}

function failureRate(rows: Array<{ delivered: number; deferred: number; bounced: number; expired: number }>): number {
  let failed = 0;
  let all = 0;
  for (const row of rows) {
    failed += row.bounced + row.expired + row.deferred;
    all += row.bounced + row.expired + row.deferred + row.delivered;
  }
  return all === 0 ? 0 : failed / all;
}
