import type { Classifier } from '../core/classification.js';
import type { Reply } from '../core/reply.js';
import type { DeliveryEvent } from '../core/types.js';

/** Change a rule set would make to one stored event. */
export interface ReplayChange {
  eventId: string;
  time: string;
  recipient: string;
  mx: string | null;
  text: string;
  before: { reason: string; suppress: boolean; rule: string | null };
  after: { reason: string; suppress: boolean; rule: string };
}

/** The result of running rules over stored events. */
export interface ReplayReport {
  /** Events read. */
  scanned: number;
  /** Failure events classified again (deliveries and RCPT-time suppressions are skipped). */
  classified: number;
  changed: number;
  /** Changes by "before reason → after reason", with how many of them change suppression. */
  summary: Array<{ from: string; to: string; events: number; suppressionChanges: number }>;
  /** The first changes, newest first. */
  changes: ReplayChange[];
}

/**
 * Classifies stored failure events again with `classifier` and reports every event whose reason,
 * suppression decision or rule would differ, so an operator can test a rule before trusting it.
 * Nothing is written.
 */
export async function replayEvents(events: AsyncIterable<DeliveryEvent>, classifier: Classifier, maxChanges: number): Promise<ReplayReport> {
  const report: ReplayReport = { scanned: 0, classified: 0, changed: 0, summary: [], changes: [] };
  const summary = new Map<string, ReplayReport['summary'][number]>();

  for await (const event of events) {
    report.scanned += 1;
    if (event.action === 'delivered' || event.stage === 'submit' || (event.stage === 'queue' && event.action === 'suppressed')) {
      continue;
    }
    report.classified += 1;
    const classification = classifier.classify(replyOf(event), event.mx);
    // A bounce that matched none of our messages never suppresses, whatever the rule decides, so
    // only its reason and rule can change.
    const unmatchedBounce = event.stage === 'dsn' && event.queueId === '';
    const suppress = unmatchedBounce ? event.suppressed : event.permanent && classification.suppress;
    if (classification.reason === event.reason && suppress === event.suppressed && classification.rule === event.rule) {
      continue;
    }

    report.changed += 1;
    const key = `${event.reason}\u0000${classification.reason}`;
    const entry = summary.get(key) ?? { from: event.reason, to: classification.reason, events: 0, suppressionChanges: 0 };
    entry.events += 1;
    entry.suppressionChanges += suppress === event.suppressed ? 0 : 1;
    summary.set(key, entry);
    if (report.changes.length < maxChanges) {
      report.changes.push({
        eventId: event.id,
        time: event.time,
        recipient: event.recipient,
        mx: event.mx,
        text: event.text,
        before: { reason: event.reason, suppress: event.suppressed, rule: event.rule },
        after: { reason: classification.reason, suppress, rule: classification.rule },
      });
    }
  }

  report.summary = [...summary.values()].sort((left, right) => right.events - left.events);
  return report;
}

/** Rebuilds the reply an event recorded. Events without a code are local failures or code-less DSN records. */
function replyOf(event: DeliveryEvent): Reply {
  const local = event.code === null;
  return {
    code: event.code,
    enhancedCode: event.enhancedCode,
    text: event.text,
    stage: event.stage,
    local,
    localPermanent: local && event.permanent,
  };
}
