import { invalidParameter } from './errors.js';
import { timeParameter } from './params.js';

/** Default time window of segments, triage and escalation: 7 days, in ms. */
export const DEFAULT_WINDOW_MS = 7 * 86_400_000;
/** Maximum window of a rollup query: 400 days, in ms, which bounds the hours read. */
export const MAX_WINDOW_MS = 400 * 86_400_000;

/**
 * Reads `since` and `until` (ms or ISO-8601). `until` defaults to now, `since` to `until` minus the
 * default window. Rejects a reversed or overlong window, naming the parameter.
 */
export function windowParameters(query: URLSearchParams, now: number, defaultMs: number = DEFAULT_WINDOW_MS): { since: number; until: number } {
  const until = timeParameter(query, 'until') ?? now;
  const since = timeParameter(query, 'since') ?? until - defaultMs;
  if (since >= until) {
    throw invalidParameter('since', 'since must be earlier than until; since is inclusive and until exclusive');
  }
  if (until - since > MAX_WINDOW_MS) {
    throw invalidParameter('since', `the window from since to until is longer than ${MAX_WINDOW_MS / 86_400_000} days; narrow it`);
  }
  return { since, until };
}
