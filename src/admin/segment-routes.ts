import type { Action } from '../core/types.js';
import { ROLLUP_DIMENSIONS, type SegmentRow } from '../store/events.js';
import { ACTIONS } from './event-routes.js';
import { checkParameterNames, enumParameter, integerParameter, limitParameter } from './params.js';
import type { AdminDeps, Route } from './types.js';
import { windowParameters } from './window.js';

/** Segments returned when `limit` is absent. */
export const DEFAULT_SEGMENT_LIMIT = 50;
/** Largest accepted `limit` of GET /api/segments. */
export const MAX_SEGMENT_LIMIT = 1000;
/** Values of a timeline that get their own series when `top` is absent; the rest add up to "(other)". */
const DEFAULT_TIMELINE_TOP = 8;
const MAX_TIMELINE_TOP = 50;

/** One segment in GET /api/segments: the counts by action, their sum and the failures among them. */
export type Segment = SegmentRow & { total: number; failed: number };

/**
 * Builds GET /api/segments (event counts grouped by domain, MX, normalised reply text, reason,
 * campaign or source) and GET /api/timeline (hourly counts of one action by the same keys). Both read
 * the hourly rollups, not the events.
 */
export function segmentRoutes(deps: AdminDeps): Route[] {
  const now = deps.now ?? Date.now;
  return [
    {
      pattern: '/api/segments',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['by', 'since', 'until', 'limit']);
          const by = enumParameter(query, 'by', ROLLUP_DIMENSIONS) ?? 'domain';
          const { since, until } = windowParameters(query, now());
          const limit = limitParameter(query, DEFAULT_SEGMENT_LIMIT, MAX_SEGMENT_LIMIT);

          const rows = await deps.events.segments({ dimension: by, since, until });
          const segments = rows.map(toSegment).sort(byFailuresThenTotal);
          return {
            status: 200,
            body: {
              by,
              since: new Date(since).toISOString(),
              until: new Date(until).toISOString(),
              segments: segments.slice(0, limit),
              total: segments.length,
            },
          };
        },
      },
    },
    {
      pattern: '/api/timeline',
      handlers: {
        GET: async ({ query }) => {
          checkParameterNames(query, ['by', 'action', 'since', 'until', 'top']);
          const by = enumParameter(query, 'by', ROLLUP_DIMENSIONS) ?? 'reason';
          const action: Action = enumParameter(query, 'action', ACTIONS) ?? 'bounced';
          const top = integerParameter(query, 'top', 1, MAX_TIMELINE_TOP) ?? DEFAULT_TIMELINE_TOP;
          const { since, until } = windowParameters(query, now(), 2 * 86_400_000);

          const buckets = await deps.events.timeline({ dimension: by, since, until });
          const sums = new Map<string, number>();
          for (const bucket of buckets) {
            for (const [value, counts] of Object.entries(bucket.values)) {
              sums.set(value, (sums.get(value) ?? 0) + counts[action]);
            }
          }
          const series = [...sums].filter(([, sum]) => sum > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top).map(([value]) => value);
          const named = new Set(series);
          const hasOther = [...sums].some(([value, sum]) => sum > 0 && !named.has(value));
          return {
            status: 200,
            body: {
              by,
              action,
              since: new Date(since).toISOString(),
              until: new Date(until).toISOString(),
              series: hasOther ? [...series, '(other)'] : series,
              buckets: buckets.map((bucket) => {
                const counts: Record<string, number> = {};
                for (const [value, byAction] of Object.entries(bucket.values)) {
                  const name = named.has(value) ? value : '(other)';
                  if (byAction[action] > 0) {
                    counts[name] = (counts[name] ?? 0) + byAction[action];
                  }
                }
                return { hour: bucket.hour, counts };
              }),
            },
          };
        },
      },
    },
  ];
}

function toSegment(row: SegmentRow): Segment {
  const failed = row.bounced + row.deferred + row.expired;
  return { ...row, total: failed + row.delivered + row.suppressed, failed };
}

function byFailuresThenTotal(left: Segment, right: Segment): number {
  return right.failed - left.failed || right.total - left.total || left.value.localeCompare(right.value);
}
