import { normalizeAddress } from '../core/address.js';
import type { Classifier } from '../core/classification.js';
import type { Reply } from '../core/reply.js';
import { findCommandContext, findQuotedCodes, NAMES_COMMAND } from './codes.js';
import { statusCode, type ReportRecord } from './delivery-status.js';
import { hasBounceNotice } from './detect.js';
import { firstAddressIn, type MessageView } from './message.js';
import type { ReturnedMessage } from './original.js';
import { clean, findNoticeRecipients } from './text-report.js';
import type { ParsedBounce } from './types.js';

/** Maximum number of recipients read from one message. */
export const MAX_RECIPIENTS = 1000;

// DSN actions that report success (RFC 3464 §2.3.3). Postfix address verification writes "deliverable".
export const SUCCESS_ACTIONS: ReadonlySet<string> = new Set(['delivered', 'relayed', 'expanded', 'deliverable']);

// The classifier returns these reasons when no rule decided, so the next explanation is tried.
const UNDECIDED_REASONS: ReadonlySet<string> = new Set(['onhold', 'undefined']);

/** A recipient record before classification. */
export interface PendingRecord {
  recipient: string;
  originalRecipient: string | null;
  action: string | null;
  status: string | null;
  /** Explanations to try in order. The first one that the classifier decides wins. */
  candidates: string[];
  /** The SMTP command that drew the reply, as the notice names it ("in reply to RCPT TO command"), or null. */
  command: string | null;
  remoteMta: string | null;
  lastAttemptDate: string | null;
  /** Whether the report calls the failure permanent, for explanations without a reply code. */
  permanentHint: boolean;
}

/**
 * Turns report records into pending records. A record whose Final-Recipient is not an address (a
 * file path, "@host") takes the Original-Recipient, the X-Failed-Recipients entry or the notice's
 * recipient at the same position. The notice text around each recipient is a fallback explanation.
 */
export function fromReport(records: readonly ReportRecord[], view: MessageView, notice: string, excluded: ReadonlySet<string>): PendingRecord[] {
  const noticeRecipients = findNoticeRecipients(notice, [], excluded).map((entry) => entry.recipient);

  const recipients = records.map((record, index) => {
    for (const candidate of [record.recipient, record.originalRecipient, view.failedRecipients[index], noticeRecipients[index]]) {
      if (candidate !== undefined && candidate !== null && isAddress(candidate)) {
        return candidate;
      }
    }
    return record.recipient ?? record.originalRecipient ?? '';
  });

  const explanations = findNoticeRecipients(notice, recipients.filter((recipient) => recipient !== ''), excluded);

  return records.map((record, index) => {
    const recipient = recipients[index] ?? '';
    const diagnostic = record.diagnostic === '' ? '' : prefixedDiagnostic(record);
    const fromNoticeText = explanations.find((entry) => entry.recipient.toLowerCase() === recipient.toLowerCase())?.candidates ?? [];
    const aroundRecipient = fromNoticeText.length > 1 ? fromNoticeText.slice(0, -1) : [];
    const statusClass = record.status?.[0] ?? null;
    const final = record.action === 'failed' || record.action === 'expired';

    return {
      recipient,
      originalRecipient: record.originalRecipient,
      action: record.action,
      status: record.status,
      candidates: [diagnostic, ...fromNoticeText].filter((text) => text !== ''),
      command: findCommandContext([diagnostic, ...aroundRecipient]),
      remoteMta: record.remoteMta,
      lastAttemptDate: record.lastAttemptDate,
      permanentHint: statusClass === '5' || (statusClass === null && final),
    };
  });
}

function isAddress(value: string): boolean {
  return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value);
}

// Diagnostic types other than "smtp" (x-unix, x-postfix) stay in the text, so rules can match them.
function prefixedDiagnostic(record: ReportRecord): string {
  const text = clean(record.diagnostic);
  return record.diagnosticType !== null && record.diagnosticType !== 'smtp' ? `${record.diagnosticType}; ${text}` : text;
}

/**
 * Turns the recipients that a plain-text notice names into pending records. The text around each
 * recipient explains its failure.
 */
