/** One recipient of a bounce, delay, delivery, auto-reply or feedback report. */
export interface ParsedBounce {
  /** Final recipient address, domain lowercased to its A-label; "" when the report names none. */
  recipient: string;
  /**
   * Enhanced status code (RFC 3463). Taken from the remote server's reply when the diagnostic quotes
   * one, else from the Status field. When the report carries no code at all it is "5.0.0" or "4.0.0"
   * by whether the failure is permanent, and null for auto-replies and feedback reports.
   */
  status: string | null;
  /** Basic SMTP reply code quoted in the diagnostic, or null. */
  replycode: number | null;
  /** Bounce reason from the classifier ("vacation" and "feedback" for those reports). */
  reason: string;
  /** DSN Action (failed, delayed, delivered, relayed, expanded), or null for auto-replies and feedback. */
  action: string | null;
  /** The reporting MTA's explanation for this recipient, on one line. */
  diagnostic: string;
  remoteMta: string | null;
  lastAttemptDate: string | null;
  originalRecipient: string | null;
  /** Whether the failure is permanent: a 5xx reply, or a 5.x.x status when no reply code is quoted. */
  permanent: boolean;
  /** Whether the classifier would suppress the recipient for this failure; always false for reports that are not failures. */
  suppress: boolean;
  /** Name of the classification rule that decided the reason, or null when no classifier ran. */
  rule: string | null;
}

/**
 * The type of a parsed message: "bounce" when at least one recipient failed, "delay" when the report
 * only warns of delayed delivery, "autoreply" (RFC 3834, vacation), "feedback" (ARF, unsubscribe
 * requests) or "not-bounce". A delivery report that only confirms delivery is "not-bounce" and keeps
 * its records with action "delivered".
 */
export type DsnKind = 'bounce' | 'delay' | 'autoreply' | 'feedback' | 'not-bounce';

/** The result of parsing one message. */
export interface ParsedDsn {
  kind: DsnKind;
  bounces: ParsedBounce[];
  /** Message-ID of the returned original message, without angle brackets. */
  originalMessageId: string | null;
  /** The relay's queue id from the X-Bouncegate-Queue-Id header of the returned message. */
  originalQueueId: string | null;
  /** Header fields of the returned original message, names lowercased, first occurrence kept. */
  originalHeaders: Record<string, string>;
  /** The Reporting-MTA of the report, without its type prefix. */
  reportingMta: string | null;
}
