import type { Classifier } from '../core/classification.js';
import { BouncegateError } from '../core/errors.js';
import { readDeliveryStatus, type ReportRecord } from './delivery-status.js';
import { hasBounceHeaders, hasBounceNotice, isAutoReply } from './detect.js';
import { parseFieldGroups, fieldValue, stripTypePrefix } from './fields.js';
import { assertLooksLikeMessage, firstAddressIn, headerText, readMessage, type MessageView } from './message.js';
import { readReturnedMessage, returnedPartInRawBody, type ReturnedMessage } from './original.js';
import { classifyRecord, fromNotice, fromReport, MAX_RECIPIENTS, normalizeRecipient, SUCCESS_ACTIONS, type PendingRecord } from './records.js';
import { addressOccurrences, clean, splitNotice } from './text-report.js';
import type { DsnKind, ParsedBounce, ParsedDsn } from './types.js';

export { MAX_PARSE_BYTES } from './message.js';

/** Depth of bounces attached to bounces that are still parsed (a relay forwarding a bounce). */
const MAX_NESTING = 2;

/**
 * Parses a bounce, delay notice, delivery report, auto-reply or ARF feedback report and classifies
 * each failed recipient. Reads RFC 3464 delivery-status and RFC 6533 global-delivery-status parts and,
 * when there are none, the plain-text notices of MTAs that send no report. A message that is not a
 * bounce yields kind "not-bounce" and no records. Throws BOUNCEGATE_DSN_INVALID for input that is not an
 * email message, and otherwise reads any message as far as it goes.
 */
export async function parseDsn(raw: Buffer, classifier: Classifier): Promise<ParsedDsn> {
  return parseMessage(raw, classifier, 0);
}

async function parseMessage(raw: Buffer, classifier: Classifier, depth: number): Promise<ParsedDsn> {
  assertLooksLikeMessage(raw);
  const view = await readMessage(raw);
  const returned = findReturnedMessage(view);

  const feedback = readFeedback(view, returned);
  if (feedback) {
    return feedback;
  }

  const reports = view.attachments
    .filter((part) => part.contentType === 'message/delivery-status' || part.contentType === 'message/global-delivery-status')
    .map((part) => readDeliveryStatus(part.text));
  let reportingMta = reports.find((report) => report.reportingMta !== null)?.reportingMta ?? null;
  let records = reports.flatMap((report) => report.records);

  if (records.length === 0) {
    const embedded = findEmbeddedReport([view.text, ...view.attachments.filter((part) => part.contentType === 'text/plain').map((part) => part.text)]);
    records = embedded.records;
    reportingMta = embedded.reportingMta;
  }

  if (records.length === 0 && depth < MAX_NESTING) {
    const nested = await parseNestedBounce(view, classifier, depth);
    if (nested) {
      return nested;
    }
  }

  if (records.length === 0) {
    const embedded = findEmbeddedReport([view.rawBody]);
    records = embedded.records;
    reportingMta = embedded.reportingMta;
  }

  const { notice } = splitNotice(view.text || view.rawBody);
  const excluded = senderAddresses(view, returned);

  if (records.length > 0) {
    const pending = fromReport(records.slice(0, MAX_RECIPIENTS), view, notice, excluded);
    return finish(pending, classifier, returned, reportingMta);
  }

  // Bounce headers win over Auto-Submitted: Exim and Postfix mark their bounces "auto-replied" too.
  const isBounce = hasBounceHeaders(view.signals) || (view.signals.nullReturnPath && hasBounceNotice(notice));
  if (isBounce) {
    const pending = fromNotice(view, notice, excluded, returned);
    if (pending.length > 0) {
      return finish(pending, classifier, returned, null);
    }
  }

  if (isAutoReply(view.signals) && !hasBounceHeaders(view.signals)) {
    return autoReply(view, returned);
  }

  return { kind: 'not-bounce', bounces: [], originalMessageId: returned.messageId, originalQueueId: returned.queueId, originalHeaders: returned.headers, reportingMta: null };
}

/**
 * Reads the headers of the returned original message from attachments, a part marker in the raw body
 * (mailparser shows some message/rfc822 parts inline, and broken boundaries hide others), or the
 * inline copy after the notice.
 */
function findReturnedMessage(view: MessageView): ReturnedMessage {
  const attached = view.attachments
    .filter((part) => /^(message\/(rfc822|global|global-headers|partial)|text\/rfc822-headers)$/.test(part.contentType))
    .map((part) => part.text);
  const textAttachments = view.attachments.filter((part) => part.contentType === 'text/plain' && part.filename !== null).map((part) => part.text);

  return readReturnedMessage(
    [...attached, returnedPartInRawBody(view.rawBody), splitNotice(view.text).returned, ...textAttachments, splitNotice(view.rawBody).returned],
    view.rawBody,
  );
}

