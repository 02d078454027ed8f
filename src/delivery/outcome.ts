import { parseReply, type Reply } from '../core/reply.js';
import type { Stage } from '../core/types.js';

/** The outcome of one delivery attempt for one recipient. */
export interface RecipientResult {
  recipient: string;
  /** The reply that decided the outcome: the RCPT TO rejection, the MAIL FROM or DATA failure, or the reply after the final dot. */
  reply: Reply;
  /** True only when the server accepted the message for this recipient with 2xx after the final dot. */
  delivered: boolean;
}

/**
 * Assigns the replies of one SMTP transaction to its recipients. `replies` contains the raw replies in the
 * order of the commands: MAIL FROM, one RCPT TO per recipient in `recipients` order, DATA, and the reply
 * after the final dot (RFC 5321 §3.3). Pipelining (RFC 2920) keeps that order. A reply to MAIL FROM other than 2xx
 * applies to every recipient. A RCPT TO reply applies to its own recipient. A DATA reply other than 2xx or
 * 3xx, and the reply after the dot, apply to every recipient accepted at RCPT TO. `missing` supplies the
 * reply for a command that got none, because the connection was lost or timed out.
 */
export function assignReplies(
  recipients: readonly string[],
  replies: readonly string[],
  missing: (stage: Stage) => Reply,
): RecipientResult[] {
  const mailRaw = replies[0];
  const mail = mailRaw === undefined ? missing('mail') : parseReply(mailRaw, 'mail');
  if (!hasClass(mail, 2)) {
    return recipients.map((recipient) => ({ recipient, reply: mail, delivered: false }));
  }

  const dataRaw = replies[recipients.length + 1];
  const eodRaw = replies[recipients.length + 2];
  const data = dataRaw === undefined ? missing('data') : parseReply(dataRaw, 'data');
  const eod = eodRaw === undefined ? missing('eod') : parseReply(eodRaw, 'eod');

  return recipients.map((recipient, i) => {
    const rcptRaw = replies[i + 1];
    const rcpt = rcptRaw === undefined ? missing('rcpt') : parseReply(rcptRaw, 'rcpt');
    if (!hasClass(rcpt, 2)) {
      return { recipient, reply: rcpt, delivered: false };
    }
    // nodemailer sends the message after a 2xx reply to DATA as well as after 354, as some servers send 250.
    if (!hasClass(data, 2) && !hasClass(data, 3)) {
      return { recipient, reply: data, delivered: false };
    }
    return { recipient, reply: eod, delivered: hasClass(eod, 2) };
  });
}

/** Returns the stage of the command that drew reply number `index` (from 0) of a transaction. */
export function stageOfReply(index: number, recipientCount: number): Stage {
  if (index === 0) {
    return 'mail';
  }
  if (index <= recipientCount) {
    return 'rcpt';
  }
  return index === recipientCount + 1 ? 'data' : 'eod';
}

function hasClass(reply: Reply, digit: number): boolean {
  return reply.code !== null && Math.floor(reply.code / 100) === digit;
}