export function fromNotice(view: MessageView, notice: string, excluded: ReadonlySet<string>, returned: ReturnedMessage): PendingRecord[] {
  let found = findNoticeRecipients(notice, view.failedRecipients, excluded);

  if (found.length === 0) {
    // NOTE: a notice that names no recipient is matched to the returned message's To header, which is
    // wrong when the message went to several recipients and only some failed.
    const to = firstAddressIn(returned.headers['to'] ?? '');
    if (to === null || !hasBounceNotice(notice)) {
      return [];
    }
    found = [{ recipient: to, candidates: [clean(notice)] }];
  }

  const several = found.length > 1;
  const temporary = /\b(warning only|will (continue to )?(retry|try)|is delayed|has been delayed|delivery delayed|not yet been delivered)\b/i.test(notice);
  return found.slice(0, MAX_RECIPIENTS).map((entry) => ({
    recipient: entry.recipient,
    originalRecipient: null,
    action: temporary ? 'delayed' : 'failed',
    status: null,
    candidates: entry.candidates,
    // With several recipients the whole notice (the last candidate) may name another one's command.
    command: findCommandContext(several ? entry.candidates.slice(0, -1) : entry.candidates),
    remoteMta: null,
    lastAttemptDate: null,
    permanentHint: !temporary,
  }));
}

/** Classifies one record: the first explanation the classifier decides (not onhold or undefined) wins. */
export function classifyRecord(record: PendingRecord, classifier: Classifier): ParsedBounce {
  const evaluate = (text: string) => {
    const reply = replyFor(text, record);
    return { text, reply, classification: classifier.classify(reply, record.remoteMta) };
  };

  // When no explanation is decided, the first (most specific) one is kept.
  const [first = '', ...rest] = record.candidates;
  let chosen = evaluate(first);
  for (const text of rest) {
    if (!UNDECIDED_REASONS.has(chosen.classification.reason)) {
      break;
    }
    const next = evaluate(text);
    if (!UNDECIDED_REASONS.has(next.classification.reason)) {
      chosen = next;
    }
  }

  const { text, reply, classification } = chosen;
  const status = reply.enhancedCode || syntheticStatus(record, classification.permanent);

  return {
    recipient: normalizeRecipient(record.recipient),
    status,
    replycode: reply.code,
    reason: classification.reason,
    action: record.action,
    diagnostic: text,
    remoteMta: record.remoteMta,
    lastAttemptDate: record.lastAttemptDate,
    originalRecipient: record.originalRecipient === null ? null : normalizeRecipient(record.originalRecipient),
    permanent: classification.permanent,
    suppress: classification.suppress,
    rule: classification.rule,
  };
}

/**
 * Builds the reply a classifier reads for one explanation. The quoted codes win over the Status field.
 * Without a quoted reply code the reply is marked local, and its permanence comes from the report. The
 * SMTP command that the notice names elsewhere is appended, so rules can tell RCPT from DATA.
 */
function replyFor(text: string, record: PendingRecord): Reply {
  const quoted = findQuotedCodes(text);
  const withCommand = record.command !== null && !NAMES_COMMAND.test(text) ? `${text} (${record.command})` : text;
  const enhancedCode = preferredStatus(quoted.enhancedCode, record.status);
  const code = quoted.replyCode;
  const permanent = enhancedCode ? enhancedCode.startsWith('5') : record.permanentHint;
  return { code, enhancedCode, text: withCommand, stage: 'dsn', local: code === null, localPermanent: permanent };
}

// A code quoted from the remote server is more precise than the reporting MTA's Status, except when
// the quoted code contradicts a success.
function preferredStatus(quoted: string | null, status: string | null): string {
  if (status !== null && status.startsWith('2')) {
    return status;
  }
  return quoted ?? statusCode(status) ?? '';
}

function syntheticStatus(record: PendingRecord, permanent: boolean): string {
  if (record.action !== null && SUCCESS_ACTIONS.has(record.action)) {
    return '2.0.0';
  }
  return permanent || record.permanentHint ? '5.0.0' : '4.0.0';
}

/** Normalises a recipient address: angle brackets removed, domain lowercased to its A-label. */
export function normalizeRecipient(address: string): string {
  return normalizeAddress(address.replace(/^<|>$/g, ''), { caseSensitiveLocalPart: true });
}

