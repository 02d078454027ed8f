const DAY_MS = 86_400_000;

/** The fields of a suppression entry that decide when it expires. */
export interface ExpiryFields {
  reason: string;
  last: { time: string };
  updatedAt: string;
}

/**
 * How long a suppression lasts after its last failure, by reason, in ms; null never expires.
 * A full mailbox is usually emptied within days, so it expires after 7. An unknown user, an unknown
 * host and a suspended account stay until an operator removes them. Reasons that blame the sender
 * (blocked, badreputation, authfailure, ...) never suppress a recipient in the first place, so they
 * need no entry. Reasons not listed never expire.
 */
export const SUPPRESSION_EXPIRY_MS: Readonly<Record<string, number | null>> = {
  userunknown: null,
  hostunknown: null,
  suspend: null,
  mailboxfull: 7 * DAY_MS,
};

/** Returns how long entries with a reason last after their last failure, in ms, or null for ever. */
export function expiryFor(reason: string): number | null {
  return SUPPRESSION_EXPIRY_MS[reason] ?? null;
}

/** Returns the ms time at which an entry expires, or null when it never does. */
export function expiryTime(entry: ExpiryFields): number | null {
  const lifetime = expiryFor(entry.reason);
  if (lifetime === null) {
    return null;
  }
  const base = Date.parse(entry.last.time) || Date.parse(entry.updatedAt);
  return Number.isNaN(base) ? null : base + lifetime;
}

/** Checks whether an entry has expired at `now` (ms since the epoch). */
export function isExpired(entry: ExpiryFields, now: number): boolean {
  const expires = expiryTime(entry);
  return expires !== null && expires <= now;
}
