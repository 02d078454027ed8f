import { simpleParser, type AddressObject, type Attachment, type ParsedMail } from 'mailparser';
import { BouncegateError } from '../core/errors.js';
import type { MessageSignals } from './detect.js';
import { addressOccurrences } from './text-report.js';

/**
 * Bytes of a message that are parsed. The notice and the report come before the returned original
 * message, so a bounce that returns a huge attachment is cut without losing them.
 */
export const MAX_PARSE_BYTES = 2 * 1024 * 1024;

/** Characters of text that the plain-text scans look at. */
export const MAX_SCAN_CHARS = 256 * 1024;

const PARSER_OPTIONS = {
  keepDeliveryStatus: true,
  skipTextToHtml: true,
  skipImageLinks: true,
  skipTextLinks: true,
  maxHtmlLengthToParse: 512 * 1024,
} as const;

/** The parts of a parsed message that the readers use. */
export interface MessageView {
  mail: ParsedMail;
  signals: MessageSignals;
  failedRecipients: string[];
  reportType: string | null;
  text: string;
  rawBody: string;
  attachments: { contentType: string; text: string; filename: string | null; raw: Buffer }[];
}

/** Rejects input that cannot be an email message before the MIME parser reads it. */
export function assertLooksLikeMessage(raw: Buffer): void {
  if (raw.length === 0) {
    throw new BouncegateError('BOUNCEGATE_DSN_INVALID', 'Cannot parse an empty message: the input has no bytes');
  }

  const head = raw.subarray(0, 4096).toString('latin1').replace(/^(\r?\n)+/, '');
  const firstLine = head.split(/\r?\n/, 1)[0] ?? '';
  const isHeader = /^[!-9;-~]+[ \t]*:/.test(firstLine) || firstLine.startsWith('From ');
  if (!isHeader) {
    const shown = JSON.stringify(firstLine.slice(0, 40));
    throw new BouncegateError(
      'BOUNCEGATE_DSN_INVALID',
      `Cannot parse the input as an email message: it does not start with a header field (first line ${shown}); pass the whole message including its headers`,
    );
  }
}

/** Parses a message with mailparser, at most MAX_PARSE_BYTES of it, into the view the readers use. */
export async function readMessage(raw: Buffer): Promise<MessageView> {
  const bounded = raw.length > MAX_PARSE_BYTES ? raw.subarray(0, MAX_PARSE_BYTES) : raw;

  let mail: ParsedMail;
  try {
    mail = await simpleParser(bounded, PARSER_OPTIONS);
  } catch (error) {
    throw new BouncegateError('BOUNCEGATE_DSN_INVALID', `Cannot parse the message as MIME: ${(error as Error).message}`, { cause: error });
  }

  const contentType = mail.headers.get('content-type');
  const reportType =
    typeof contentType === 'object' && contentType !== null && 'params' in contentType
      ? ((contentType as { params: Record<string, string> }).params['report-type'] ?? null)
      : null;

  const attachments = mail.attachments.map((part: Attachment) => ({
    contentType: part.contentType.toLowerCase(),
    text: part.content.subarray(0, MAX_SCAN_CHARS).toString('utf8'),
    filename: part.filename ?? null,
    raw: part.content,
  }));

  const rawText = bounded.toString('utf8');
  const bodyStart = rawText.search(/\r?\n\r?\n/);
  const rawBody = bodyStart < 0 ? '' : rawText.slice(bodyStart).slice(0, MAX_SCAN_CHARS);

  return {
    mail,
    signals: signalsOf(mail),
    failedRecipients: headerText(mail, 'x-failed-recipients')
      .split(/[,\s]+/)
      .map((address) => address.replace(/^<|>$/g, ''))
      .filter((address) => address.includes('@')),
    reportType: reportType === null ? null : reportType.toLowerCase(),
    text: (mail.text ?? '').slice(0, MAX_SCAN_CHARS),
    rawBody,
    attachments,
  };
}

function signalsOf(mail: ParsedMail): MessageSignals {
  const from = firstAddress(mail.from);
  const precedence = headerText(mail, 'precedence').trim().toLowerCase();
  const autoSubmitted = headerText(mail, 'auto-submitted').trim().toLowerCase();
  return {
    fromAddress: from?.address ?? null,
    fromName: from?.name ?? '',
    subject: mail.subject ?? '',
    nullReturnPath: /^<\s*>$/.test(headerText(mail, 'return-path')),
    autoSubmitted: autoSubmitted === '' ? null : autoSubmitted,
    headerNames: new Set(mail.headers.keys()),
    precedence: precedence === '' ? null : precedence,
  };
}

/**
 * Returns the raw value of the first header field with a name, unfolded, or "". The raw line is used
 * because mailparser turns some fields into objects: Return-Path "<>" becomes an empty address list.
 */
export function headerText(mail: ParsedMail, name: string): string {
  const line = mail.headerLines.find((header) => header.key === name)?.line;
  if (line !== undefined) {
    return line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
  }

  const value: unknown = mail.headers.get(name);
  if (value === undefined || value === null) {
    return '';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => (typeof item === 'string' ? item : '')).join(', ');
  }
  if (typeof value === 'object' && 'text' in value && typeof (value as { text: unknown }).text === 'string') {
    return (value as { text: string }).text;
  }
  if (typeof value === 'object' && 'value' in value && typeof (value as { value: unknown }).value === 'string') {
    return (value as { value: string }).value;
  }
  return '';
}

function firstAddress(value: AddressObject | AddressObject[] | undefined): { address: string; name: string } | null {
  const objects = value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const object of objects) {
    for (const entry of object.value) {
      if (entry.address) {
        return { address: entry.address, name: entry.name ?? '' };
      }
    }
  }
  return null;
}

/** Returns the first address written in a text, or null. */
export function firstAddressIn(text: string): string | null {
  return addressOccurrences(text)[0]?.address ?? null;
}
