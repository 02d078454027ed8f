import { fieldValue, parseFieldGroups, stripTypePrefix, typePrefix, type Field } from './fields.js';

/** The per-recipient fields of a delivery status report (RFC 3464 §2.3), before classification. */
export interface ReportRecord {
  recipient: string | null;
  originalRecipient: string | null;
  action: string | null;
  /** The Status field's code ("5.1.1"), or null when the field is missing or contains no code. */
  status: string | null;
  /** Diagnostic type ("smtp", "x-unix", "x-postfix"), or null when the Diagnostic-Code field has none. */
  diagnosticType: string | null;
  /** The Diagnostic-Code text without its type, "" when the field is missing. */
  diagnostic: string;
  remoteMta: string | null;
  lastAttemptDate: string | null;
}

/** The fields of one delivery status report. */
export interface DeliveryReport {
  reportingMta: string | null;
  records: ReportRecord[];
}

const RECIPIENT_FIELDS = new Set(['final-recipient', 'original-recipient', 'x-actual-recipient']);
const STATUS_CODE = /^\s*([245])\.(\d{1,3})\.(\d{1,3})\b/;

/**
 * Reads the fields of a message/delivery-status or message/global-delivery-status body (RFC 3464,
 * RFC 6533). Every group of fields that names a recipient becomes a record. A group that lists several
 * Final-Recipient fields without blank lines between them is split at each one.
 */
export function readDeliveryStatus(text: string): DeliveryReport {
  const groups = parseFieldGroups(text);
  let reportingMta: string | null = null;
  const records: ReportRecord[] = [];

  for (const group of groups) {
    const reporting = fieldValue(group, 'reporting-mta');
    if (reporting !== null && reportingMta === null) {
      reportingMta = mtaName(reporting);
    }

    for (const recipientFields of splitRecipients(group)) {
      const record = toRecord(recipientFields);
      if (record.recipient !== null || record.originalRecipient !== null) {
        records.push(record);
      }
    }
  }

  return { reportingMta, records };
}

/** Returns the status code at the start of a Status value, normalised ("5.01.1" becomes "5.1.1"), or null. */
export function statusCode(value: string | null): string | null {
  if (value === null) {
    return null;
  }
  const match = STATUS_CODE.exec(value);
  return match ? `${match[1]}.${Number(match[2])}.${Number(match[3])}` : null;
}

/**
 * Decodes the "\x{HHHH}" escapes that RFC 6533 §3 allows in utf-8 address types, so a UTF-8 address
 * reads the same in both report types.
 */
export function decodeUtf8AddressEscapes(address: string): string {
  return address.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (whole, hex: string) => {
    const codePoint = Number.parseInt(hex, 16);
    return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : whole;
  });
}

function splitRecipients(group: readonly Field[]): Field[][] {
  if (!group.some((field) => RECIPIENT_FIELDS.has(field.name))) {
    return [];
  }

  const parts: Field[][] = [];
  let current: Field[] = [];
  for (const field of group) {
    const startsNew = field.name === 'final-recipient' && current.some((seen) => seen.name === 'final-recipient');
    if (startsNew) {
      parts.push(current);
      current = [];
    }
    current.push(field);
  }
  parts.push(current);
  return parts;
}

function toRecord(fields: readonly Field[]): ReportRecord {
  const finalRecipient = fieldValue(fields, 'final-recipient') ?? fieldValue(fields, 'x-actual-recipient');
  const originalRecipient = fieldValue(fields, 'original-recipient');
  const diagnosticField = fieldValue(fields, 'diagnostic-code');
  const action = fieldValue(fields, 'action');

  return {
    recipient: address(finalRecipient),
    originalRecipient: address(originalRecipient),
    action: action ? (action.trim().split(/[\s(;]/)[0] ?? '').toLowerCase() || null : null,
    status: statusCode(fieldValue(fields, 'status')),
    diagnosticType: diagnosticField === null ? null : typePrefix(diagnosticField),
    diagnostic: diagnosticField === null ? '' : stripDiagnosticType(diagnosticField),
    remoteMta: mtaName(fieldValue(fields, 'remote-mta') ?? ''),
    lastAttemptDate: emptyToNull(fieldValue(fields, 'last-attempt-date') ?? ''),
  };
}

function address(value: string | null): string | null {
  if (value === null) {
    return null;
  }
  const bare = decodeUtf8AddressEscapes(stripTypePrefix(value)).replace(/\s+/g, '');
  return bare.includes('@') ? bare : emptyToNull(bare);
}

function stripDiagnosticType(value: string): string {
  return typePrefix(value) === null ? value.trim() : value.slice(value.indexOf(';') + 1).trim();
}

// An MTA field names the host first; comments and addresses may follow ("mx.example.org [192.0.2.1]",
// "mx.example.org (TCP|192.0.2.1|25)").
function mtaName(value: string): string | null {
  const name = stripTypePrefix(value).split(/\s+/)[0] ?? '';
  return emptyToNull(name);
}

function emptyToNull(value: string): string | null {
  return value.trim() === '' ? null : value.trim();
}
