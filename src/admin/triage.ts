import type { DeliveryEvent } from '../core/types.js';
import { normalizeReplyText } from '../core/normalize-text.js';

/** The patterns a domain's or MX host's recent events can fit, from most to least specific. */
export const VERDICTS = [
  'sender-side',
  'domain-migration',
  'single-bad-recipient',
  'directory-or-edge-block',
  'tenant-policy',
  'healthy',
  'insufficient-data',
] as const;

/** One triage verdict. */
export type Verdict = (typeof VERDICTS)[number];

/**
 * Reasons that blame the sending side: IP or domain reputation, authentication, content policy and
 * rate limits. They do not implicate the recipient, so SPF, DKIM, DMARC and blocklists come first.
 */
export const SENDER_SIDE_REASONS: ReadonlySet<string> = new Set([
  'blocked',
  'badreputation',
  'authfailure',
  'spamdetected',
  'policyviolation',
  'requireptr',
  'securityerror',
  'norelaying',
  'notcompliantrfc',
  'rejected',
  'speeding',
  'toomanyconn',
]);

/** Reasons that blame one recipient's mailbox or address. */
export const RECIPIENT_REASONS: ReadonlySet<string> = new Set(['userunknown', 'hostunknown', 'suspend', 'hasmoved', 'filtered', 'mailboxfull']);

/** Share of failure events with a sender-side reason from which the verdict is sender-side. */
const SENDER_SIDE_SHARE = 0.5;
/** Share of failing recipients at the top MX host from which failures count as concentrated there. */
const MX_CONCENTRATION = 0.8;
/** Share of failure events with one host and one normalised text from which it counts as a repeated rejection. */
const REPEATED_TEXT_SHARE = 0.6;
/** Failure events of one host and text needed for tenant-policy. */
const MIN_REPEATED_EVENTS = 3;
/** Formerly delivered recipients that now fail, needed for domain-migration without an MX change. */
const MIN_MIGRATED_RECIPIENTS = 2;
/** Failure rate below which a subject with deliveries counts as healthy. */
const HEALTHY_FAILURE_RATE = 0.1;
/** Cross-domain: failing domains and the rise of the failure rate that count as a sender-side trend. */
const MIN_FAILING_DOMAINS = 3;
const FAILURE_RATE_RISE = 2;
const MIN_TREND_FAILURE_RATE = 0.1;
/** Events over all domains needed in each of the two windows before a rise counts as a trend. */
const MIN_TREND_EVENTS = 50;
/** Event ids listed as evidence per group, so a verdict on a busy domain stays readable. */
const MAX_EVIDENCE_IDS = 20;

/** Failure counts over every domain, from the hourly rollups, to tell a sender-side trend. */
export interface CrossDomainContext {
  /** Distinct recipient domains with at least one failure in the window. */
  failingDomains: number;
  /** Failure events / all events over all domains in the window. */
  failureRate: number;
  /** The same rate over the window of equal length before it. */
  previousFailureRate: number;
  /** Events over all domains in the window, and in the window before it. */
  events: number;
  previousEvents: number;
}

/** Input of a triage: the subject, its events in the window, and its events from before the window. */
export interface TriageInput {
  subject: { domain: string } | { mx: string };
  /** ms since the epoch. */
  since: number;
  until: number;
  /** Events of the subject in the window, in any order. */
  events: DeliveryEvent[];
  /** Events of the subject before the window (its history), in any order; may be empty. */
  earlier: DeliveryEvent[];
  crossDomain?: CrossDomainContext;
}

/** Evidence of a verdict: the events it rests on and the counts that decided it. */
export interface Evidence {
  /** Ids of the events the verdict rests on (at most 20 per group). */
  eventIds: string[];
  /** Recipients the verdict names, e.g. the one bad address. */
  recipients: string[];
  /** MX hosts involved. */
  mx: string[];
  /** The normalised rejection text, when one text decided the verdict. */
  text: string | null;
  /** The exact reply text of the newest event the verdict rests on. */
  sampleText: string | null;
  counts: Record<string, number>;
}

/** The result of a triage. */
export interface TriageResult {
  subject: { domain: string } | { mx: string };
  since: string;
  until: string;
  verdict: Verdict;
  /** One sentence on what the events show. */
  summary: string;
  /** Recommended next step for the operator. */
  action: string;
  evidence: Evidence;
  /** Counts of all events of the subject in the window. */
  totals: { events: number; delivered: number; deferred: number; bounced: number; expired: number; suppressed: number; recipients: number };
}

interface Facts {
  input: TriageInput;
  events: DeliveryEvent[];
  failures: DeliveryEvent[];
  permanent: DeliveryEvent[];
  /** Recipients whose newest event in the window is a permanent failure, with those events. */
  failingRecipients: Map<string, DeliveryEvent[]>;
  deliveredRecipients: Map<string, DeliveryEvent[]>;
}

