import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';

/** Minimum time between two warnings about rejected requests from the same client IP, in ms. */
const WARN_INTERVAL_MS = 60_000;
/** Client IPs tracked for warning rate limits before stale ones are pruned. */
const MAX_TRACKED_CLIENTS = 1000;

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Reason a request failed authentication: no Bearer token, or a wrong one. */
export type AuthFailure = 'missing' | 'invalid';

/**
 * Checks Bearer tokens (RFC 6750 §2.1) against the admin token in constant time, and logs rejected
 * requests at warn, at most once per client IP per minute with a count of the ones left out.
 */
export class BearerAuth {
  private readonly expectedDigest: Buffer;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly warnings = new Map<string, { since: number; suppressed: number }>();

  constructor(token: string, logger: Logger, now: () => number = Date.now) {
    this.expectedDigest = digest(token);
    this.logger = logger;
    this.now = now;
  }

  /** Returns null when the Authorization header carries the admin token, else why it does not. */
  check(header: string | undefined): AuthFailure | null {
    const match = header === undefined ? null : BEARER.exec(header);
    if (!match) {
      return 'missing';
    }
    // Comparing fixed-length digests keeps the time independent of the token's length and content.
    return timingSafeEqual(digest(match[1] ?? ''), this.expectedDigest) ? null : 'invalid';
  }

  /** Logs a rejected request at warn unless this client IP was already reported within the last minute. */
  reportFailure(ip: string, failure: AuthFailure, method: string, path: string): void {
    const now = this.now();
    const entry = this.warnings.get(ip);
    if (entry && now - entry.since < WARN_INTERVAL_MS) {
      entry.suppressed += 1;
      return;
    }

    this.prune(now);
    this.warnings.set(ip, { since: now, suppressed: 0 });
    this.logger.warn(
      { ip, failure, method, path, suppressedSinceLastWarning: entry?.suppressed ?? 0 },
      'admin request rejected: bad or missing bearer token',
    );
  }

  private prune(now: number): void {
    if (this.warnings.size < MAX_TRACKED_CLIENTS) {
      return;
    }
    for (const [ip, entry] of this.warnings) {
      if (now - entry.since >= WARN_INTERVAL_MS) {
        this.warnings.delete(ip);
      }
    }
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
