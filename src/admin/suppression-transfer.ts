import type { FailureRecord, ImportRow, SuppressionEntry, SuppressionOrigin } from '../store/suppressions.js';
import { MAX_ADDRESS_LENGTH } from './params.js';

/** Columns of a suppression CSV export, in order; an import reads the same names in any order. */
export const CSV_COLUMNS = [
  'address',
  'reason',
  'status',
  'origin',
  'createdAt',
  'updatedAt',
  'expiresAt',
  'count',
  'note',
  'lastTime',
  'lastCode',
  'lastEnhancedCode',
  'lastMx',
  'lastRemoteIp',
  'lastText',
] as const;

/** Maximum rows of one import. */
export const MAX_IMPORT_ROWS = 100_000;
/** Maximum row errors listed in a rejected import. */
const MAX_REPORTED_ERRORS = 20;
const MAX_NOTE_LENGTH = 2000;
const MAX_REASON_LENGTH = 100;
const MAX_TEXT_LENGTH = 10_000;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const ADDRESS_FORBIDDEN = /[\s\x00-\x1f\x7f-\x9f<>]/;
const ORIGINS: readonly SuppressionOrigin[] = ['delivery', 'dsn', 'manual'];

/** An import whose rows are invalid; `errors` names each row (1-based, the header is row 1 in CSV) and field. */
export class ImportError extends Error {
  readonly errors: string[];

  constructor(errors: string[]) {
    super(`${errors.length} invalid rows; nothing was imported. First: ${errors[0] ?? ''}`);
    this.name = 'ImportError';
    this.errors = errors.slice(0, MAX_REPORTED_ERRORS);
  }
}