/**
 * Decides which pattern a subject's recent events fit. The checks run from the most specific
 * explanation to the least. A sender-side cause comes first, because it makes every recipient-side
 * reading wrong. Then come a domain migration, one bad recipient, a directory or edge block at one
 * MX and a tenant policy, and finally healthy or insufficient data. Pure: the caller reads the events.
 */
export function triage(input: TriageInput): TriageResult {
  const facts = collectFacts(input);
  const decided =
    senderSide(facts) ??
    domainMigration(facts) ??
    singleBadRecipient(facts) ??
    directoryOrEdgeBlock(facts) ??
    tenantPolicy(facts) ??
    healthyOrUnknown(facts);
  return {
    subject: input.subject,
    since: new Date(input.since).toISOString(),
    until: new Date(input.until).toISOString(),
    ...decided,
    totals: totals(facts),
  };
}

type Decision = Pick<TriageResult, 'verdict' | 'summary' | 'action' | 'evidence'>;

function collectFacts(input: TriageInput): Facts {
  const events = [...input.events].sort((a, b) => (a.id < b.id ? -1 : 1));
  const failures = events.filter((event) => event.action !== 'delivered' && event.action !== 'suppressed');
  const permanent = failures.filter((event) => event.permanent && (event.action === 'bounced' || event.action === 'expired'));

  const byRecipient = new Map<string, DeliveryEvent[]>();
  for (const event of events) {
    const key = event.recipient.toLowerCase();
    byRecipient.set(key, [...(byRecipient.get(key) ?? []), event]);
  }

  const failingRecipients = new Map<string, DeliveryEvent[]>();
  const deliveredRecipients = new Map<string, DeliveryEvent[]>();
  for (const [recipient, history] of byRecipient) {
    const delivered = history.filter((event) => event.action === 'delivered');
    if (delivered.length > 0) {
      deliveredRecipients.set(recipient, delivered);
    }
    const newest = history[history.length - 1];
    if (newest && newest.permanent && (newest.action === 'bounced' || newest.action === 'expired')) {
      failingRecipients.set(recipient, history.filter((event) => event.permanent && event.action !== 'delivered'));
    }
  }
  return { input, events, failures, permanent, failingRecipients, deliveredRecipients };
}

/** Rules whose replies every new sender meets, so they reveal nothing about our reputation or setup. */
const ROUTINE_DEFERRAL_RULES: ReadonlySet<string> = new Set(['greylisting']);

function senderSide(facts: Facts): Decision | null {
  // Greylisting defers every unknown sender and each retry repeats it, so it would outvote real blocks.
  const failures = facts.failures.filter((event) => !ROUTINE_DEFERRAL_RULES.has(event.rule ?? ''));
  const senderFailures = failures.filter((event) => SENDER_SIDE_REASONS.has(event.reason) || event.side === 'sender');
  const share = failures.length === 0 ? 0 : senderFailures.length / failures.length;
  const trend = facts.input.crossDomain;
  // A rise across domains explains this subject only when its own failures do not blame the recipients.
  const recipientFailures = failures.filter((event) => RECIPIENT_REASONS.has(event.reason));
  const rising =
    trend !== undefined &&
    failures.length > 0 &&
    recipientFailures.length < failures.length / 2 &&
    trend.events >= MIN_TREND_EVENTS &&
    trend.previousEvents >= MIN_TREND_EVENTS &&
    trend.failingDomains >= MIN_FAILING_DOMAINS &&
    trend.failureRate >= MIN_TREND_FAILURE_RATE &&
    trend.failureRate >= FAILURE_RATE_RISE * trend.previousFailureRate;

  if (senderFailures.length === 0 && !rising) {
    return null;
  }
  if (share < SENDER_SIDE_SHARE && !rising) {
    return null;
  }

  const basis = senderFailures.length > 0 ? senderFailures : failures;
  const reasons = countBy(basis, (event) => event.reason);
  const topText = topNormalizedText(basis);
  const why =
    senderFailures.length > 0
      ? `${senderFailures.length} of ${failures.length} failures name a sender-side reason (${formatCounts(reasons)})`
      : `failures are rising across ${trend?.failingDomains ?? 0} unrelated domains (failure rate ${percent(trend?.failureRate ?? 0)} against ${percent(trend?.previousFailureRate ?? 0)} before)`;
  return {
    verdict: 'sender-side',
    summary: `The receiving side rejects our mail, not the recipients: ${why}.`,
    action:
      'Check our side before blaming recipients: SPF, DKIM and DMARC of the sender domain, the reverse DNS (PTR) of our sending IP, ' +
      'and whether that IP or domain is on a blocklist; suppress no recipients for these failures.',
    evidence: evidence(basis, { counts: { ...reasons, failures: failures.length, senderSideFailures: senderFailures.length }, text: topText?.text ?? null }),
  };
}

