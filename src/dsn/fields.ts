/** One header-style field ("Name: value") with its continuation lines unfolded. */
export interface Field {
  /** Field name, lowercased. */
  name: string;
  value: string;
}

const FIELD_LINE = /^([!-9;-~]+)[ \t]*:[ \t]*(.*)$/;

/** Most lines of a returned header block that are read. */
const MAX_HEADER_LINES = 2000;

// Address and diagnostic types ("rfc822", "dns", "smtp", "x-unix"); some MTAs write "rfc/822".
const TYPE_NAME = /^[A-Za-z0-9/._+-]+$/;

/**
 * Splits text into groups of header-style fields separated by blank lines, as in a
 * message/delivery-status body (RFC 3464 §2.1). Continuation lines (starting with white space) are
 * joined to their field with one space (RFC 5322 §2.2.3); lines that are not fields are skipped.
 */
export function parseFieldGroups(text: string): Field[][] {
  const groups: Field[][] = [];
  let current: Field[] = [];

  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.trim() === '') {
      if (current.length > 0) {
        groups.push(current);
        current = [];
      }
      continue;
    }

    const last = current[current.length - 1];
    if (/^[ \t]/.test(line)) {
      if (last) {
        last.value = `${last.value} ${line.trim()}`.trim();
      }
      continue;
    }

    const match = FIELD_LINE.exec(line);
    if (match) {
      current.push({ name: (match[1] ?? '').toLowerCase(), value: (match[2] ?? '').trim() });
    }
  }

  if (current.length > 0) {
    groups.push(current);
  }
  return groups;
}

/**
 * Reads a block of header fields (the returned headers of an original message) up to the first blank
 * line after a field. Names are lowercased and the first occurrence of a name wins. Lines that are
 * neither fields nor indented continuations (separator lines before the block, continuations that lost
 * their indentation) are skipped, so damaged blocks still yield their fields. At most `maxFields`
 * fields and MAX_HEADER_LINES lines are read.
 */
export function parseHeaderBlock(text: string, maxFields: number): Record<string, string> {
  const headers: Record<string, string> = {};
  let lastName: string | null = null;
  let count = 0;

  const lines = text.replace(/\r\n?/g, '\n').split('\n', MAX_HEADER_LINES);
  for (const line of lines) {
    if (line.trim() === '') {
      if (count > 0) {
        break;
      }
      continue;
    }

    const match = /^[ \t]/.test(line) ? null : FIELD_LINE.exec(line);
    if (!match) {
      if (lastName !== null) {
        headers[lastName] = `${headers[lastName]} ${line.trim()}`.trim();
      }
      continue;
    }

    count++;
    if (count > maxFields) {
      break;
    }
    const name = (match[1] ?? '').toLowerCase();
    if (name in headers) {
      lastName = null;
      continue;
    }
    headers[name] = (match[2] ?? '').trim();
    lastName = name;
  }
  return headers;
}

/** Returns the value of the first field with a name, or null. */
export function fieldValue(fields: readonly Field[], name: string): string | null {
  return fields.find((field) => field.name === name)?.value ?? null;
}

/** Removes the type prefix of a typed DSN field ("rfc822; a@b", "dns; mx.example") and any angle brackets. */
export function stripTypePrefix(value: string): string {
  const semicolon = value.indexOf(';');
  const bare = semicolon >= 0 && TYPE_NAME.test(value.slice(0, semicolon).trim()) ? value.slice(semicolon + 1) : value;
  return bare.trim().replace(/^<(.*)>$/, '$1').trim();
}

/** Returns the type of a typed DSN field ("smtp" for "smtp; 550 ..."), lowercased, or null. */
export function typePrefix(value: string): string | null {
  const match = /^\s*([A-Za-z0-9/._+-]+)\s*;/.exec(value);
  return match ? (match[1] ?? '').toLowerCase() : null;
}