/** Formats entries as CSV (RFC 4180: CRLF line ends, fields with commas, quotes or line breaks quoted). */
export function formatCsv(entries: SuppressionEntry[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const entry of entries) {
    const values: Record<(typeof CSV_COLUMNS)[number], string> = {
      address: entry.address,
      reason: entry.reason,
      status: entry.status,
      origin: entry.origin,
      createdAt: entry.createdAt,
      updatedAt: entry.updatedAt,
      expiresAt: entry.expiresAt ?? '',
      count: String(entry.count),
      note: entry.note ?? '',
      lastTime: entry.last.time,
      lastCode: entry.last.code === null ? '' : String(entry.last.code),
      lastEnhancedCode: entry.last.enhancedCode,
      lastMx: entry.last.mx ?? '',
      lastRemoteIp: entry.last.remoteIp ?? '',
      lastText: entry.last.text,
    };
    lines.push(CSV_COLUMNS.map((column) => csvField(values[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Parses CSV text into records of column name to value; the first line names the columns. */
export function parseCsv(text: string): Array<Record<string, string>> {
  // Undo the apostrophe the export puts before cells that spreadsheets would read as formulas.
  const rows = splitCsv(text.replace(/^\uFEFF/, '')).map((cells) => cells.map((cell) => (/^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell)));
  const header = rows.shift();
  if (!header || header.every((cell) => cell.trim() === '')) {
    throw new ImportError(['row 1: the CSV has no header line; the first line must name the columns, e.g. "address,reason,note"']);
  }
  const names = header.map((cell) => cell.trim());
  const unknown = names.filter((name) => !(CSV_COLUMNS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new ImportError([`row 1: unknown column "${unknown[0]}"; allowed: ${CSV_COLUMNS.join(', ')}`]);
  }
  if (!names.includes('address') || !names.includes('reason')) {
    throw new ImportError(['row 1: the columns "address" and "reason" are required']);
  }
  return rows
    .filter((row) => row.some((cell) => cell !== ''))
    .map((row) => Object.fromEntries(names.map((name, index) => [name, row[index] ?? ''])));
}

/** Converts CSV records into import rows, or raises ImportError listing every invalid row. */
export function rowsFromCsv(records: Array<Record<string, string>>): ImportRow[] {
  return validateAll(records, (record) => {
    const last: FailureRecord | undefined = record.lastTime
      ? {
          time: record.lastTime,
          code: record.lastCode ? Number(record.lastCode) : null,
          enhancedCode: record.lastEnhancedCode ?? '',
          text: record.lastText ?? '',
          mx: record.lastMx || null,
          remoteIp: record.lastRemoteIp || null,
          queueId: null,
        }
      : undefined;
    return {
      address: record.address,
      reason: record.reason,
      status: record.status || undefined,
      origin: record.origin || undefined,
      note: record.note || undefined,
      createdAt: record.createdAt || undefined,
      count: record.count ? Number(record.count) : undefined,
      last,
    };
  }, 2);
}

/** Converts a JSON import body (an array of entries, or an export with a `suppressions` array) into import rows. */
export function rowsFromJson(body: unknown): ImportRow[] {
  const list = Array.isArray(body) ? body : isObject(body) && Array.isArray(body.suppressions) ? body.suppressions : null;
  if (list === null) {
    throw new ImportError(['body: expected a JSON array of entries, or an object with a "suppressions" array']);
  }
  return validateAll(list, (item) => {
    if (!isObject(item)) {
      return 'not a JSON object';
    }
    return {
      address: item.address,
      reason: item.reason,
      status: item.status ?? undefined,
      origin: item.origin ?? undefined,
      note: item.note ?? undefined,
      createdAt: item.createdAt ?? undefined,
      count: item.count ?? undefined,
      last: item.last ?? undefined,
    };
  }, 1);
}

type Candidate = Record<string, unknown>;

function validateAll<T>(items: T[], convert: (item: T) => Candidate | string, firstRow: number): ImportRow[] {
  if (items.length > MAX_IMPORT_ROWS) {
    throw new ImportError([`the import has ${items.length} rows; at most ${MAX_IMPORT_ROWS} are accepted at once`]);
  }
  const rows: ImportRow[] = [];
  const errors: string[] = [];
  for (const [index, item] of items.entries()) {
    const converted = convert(item);
    const result = typeof converted === 'string' ? converted : validateRow(converted);
    if (typeof result === 'string') {
      errors.push(`row ${index + firstRow}: ${result}`);
    } else {
      rows.push(result);
    }
  }
  if (errors.length > 0) {
    throw new ImportError(errors);
  }
  return rows;
}

/** Checks one candidate row; returns the row, or a message naming the invalid field. */
function validateRow(row: Candidate): ImportRow | string {
  const { address, reason, status, origin, note, createdAt, count, last } = row;
  if (typeof address !== 'string' || address.length > MAX_ADDRESS_LENGTH || ADDRESS_FORBIDDEN.test(address)) {
    return 'address must be an address such as user@example.com';
  }
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) {
    return `address "${address.slice(0, 100)}" must have a local part, "@" and a domain`;
  }

  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_REASON_LENGTH || CONTROL.test(reason)) {
    return `reason must be a non-empty string of at most ${MAX_REASON_LENGTH} characters, e.g. "userunknown"`;
  }
  if (status !== undefined && status !== 'active' && status !== 'pending') {
    return 'status must be "active" or "pending"';
  }
  if (origin !== undefined && !ORIGINS.includes(origin as SuppressionOrigin)) {
    return `origin must be one of ${ORIGINS.join(', ')}`;
  }

  if (note !== undefined && note !== null && (typeof note !== 'string' || note.length > MAX_NOTE_LENGTH)) {
    return `note must be a string of at most ${MAX_NOTE_LENGTH} characters`;
  }
  if (createdAt !== undefined && (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)))) {
    return 'createdAt must be an ISO-8601 time such as 2026-01-31T08:00:00.000Z';
  }
  if (count !== undefined && (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1)) {
    return 'count must be a positive integer';
  }

  const failure = last === undefined ? undefined : validateFailure(last);
  if (typeof failure === 'string') {
    return failure;
  }

  return {
    address,
    reason: reason.trim(),
    status: status as ImportRow['status'],
    origin: origin as ImportRow['origin'],
    note: typeof note === 'string' && note !== '' ? note : null,
    createdAt: createdAt === undefined ? undefined : new Date(Date.parse(createdAt)).toISOString(),
    count: count as number | undefined,
    last: failure,
  };
}

function validateFailure(value: unknown): FailureRecord | string {
  if (!isObject(value)) {
    return 'last must be an object with time, code, enhancedCode and text';
  }
  const { time, code, enhancedCode, text, mx, remoteIp, queueId } = value;
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) {
    return 'last.time (lastTime) must be an ISO-8601 time';
  }
  if (code !== null && code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || code < 200 || code > 599)) {
    return 'last.code (lastCode) must be a reply code from 200 to 599, or empty';
  }
  if (typeof text !== 'string' || text.length > MAX_TEXT_LENGTH) {
    return `last.text (lastText) must be a string of at most ${MAX_TEXT_LENGTH} characters`;
  }
  return {
    time: new Date(Date.parse(time)).toISOString(),
    code: typeof code === 'number' ? code : null,
    enhancedCode: typeof enhancedCode === 'string' ? enhancedCode : '',
    text,
    mx: typeof mx === 'string' && mx !== '' ? mx : null,
    remoteIp: typeof remoteIp === 'string' && remoteIp !== '' ? remoteIp : null,
    queueId: typeof queueId === 'string' && queueId !== '' ? queueId : null,
  };
}

function csvField(value: string): string {
  // A cell starting with = + - @ or a control character is a formula to spreadsheet programs, and
  // reply texts come from remote servers: a leading apostrophe keeps such a cell text (OWASP CSV
  // injection advice).
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Splits CSV text into rows of cells (RFC 4180), accepting LF as well as CRLF line ends. */
function splitCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (char === '"') {
        quoted = false;
      } else {
        cell += char;
      }
      continue;
    }
    if (char === '"' && cell === '') {
      quoted = true;
    } else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') {
        i += 1;
      }
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else {
      cell += char;
    }
  }
  if (quoted) {
    throw new ImportError([`row ${rows.length + 1}: a quoted field is not closed`]);
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
