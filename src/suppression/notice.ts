import type { FaultSide, SubmissionSource } from '../core/types.js';
import type { NewEvent } from '../store/events.js';
import type { SuppressionEntry } from '../store/suppressions.js';

/**
 * Builds the reply given at RCPT for a suppressed recipient. The enhanced code is the one of the
 * original failure (for example 5.4.1), or 5.7.1 for a manual entry, and the text carries the original
 * reply and its UTC time so the submitting application learns why.
 */
export function suppressionRejectText(entry: SuppressionEntry): { code: number; text: string } {
  const failure = entry.first;
  const enhanced = failure.enhancedCode.startsWith('5.') ? failure.enhancedCode : '5.7.1';
  const original = failure.code !== null ? oneLine(failure.text) : `added by an operator: ${oneLine(failure.text)}`;
  const where = failure.mx ? ` from ${failure.mx}` : '';
  const text = `${enhanced} Recipient address suppressed (${entry.reason}): ${original}${where} at ${failure.time}`;
  return { code: 550, text: text.slice(0, 900) };
}

/** Builds the `suppressed` event recorded when a submission names a suppressed recipient. */
export function suppressedEvent(details: {
  queueId: string;
  messageId: string | null;
  sender: string;
  recipient: string;
  source: SubmissionSource;
  campaign: string | null;
  entry: SuppressionEntry;
}): NewEvent {
  const failure = details.entry.first;
  const side: FaultSide = 'recipient';
  return {
    time: new Date().toISOString(),
    queueId: details.queueId,
    messageId: details.messageId,
    sender: details.sender,
    recipient: details.recipient,
    stage: 'submit',
    mx: failure.mx,
    remoteIp: failure.remoteIp,
    remotePort: null,
    localIp: null,
    tls: null,
    code: failure.code,
    enhancedCode: failure.enhancedCode,
    text: failure.text,
    attempt: 0,
    permanent: true,
    reason: details.entry.reason,
    action: 'suppressed',
    source: details.source,
    campaign: details.campaign,
    side,
    rule: null,
    suppressed: true,
  };
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}
