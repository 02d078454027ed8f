import type { Classification } from '../core/classification.js';
import { isPermanent, type Reply } from '../core/reply.js';
import type { Action, RecipientStatus } from '../core/types.js';
import { isExpired, retryDelaySeconds } from './schedule.js';

/** Decision for one recipient after one attempt. */
export interface Decision {
  action: Action;
  status: RecipientStatus;
  permanent: boolean;
  /** ms since the epoch of the next attempt, or null when the recipient is finished. */
  nextAttemptAt: number | null;
  /** Whether the recipient goes on the suppression list. */
  suppress: boolean;
}

/** Retry settings the decision needs. */
export interface RetrySettings {
  schedule: readonly number[];
  maxAge: number;
}

/**
 * Decides the disposition of one recipient after an attempt. The basic code alone decides between
 * retrying and giving up: 5xx never retries, 4xx retries until the queue lifetime ends. The
 * classification only decides whether a permanent failure suppresses the recipient.
 */
export function decide(
  reply: Reply,
  delivered: boolean,
  classification: Classification,
  attempts: number,
  receivedAt: string,
  now: number,
  retry: RetrySettings,
): Decision {
  if (delivered) {
    return { action: 'delivered', status: 'delivered', permanent: false, nextAttemptAt: null, suppress: false };
  }
  if (isPermanent(reply)) {
    return { action: 'bounced', status: 'bounced', permanent: true, nextAttemptAt: null, suppress: classification.suppress };
  }

  const nextAttemptAt = now + retryDelaySeconds(retry.schedule, attempts) * 1000;
  if (isExpired(receivedAt, now, retry.maxAge) || nextAttemptAt - Date.parse(receivedAt) >= retry.maxAge * 1000) {
    return { action: 'expired', status: 'expired', permanent: false, nextAttemptAt: null, suppress: false };
  }
  return { action: 'deferred', status: 'deferred', permanent: false, nextAttemptAt, suppress: false };
}
