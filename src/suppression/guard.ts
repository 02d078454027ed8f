import { normalizeReplyText } from '../core/normalize-text.js';

/** Thresholds of the mass-suppression guard (config key suppression.guard). */
export interface GuardSettings {
  enabled: boolean;
  windowSeconds: number;
  minRecipients: number;
  pauseSeconds: number;
}

/** A tripped guard: many recipients at one MX host rejected the same way while nothing was delivered. */
export interface GuardAlert {
  time: string;
  mx: string;
  domain: string;
  /** The normalised rejection the recipients share. */
  rejection: string;
  /** One full reply text of that rejection, as the server sent it. */
  sample: string;
  recipients: string[];
  pausedUntil: string;
}

interface Failure {
  at: number;
  recipient: string;
  key: string;
}

/** Maximum failures kept per MX host; older ones are dropped first. */
const MAX_FAILURES_PER_HOST = 10_000;

/**
 * Guards against mass false suppression. When many distinct recipients at one MX host get the same
 * normalised permanent rejection within the window while nothing there is delivered, the cause is more
 * likely a block of our IP or a tenant misconfiguration than dead mailboxes. The guard then pauses
 * delivery to that domain and returns `pending` as the status of new suppressions, for review.
 */
export class SuppressionGuard {
  private readonly settings: GuardSettings;
  private readonly now: () => number;
  private readonly failures = new Map<string, Failure[]>();
  private readonly deliveries = new Map<string, number>();
  private readonly paused = new Map<string, { until: number; key: string; mx: string }>();
  private readonly raised: GuardAlert[] = [];

  constructor(settings: GuardSettings, now: () => number = Date.now) {
    this.settings = settings;
    this.now = now;
  }

  /**
   * Records a permanent failure that would suppress its recipient. Returns the status the
   * suppression gets and, when this failure tripped the guard, the alert.
   */
  noteSuppressingFailure(details: { mx: string | null; domain: string; recipient: string; text: string }): {
    status: 'active' | 'pending';
    alert: GuardAlert | null;
  } {
    if (!this.settings.enabled) {
      return { status: 'active', alert: null };
    }
    const now = this.now();
    const host = hostKey(details.mx, details.domain);
    const key = normalizeReplyText(details.text);
    const pause = this.paused.get(details.domain);
    if (pause && pause.until > now && pause.key === key) {
      return { status: 'pending', alert: null };
    }

    const list = this.prune(host, now);
    list.push({ at: now, recipient: details.recipient.toLowerCase(), key });
    if (list.length > MAX_FAILURES_PER_HOST) {
      list.splice(0, list.length - MAX_FAILURES_PER_HOST);
    }

    const lastDelivery = this.deliveries.get(host) ?? 0;
    if (lastDelivery >= now - this.settings.windowSeconds * 1000) {
      return { status: 'active', alert: null };
    }
    const recipients = [...new Set(list.filter((failure) => failure.key === key).map((failure) => failure.recipient))];
    if (recipients.length < this.settings.minRecipients) {
      return { status: 'active', alert: null };
    }

    const until = now + this.settings.pauseSeconds * 1000;
    this.paused.set(details.domain, { until, key, mx: host });
    const alert: GuardAlert = {
      time: new Date(now).toISOString(),
      mx: host,
      domain: details.domain,
      rejection: key,
      sample: details.text,
      recipients,
      pausedUntil: new Date(until).toISOString(),
    };
    this.raised.push(alert);
    return { status: 'pending', alert };
  }

  /** Records a delivery: a host that delivers mail is not blocking us wholesale. */
  noteDelivery(mx: string | null, domain: string): void {
    this.deliveries.set(hostKey(mx, domain), this.now());
  }

  /** Returns whether delivery to a domain is paused by a tripped guard. */
  isPaused(domain: string): boolean {
    const pause = this.paused.get(domain);
    if (!pause) {
      return false;
    }
    if (pause.until <= this.now()) {
      this.paused.delete(domain);
      return false;
    }
    return true;
  }

  /** Ends a pause early (an operator reviewed the pending suppressions). */
  resume(domain: string): boolean {
    return this.paused.delete(domain);
  }

  /** Returns the alerts raised since start, oldest first. */
  alerts(): readonly GuardAlert[] {
    return this.raised;
  }

  private prune(host: string, now: number): Failure[] {
    const cutoff = now - this.settings.windowSeconds * 1000;
    const kept = (this.failures.get(host) ?? []).filter((failure) => failure.at >= cutoff);
    this.failures.set(host, kept);
    return kept;
  }
}

function hostKey(mx: string | null, domain: string): string {
  return (mx ?? `domain:${domain}`).toLowerCase();
}
