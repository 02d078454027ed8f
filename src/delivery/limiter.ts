import { toAsciiDomain } from '../core/address.js';
import { BouncegateError } from '../core/errors.js';

interface Waiter {
  /** Order of arrival across all domains. */
  sequence: number;
  grant(release: () => void): void;
}

/**
 * Caps concurrent delivery transactions, in total and per destination domain (compared as lowercase
 * A-labels). Waiters of one domain are served in arrival order. A freed slot goes to the earliest waiter
 * whose domain is below its limit, so a domain at its limit does not hold up the others.
 */
export class ConcurrencyLimiter {
  private readonly total: number;
  private readonly perDomain: number;
  private running = 0;
  private sequence = 0;
  private readonly runningByDomain = new Map<string, number>();
  private readonly waitersByDomain = new Map<string, Waiter[]>();

  /** Throws BOUNCEGATE_CONFIG_INVALID unless both limits are positive integers. */
  constructor(total: number, perDomain: number) {
    for (const [name, value] of [
      ['total (relay.maxConnections)', total],
      ['per-domain (relay.maxConnectionsPerDomain)', perDomain],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new BouncegateError(
          'BOUNCEGATE_CONFIG_INVALID',
          `${name} concurrency limit is ${value}: expected a positive integer`,
        );
      }
    }
    this.total = total;
    this.perDomain = perDomain;
  }

  /** Waits for a slot for `domain` and returns the function that frees it; calling that again does nothing. */
  acquire(domain: string): Promise<() => void> {
    const key = toAsciiDomain(domain);
    const release = this.tryAcquireKey(key);
    if (release !== null) {
      return Promise.resolve(release);
    }

    return new Promise((resolve) => {
      const waiters = this.waitersByDomain.get(key) ?? [];
      waiters.push({ sequence: this.sequence++, grant: resolve });
      this.waitersByDomain.set(key, waiters);
    });
  }

  /** Takes a slot for `domain` when one is free at once, else returns null without queueing. */
  tryAcquire(domain: string): (() => void) | null {
    return this.tryAcquireKey(toAsciiDomain(domain));
  }

  /** Returns the number of slots in use. */
  active(): number {
    return this.running;
  }

  // A free slot never coexists with a waiter that could take it (release hands slots on at once), so a
  // caller that takes a slot here never jumps a waiter of its own domain.
  private tryAcquireKey(key: string): (() => void) | null {
    if (this.running >= this.total || (this.runningByDomain.get(key) ?? 0) >= this.perDomain) {
      return null;
    }
    return this.take(key);
  }

  private take(key: string): () => void {
    this.running++;
    this.runningByDomain.set(key, (this.runningByDomain.get(key) ?? 0) + 1);

    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      this.running--;
      const left = (this.runningByDomain.get(key) ?? 1) - 1;
      if (left === 0) {
        this.runningByDomain.delete(key);
      } else {
        this.runningByDomain.set(key, left);
      }
      this.handOn();
    };
  }

  // Gives free slots to the earliest waiters whose domains are below their limit.
  private handOn(): void {
    while (this.running < this.total) {
      let next: { key: string; waiter: Waiter } | null = null;
      for (const [key, waiters] of this.waitersByDomain) {
        const first = waiters[0];
        const below = (this.runningByDomain.get(key) ?? 0) < this.perDomain;
        if (first !== undefined && below && (next === null || first.sequence < next.waiter.sequence)) {
          next = { key, waiter: first };
        }
      }
      if (next === null) {
        return;
      }

      const waiters = this.waitersByDomain.get(next.key) ?? [];
      waiters.shift();
      if (waiters.length === 0) {
        this.waitersByDomain.delete(next.key);
      }
      next.waiter.grant(this.take(next.key));
    }
  }
}