/** Reads ARF feedback reports (RFC 5965) and unsubscribe requests, which never report a failure. */
function readFeedback(view: MessageView, returned: ReturnedMessage): ParsedDsn | null {
  const report = view.attachments.find((part) => part.contentType === 'message/feedback-report');
  const appleUnsubscribe = view.signals.headerNames.has('x-apple-unsubscribe');
  if (view.reportType !== 'feedback-report' && !report && !appleUnsubscribe) {
    return null;
  }

  let recipient = '';
  if (appleUnsubscribe) {
    recipient = view.signals.fromAddress ?? '';
  } else {
    const fields = parseFieldGroups(report?.text ?? '').flat();
    const reported = fieldValue(fields, 'original-rcpt-to') ?? fieldValue(fields, 'removal-recipient');
    recipient = reported ? stripTypePrefix(reported) : (firstAddressIn(returned.headers['to'] ?? '') ?? '');
  }

  const feedbackType = report ? fieldValue(parseFieldGroups(report.text).flat(), 'feedback-type') : null;
  const bounce = nonFailure(recipient, 'feedback', feedbackType ? `feedback report: ${feedbackType}` : 'unsubscribe request');
  return {
    kind: 'feedback',
    bounces: [bounce],
    originalMessageId: returned.messageId,
    originalQueueId: returned.queueId,
    originalHeaders: returned.headers,
    reportingMta: null,
  };
}

function autoReply(view: MessageView, returned: ReturnedMessage): ParsedDsn {
  const bounce = nonFailure(view.signals.fromAddress ?? '', 'vacation', clean(view.signals.subject));
  const inReplyTo = headerText(view.mail, 'in-reply-to');
  const repliedTo = /<([^<>\s]+)>/.exec(inReplyTo)?.[1] ?? null;
  return {
    kind: 'autoreply',
    bounces: [bounce],
    originalMessageId: returned.messageId ?? repliedTo,
    originalQueueId: returned.queueId,
    originalHeaders: returned.headers,
    reportingMta: null,
  };
}

function nonFailure(recipient: string, reason: string, diagnostic: string): ParsedBounce {
  return {
    recipient: recipient ? normalizeRecipient(recipient) : '',
    status: null,
    replycode: null,
    reason,
    action: null,
    diagnostic,
    remoteMta: null,
    lastAttemptDate: null,
    originalRecipient: null,
    permanent: false,
    suppress: false,
    rule: null,
  };
}

/**
 * Finds delivery-status fields written into text: the notice (some MTAs paste the fields there), the
 * body of a bounce forwarded inline, or a raw body whose MIME boundaries did not parse.
 */
function findEmbeddedReport(texts: readonly string[]): { records: ReportRecord[]; reportingMta: string | null } {
  for (const text of texts) {
    if (!/^\s*final-recipient\s*:/im.test(text)) {
      continue;
    }
    const report = readDeliveryStatus(text);
    const records = report.records.filter((record) => record.recipient !== null);
    if (records.length > 0) {
      return { records, reportingMta: report.reportingMta };
    }
  }
  return { records: [], reportingMta: null };
}

/** Parses a bounce attached to this message (a relay that forwards a bounce as message/rfc822). */
async function parseNestedBounce(view: MessageView, classifier: Classifier, depth: number): Promise<ParsedDsn | null> {
  for (const part of view.attachments) {
    if (part.contentType !== 'message/rfc822') {
      continue;
    }
    const head = part.text.slice(0, 8192);
    const looksLikeBounce = /^content-type:\s*multipart\/report/im.test(head) || /^from:.*(mailer-daemon|postmaster)/im.test(head);
    if (!looksLikeBounce) {
      continue;
    }
    try {
      const nested = await parseMessage(part.raw, classifier, depth + 1);
      if (nested.bounces.length > 0) {
        return nested;
      }
    } catch (error) {
      if (!(error instanceof BouncegateError)) {
        throw error;
      }
    }
  }
  return null;
}

function finish(pending: PendingRecord[], classifier: Classifier, returned: ReturnedMessage, reportingMta: string | null): ParsedDsn {
  const bounces = pending.map((record) => classifyRecord(record, classifier));
  return {
    kind: kindOf(bounces),
    bounces,
    originalMessageId: returned.messageId,
    originalQueueId: returned.queueId,
    originalHeaders: returned.headers,
    reportingMta,
  };
}

function kindOf(bounces: readonly ParsedBounce[]): DsnKind {
  if (bounces.some((bounce) => bounce.action === 'failed' || bounce.action === 'expired' || bounce.action === null)) {
    return 'bounce';
  }
  if (bounces.some((bounce) => bounce.action === 'delayed')) {
    return 'delay';
  }
  return bounces.length > 0 && bounces.every((bounce) => bounce.action !== null && SUCCESS_ACTIONS.has(bounce.action)) ? 'not-bounce' : 'bounce';
}

/** Returns the addresses of the sender side, which a notice may mention without them being recipients. */
function senderAddresses(view: MessageView, returned: ReturnedMessage): Set<string> {
  const excluded = new Set<string>();
  const add = (value: string | undefined) => {
    for (const occurrence of addressOccurrences(value ?? '')) {
      excluded.add(occurrence.address.toLowerCase());
    }
  };

  for (const name of ['from', 'to', 'reply-to', 'sender', 'return-path']) {
    add(headerText(view.mail, name));
  }
  for (const name of ['from', 'sender', 'return-path', 'reply-to']) {
    add(returned.headers[name]);
  }
  for (const recipient of view.failedRecipients) {
    excluded.delete(recipient.toLowerCase());
  }
  return excluded;
}

