/** Failed AUTH attempts per client IP within the window before further attempts are rejected. */
const MAX_FAILURES_PER_IP = 10;
/** Window of the per-IP count, in ms. */
const FAILURE_WINDOW_MS = 60_000;
/** Most client IPs tracked at once; the oldest are forgotten first. */
const MAX_TRACKED_CLIENTS = 10_000;

/**
 * Counts failed AUTH attempts per client IP, so a password guesser gets a few tries a minute
 * instead of thousands a second. A successful AUTH clears the count of its IP.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Returns whether an attempt from this IP may be checked at all. */
  allows(ip: string): boolean {
    return this.recent(ip).length < MAX_FAILURES_PER_IP;
  }

  /** Records a failed attempt. */
  fail(ip: string): void {
    const list = this.recent(ip);
    list.push(this.now());
    this.failures.delete(ip);
    this.failures.set(ip, list);
    if (this.failures.size > MAX_TRACKED_CLIENTS) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) {
        this.failures.delete(oldest);
      }
    }
  }

  /** Clears the count of an IP after a successful AUTH. */
  succeed(ip: string): void {
    this.failures.delete(ip);
  }

  private recent(ip: string): number[] {
    const cutoff = this.now() - FAILURE_WINDOW_MS;
    return (this.failures.get(ip) ?? []).filter((time) => time > cutoff);
  }
}