function domainMigration(facts: Facts): Decision | null {
  const { input } = facts;
  const earlierDelivered = input.earlier.filter((event) => event.action === 'delivered');
  if (earlierDelivered.length === 0 || facts.failingRecipients.size === 0) {
    return null;
  }

  const formerlyDelivered = new Set(earlierDelivered.map((event) => event.recipient.toLowerCase()));
  const migrated = [...facts.failingRecipients.keys()].filter((recipient) => formerlyDelivered.has(recipient));

  const oldMx = new Set(earlierDelivered.map((event) => event.mx?.toLowerCase()).filter((mx): mx is string => Boolean(mx)));
  const newMx = new Set(facts.permanent.map((event) => event.mx?.toLowerCase()).filter((mx): mx is string => Boolean(mx)));
  const mxChanged = 'domain' in input.subject && oldMx.size > 0 && newMx.size > 0 && [...newMx].every((mx) => !oldMx.has(mx));

  if (migrated.length < MIN_MIGRATED_RECIPIENTS && !(mxChanged && migrated.length >= 1)) {
    return null;
  }

  const failing = migrated.flatMap((recipient) => facts.failingRecipients.get(recipient) ?? []);
  const mxNote = mxChanged ? ` The MX changed from ${[...oldMx].join(', ')} to ${[...newMx].join(', ')}.` : '';
  return {
    verdict: 'domain-migration',
    summary: `${migrated.length} addresses that were delivered before the window now fail permanently.${mxNote}`,
    action:
      'The domain probably moved to another mail system and these contacts were not carried over: ' +
      'confirm the move with the recipient organisation, then suppress or update the old addresses.',
    evidence: evidence(failing, {
      recipients: migrated,
      mx: [...newMx],
      counts: { migratedRecipients: migrated.length, earlierDeliveries: earlierDelivered.length, mxChanged: mxChanged ? 1 : 0 },
    }),
  };
}

function singleBadRecipient(facts: Facts): Decision | null {
  if (facts.failingRecipients.size !== 1) {
    return null;
  }
  const others = [...facts.deliveredRecipients.keys()].filter((recipient) => !facts.failingRecipients.has(recipient));
  if (others.length === 0) {
    return null;
  }
  const [[recipient, failing]] = [...facts.failingRecipients] as [[string, DeliveryEvent[]]];
  const newest = failing[failing.length - 1];
  const suppressed = failing.some((event) => event.suppressed);
  const delivered = others.flatMap((other) => facts.deliveredRecipients.get(other) ?? []);
  return {
    verdict: 'single-bad-recipient',
    summary: `Only ${recipient} fails permanently (${describeReply(newest)}); ${others.length} other recipients at the ${subjectLabel(facts.input)} were delivered.`,
    action: suppressed
      ? `${recipient} is already suppressed; remove it only when the recipient confirms the address works again.`
      : `Suppress ${recipient}: the address is rejected while the domain accepts other recipients.`,
    evidence: evidence(failing, {
      recipients: [recipient],
      counts: { failingRecipients: 1, deliveredRecipients: others.length, deliveries: delivered.length, failures: failing.length },
      extraIds: delivered.map((event) => event.id),
    }),
  };
}

function directoryOrEdgeBlock(facts: Facts): Decision | null {
  if (facts.failingRecipients.size < 2 || facts.deliveredRecipients.size === 0) {
    return null;
  }
  const failing = [...facts.failingRecipients.values()].flat();
  const recipientSide = failing.filter((event) => RECIPIENT_REASONS.has(event.reason) || event.side === 'recipient');
  if (recipientSide.length < failing.length / 2) {
    return null;
  }

  const byMx = countBy([...facts.failingRecipients.values()].map((history) => history[history.length - 1] as DeliveryEvent), (event) => event.mx?.toLowerCase() ?? '(none)');
  const [topMx, topCount] = topEntry(byMx);
  if (topCount / facts.failingRecipients.size < MX_CONCENTRATION) {
    return null;
  }
  return {
    verdict: 'directory-or-edge-block',
    summary: `${facts.failingRecipients.size} recipients fail permanently at ${topMx} while ${facts.deliveredRecipients.size} recipients were delivered: the receiving directory or edge filter rejects these addresses.`,
    action: `Treat it as recipient-side: segment the failures by MX (${topMx}), suppress the rejected addresses, and ask the recipient's admin to check their directory (for example Exchange Online Directory-Based Edge Blocking) if they are expected to exist.`,
    evidence: evidence(failing, {
      recipients: [...facts.failingRecipients.keys()],
      mx: [topMx],
      counts: { failingRecipients: facts.failingRecipients.size, deliveredRecipients: facts.deliveredRecipients.size, atTopMx: topCount },
      text: topNormalizedText(failing)?.text ?? null,
    }),
  };
}

