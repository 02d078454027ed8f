/** Columns are separated by this many spaces. */
const COLUMN_GAP = 2;

/**
 * Formats rows as a table with a header line, columns padded to their widest cell. The last column
 * is not padded, so long reply texts do not push trailing spaces into every line.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(terminalSafe))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));

  const lines = cells.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd((widths[column] ?? 0) + COLUMN_GAP)))
      .join('')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Replaces control characters (C0, DEL, C1) with "?". Reply texts come from remote servers, and an
 * escape sequence in one must not reach the operator's terminal.
 */
export function terminalSafe(value: string): string {
  return value.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

/** Returns the first line of a multi-line text, marking how many lines were left out. */
export function firstLine(text: string): string {
  const lines = text.split('\n');
  const first = lines[0] ?? '';
  const more = lines.length - 1;
  if (more === 0) {
    return first;
  }
  return `${first} [+${more} more ${more === 1 ? 'line' : 'lines'}]`;
}

/** Formats a value that may be absent as "-". */
export function orDash(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}

/** Formats "key: value" lines with the keys aligned. */
export function formatFields(fields: Array<[string, string]>): string {
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width + 1)}${terminalSafe(value)}`).join('\n') + '\n';
}
