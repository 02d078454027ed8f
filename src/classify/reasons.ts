import type { FaultSide } from '../core/types.js';

/**
 * Bounce reason names of the Sisimai 5.1 vocabulary, plus "delivered", "vacation" and "feedback" for
 * reports that are not failures.
 */
export const REASONS = [
  'userunknown',
  'hostunknown',
  'mailboxfull',
  'suspend',
  'hasmoved',
  'filtered',
  'rejected',
  'blocked',
  'badreputation',
  'spamdetected',
  'virusdetected',
  'policyviolation',
  'authfailure',
  'requireptr',
  'notcompliantrfc',
  'securityerror',
  'norelaying',
  'mesgtoobig',
  'exceedlimit',
  'toomanyconn',
  'speeding',
  'systemerror',
  'systemfull',
  'networkerror',
  'expired',
  'mailererror',
  'contenterror',
  'notaccept',
  'syntaxerror',
  'onhold',
  'undefined',
  'delivered',
  'vacation',
  'feedback',
] as const;

/** One reason name of the vocabulary. */
export type Reason = (typeof REASONS)[number];

/**
 * Names that newer Sisimai releases use for merged reasons, mapped to the 5.1 name they are read as.
 * "emailtoolarge" replaced mesgtoobig and exceedlimit; "ratelimited" replaced toomanyconn and speeding.
 */
export const REASON_ALIASES: Readonly<Record<string, Reason>> = {
  emailtoolarge: 'mesgtoobig',
  ratelimited: 'speeding',
};

const REASON_SET: ReadonlySet<string> = new Set(REASONS);

/** Returns the vocabulary name for a reason or one of its aliases (case-insensitive), or null. */
export function canonicalReason(name: string): Reason | null {
  const lower = name.trim().toLowerCase();
  if (REASON_SET.has(lower)) {
    return lower as Reason;
  }
  return REASON_ALIASES[lower] ?? null;
}

/** Lists the accepted reason names for error messages. */
export function describeAllowedReasons(): string {
  return `${REASONS.join(', ')} (aliases: ${Object.keys(REASON_ALIASES).join(', ')})`;
}

/**
 * Returns the party a reason is usually blamed on. Rules in the rule file state their side, so this
 * table serves operator rules from the config, which name only a reason.
 */
export function defaultSide(reason: Reason): FaultSide {
  switch (reason) {
    case 'userunknown':
    case 'hostunknown':
    case 'mailboxfull':
    case 'suspend':
    case 'hasmoved':
    case 'filtered':
    case 'notaccept':
    case 'onhold':
    case 'undefined':
    case 'delivered':
    case 'vacation':
      return 'recipient';
    case 'rejected':
    case 'blocked':
    case 'badreputation':
    case 'authfailure':
    case 'requireptr':
    case 'securityerror':
    case 'norelaying':
    case 'toomanyconn':
    case 'speeding':
    case 'feedback':
      return 'sender';
    case 'spamdetected':
    case 'virusdetected':
    case 'policyviolation':
    case 'notcompliantrfc':
    case 'mesgtoobig':
    case 'exceedlimit':
    case 'contenterror':
    case 'syntaxerror':
      return 'message';
    case 'systemerror':
    case 'systemfull':
    case 'networkerror':
    case 'expired':
    case 'mailererror':
      return 'network';
  }
}