function tenantPolicy(facts: Facts): Decision | null {
  if (facts.failures.length < MIN_REPEATED_EVENTS) {
    return null;
  }
  const groups = new Map<string, DeliveryEvent[]>();
  for (const event of facts.failures) {
    const key = `${event.mx?.toLowerCase() ?? '(none)'}\u0000${normalizeReplyText(event.text)}`;
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  const [key, group] = [...groups].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
  if (group.length < MIN_REPEATED_EVENTS || group.length / facts.failures.length < REPEATED_TEXT_SHARE) {
    return null;
  }
  const [mx = '(none)', text = ''] = key.split('\u0000');
  return {
    verdict: 'tenant-policy',
    summary: `${mx} repeats the same rejection ${group.length} times (${new Set(group.map((event) => event.recipient.toLowerCase())).size} recipients): "${text}".`,
    action: 'Escalate to the recipient organisation with the exact bounce text (GET /api/escalate): a policy on their side rejects this mail, and suppressing recipients will not fix it.',
    evidence: evidence(group, {
      mx: [mx],
      recipients: [...new Set(group.map((event) => event.recipient.toLowerCase()))],
      text,
      counts: { repeatedRejections: group.length, failures: facts.failures.length },
    }),
  };
}

function healthyOrUnknown(facts: Facts): Decision {
  const delivered = facts.events.filter((event) => event.action === 'delivered');
  const rate = facts.events.length === 0 ? 0 : facts.failures.length / facts.events.length;
  if (delivered.length > 0 && facts.permanent.length === 0 && rate < HEALTHY_FAILURE_RATE) {
    return {
      verdict: 'healthy',
      summary: `${delivered.length} deliveries and no permanent failures in the window.`,
      action: 'Nothing to do.',
      evidence: evidence(delivered, { counts: { deliveries: delivered.length, failures: facts.failures.length } }),
    };
  }
  const detail =
    facts.events.length === 0
      ? 'no events in the window'
      : `${facts.events.length} events (${facts.failures.length} failures, ${delivered.length} deliveries) fit no pattern with enough confidence`;
  return {
    verdict: 'insufficient-data',
    summary: `Not enough to decide: ${detail}.`,
    action: 'Widen the window, or look at the events of the domain directly (GET /api/events?domain=...).',
    evidence: evidence(facts.failures, { counts: { events: facts.events.length, failures: facts.failures.length, deliveries: delivered.length } }),
  };
}

function evidence(
  events: DeliveryEvent[],
  details: { recipients?: string[]; mx?: string[]; text?: string | null; counts: Record<string, number>; extraIds?: string[] },
): Evidence {
  const sorted = [...events].sort((a, b) => (a.id < b.id ? 1 : -1));
  const mx = details.mx ?? [...new Set(sorted.map((event) => event.mx?.toLowerCase()).filter((value): value is string => Boolean(value)))];
  return {
    eventIds: [...sorted.map((event) => event.id).slice(0, MAX_EVIDENCE_IDS), ...(details.extraIds ?? []).slice(0, MAX_EVIDENCE_IDS)],
    recipients: details.recipients ?? [],
    mx,
    text: details.text ?? null,
    sampleText: sorted[0]?.text ?? null,
    counts: details.counts,
  };
}

function totals(facts: Facts): TriageResult['totals'] {
  const count = (action: string) => facts.events.filter((event) => event.action === action).length;
  return {
    events: facts.events.length,
    delivered: count('delivered'),
    deferred: count('deferred'),
    bounced: count('bounced'),
    expired: count('expired'),
    suppressed: count('suppressed'),
    recipients: new Set(facts.events.map((event) => event.recipient.toLowerCase())).size,
  };
}

function topNormalizedText(events: DeliveryEvent[]): { text: string; count: number } | null {
  if (events.length === 0) {
    return null;
  }
  const [text, count] = topEntry(countBy(events, (event) => normalizeReplyText(event.text)));
  return { text, count };
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const name = key(item);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

function topEntry(counts: Record<string, number>): [string, number] {
  return Object.entries(counts).sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
}

function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
}

function describeReply(event: DeliveryEvent | undefined): string {
  if (!event) {
    return 'no reply';
  }
  const code = [event.code ?? 'local', event.enhancedCode].filter((part) => part !== '').join(' ');
  return `${code}, ${event.reason}`;
}

function subjectLabel(input: TriageInput): string {
  return 'domain' in input.subject ? `domain ${input.subject.domain}` : `MX host ${input.subject.mx}`;
}

function percent(value: number): string {
  return `${Math.round(value * 1000) / 10}%`;
}
