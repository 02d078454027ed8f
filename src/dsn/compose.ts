import MimeNode from 'nodemailer/lib/mime-node';

/** One recipient a delivery status notification reports. */
export interface FailedRecipient {
  recipient: string;
  /** "failed" for bounced and expired recipients (RFC 3464 §2.3.3). */
  action: 'failed' | 'delayed';
  /** Enhanced status code; "5.0.0" or "4.0.0" when the reply carried none. */
  status: string;
  /** The remote server's reply, every line, or our own description of a local failure. */
  diagnostic: string;
  /** The server that gave the reply, or null for a local failure. */
  remoteMta: string | null;
  lastAttempt: string;
  /** True when the reply came from a server (Diagnostic-Code type smtp). */
  fromServer: boolean;
}

/** Facts about the original message that a bounce reports. */
export interface BounceInput {
  reportingMta: string;
  queueId: string;
  sender: string;
  receivedAt: string;
  failures: FailedRecipient[];
  /** The original message's header block, returned as text/rfc822-headers. */
  originalHeaders: string;
  originalMessageId: string | null;
}

/**
 * Composes a delivery status notification (RFC 3464 multipart/report) for the envelope sender of a
 * message: a human-readable part, the machine-readable message/delivery-status part, and the original
 * headers. The caller sends it with the null reverse path, so it can never cause another bounce.
 */
export async function composeBounce(input: BounceInput): Promise<Buffer> {
  const root = new MimeNode('multipart/report; report-type=delivery-status', { newline: '\r\n' });
  const arrival = new Date(input.receivedAt).toUTCString();
  root.setHeader({
    From: `Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    To: input.sender,
    Subject: input.failures.some((failure) => failure.action === 'failed')
      ? 'Undelivered Mail Returned to Sender'
      : 'Delayed Mail (still being retried)',
    'Auto-Submitted': 'auto-replied',
    Date: new Date().toUTCString(),
  });
  if (input.originalMessageId) {
    root.setHeader('In-Reply-To', input.originalMessageId);
    root.setHeader('References', input.originalMessageId);
  }

  root.createChild('text/plain; charset=utf-8').setContent(humanText(input));
  root.createChild('message/delivery-status').setContent(deliveryStatus(input, arrival));
  root.createChild('text/rfc822-headers; charset=utf-8').setContent(input.originalHeaders);

  return root.build();
}

function humanText(input: BounceInput): string {
  const lines = [
    `This is the mail system at host ${input.reportingMta}.`,
    '',
    'Your message could not be delivered to one or more recipients.',
    'The reply from the remote server is shown for each of them.',
    '',
  ];
  for (const failure of input.failures) {
    const where = failure.remoteMta ? ` (from ${failure.remoteMta})` : '';
    lines.push(`<${failure.recipient}>${where}:`, ...failure.diagnostic.split('\n').map((line) => `    ${line}`), '');
  }
  lines.push(`Queue id: ${input.queueId}`);
  return lines.join('\r\n');
}

function deliveryStatus(input: BounceInput, arrival: string): string {
  const blocks = [
    [`Reporting-MTA: dns; ${input.reportingMta}`, `X-Bouncegate-Queue-Id: ${input.queueId}`, `Arrival-Date: ${arrival}`].join('\r\n'),
  ];
  for (const failure of input.failures) {
    const diagnosticType = failure.fromServer ? 'smtp' : 'x-local';
    const lines = [
      `Final-Recipient: rfc822; ${failure.recipient}`,
      `Action: ${failure.action}`,
      `Status: ${failure.status}`,
    ];
    if (failure.remoteMta) {
      lines.push(`Remote-MTA: dns; ${failure.remoteMta}`);
    }
    // RFC 3464 §2.3.6: a multi-line reply goes into one folded field, each line kept.
    lines.push(`Diagnostic-Code: ${diagnosticType}; ${failure.diagnostic.split('\n').join('\r\n    ')}`);
    lines.push(`Last-Attempt-Date: ${new Date(failure.lastAttempt).toUTCString()}`);
    blocks.push(lines.join('\r\n'));
  }
  return `${blocks.join('\r\n\r\n')}\r\n`;
}
