/**
 * Reading bounces that carry no machine-readable report: qmail, Exim, older Exchange, Yahoo, Gmail,
 * Domino and the many MTAs that only write a notice for people. The notice is the text before the
 * copy of the original message. Its recipients are the addresses in it that are not the sender's, and
 * the text around each address explains that recipient's failure.
 */

// Address pattern for notices: a dot-atom-like local part and a domain with at least one dot. The
// lookbehind lets a match start only where a run of local-part characters starts, so a long run
// without "@" costs one attempt, not one per character.
const ADDRESS = /(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![A-Za-z0-9-])/g;

// Lines that start the returned copy of the original message (or its headers) in plain-text bounces.
const ORIGINAL_MESSAGE_MARKERS: readonly RegExp[] = [
  /^\s*-{2,}\s*(?:below this line is a copy of the message|this is a copy of the message|original message|the header of the original message|unsent message follows|returned message|undelivered message|original mail)/i,
  /^\s*-{3,}\s*original message\s*-{3,}/i,
  /^\s*(?:message headers follow|original message follows|original message headers|original message|included is a copy of the message header|original mail as follows|the original message headers follow|headers of the original message)\s*:?\.?\s*$/i,
  /^\s*-{2,}\s*original message follows/i,
  /^\s*-+\s*original mail info/i,
];

// Text written just before an address that is not a failed recipient: the sender, a list the address
// expanded from, or a header of the original message quoted in the notice.
const NOT_A_RECIPIENT_PREFIX =
  /(?:message-id:\s*<?|in-reply-to:\s*<?|references:\s*(?:<[^>]*>\s*)*<?|mail from:?\s*<?|\bfrom:\s*(?:"[^"]*"\s*)?<?|\bfrom\s+<|\bsender:?\s*<?|reply-to:\s*<?|return-path:\s*<?|envelope-from\s*<?|generated from\s*<?|expanded from\s*<?|original sender:\s*<?|\bfrom=<?|forwarded to\s*<?|hello\s+)$/i;

// Local parts of the addresses that send bounces, which are never the failed recipient.
const DAEMON_LOCAL_PART = /^(?:mailer-daemon|mailerdaemon|mail-daemon|postmaster|post_master)$/i;

/** Maximum characters of one recipient's explanation. */
const MAX_DIAGNOSTIC_CHARS = 2000;

/** Maximum number of recipients read from one notice. */
const MAX_NOTICE_RECIPIENTS = 500;

/** Characters before an address that are checked for a sender label ("MAIL FROM:<", "From: "). */
const PREFIX_WINDOW = 80;

/** A recipient found in a notice, with candidate explanations in the order they should be tried. */
export interface NoticeRecipient {
  recipient: string;
  candidates: string[];
}

/**
 * Splits a plain-text bounce into the notice and the returned original message (or its headers). The
 * split is at a marker line such as "--- Below this line is a copy of the message.", or else at the
 * first block of header fields that names at least three message headers (From, To, Subject, ...).
 */
export function splitNotice(text: string): { notice: string; returned: string | null } {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (ORIGINAL_MESSAGE_MARKERS.some((marker) => marker.test(line))) {
      return { notice: lines.slice(0, i).join('\n'), returned: lines.slice(i + 1).join('\n') };
    }
  }

  const blockStart = firstHeaderBlock(lines);
  if (blockStart !== null) {
    return { notice: lines.slice(0, blockStart).join('\n'), returned: lines.slice(blockStart).join('\n') };
  }
  return { notice: lines.join('\n'), returned: null };
}

/**
 * Finds the failed recipients of a notice. When `failedRecipients` (from X-Failed-Recipients, or the
 * recipients of a report) is given, only those count. Otherwise every address in the notice counts
 * unless it is in `excluded` or written as a sender. Recipients come in order of first appearance and
 * are compared without case.
 */
export function findNoticeRecipients(notice: string, failedRecipients: readonly string[], excluded: ReadonlySet<string>): NoticeRecipient[] {
  const written = addressOccurrences(notice).filter((occurrence) => {
    const lower = occurrence.address.toLowerCase();
    if (DAEMON_LOCAL_PART.test(lower.slice(0, lower.lastIndexOf('@')))) {
      return false;
    }
    const lineStart = notice.lastIndexOf('\n', occurrence.start - 1) + 1;
    const windowStart = Math.max(lineStart, occurrence.start - PREFIX_WINDOW);
    return !NOT_A_RECIPIENT_PREFIX.test(notice.slice(windowStart, occurrence.start));
  });

  // The sender's own addresses are left out, unless the notice names no other address: a bounce can go
  // back to the failed recipient itself, as when a host bounces mail between its own users.
  let occurrences = written;
  if (failedRecipients.length === 0) {
    const others = written.filter((occurrence) => !excluded.has(occurrence.address.toLowerCase()));
    occurrences = others.length > 0 ? others : written;
  }

  const listed = new Set(failedRecipients.map((address) => address.toLowerCase()));
  const order: string[] = [];
  const display = new Map<string, string>();
  const firstIndex = new Map<string, number>();

  if (listed.size > 0) {
    for (const address of failedRecipients) {
      const lower = address.toLowerCase();
      if (!display.has(lower)) {
        order.push(lower);
        display.set(lower, address);
      }
    }
  }

  occurrences.forEach((occurrence, index) => {
    const lower = occurrence.address.toLowerCase();
    if (listed.size > 0 && !listed.has(lower)) {
      return;
    }
    if (!firstIndex.has(lower)) {
      firstIndex.set(lower, index);
    }
    if (!display.has(lower)) {
      order.push(lower);
      display.set(lower, occurrence.address);
    }
  });

  // Starts of the first occurrence of each recipient, to bound the text that belongs to each.
  const starts = order
    .map((lower) => firstIndex.get(lower))
    .filter((index): index is number => index !== undefined)
    .map((index) => occurrences[index]?.start ?? 0)
    .sort((a, b) => a - b);

  const wholeNotice = clean(notice);
  return order.slice(0, MAX_NOTICE_RECIPIENTS).map((lower) => {
    const index = firstIndex.get(lower);
    const occurrence = index === undefined ? undefined : occurrences[index];
    const around = occurrence === undefined ? [] : candidatesAround(notice, occurrence, starts).map(clean);
    return { recipient: display.get(lower) ?? lower, candidates: [...around, wholeNotice].filter((text) => text !== '') };
  });
}

/** Returns every address written in a text, in order. */
export function addressOccurrences(text: string): { address: string; start: number; end: number }[] {
  const found: { address: string; start: number; end: number }[] = [];
  for (const match of text.matchAll(ADDRESS)) {
    const start = match.index ?? 0;
    const address = match[0].replace(/^[.'`]+|[.'`]+$/g, '');
    found.push({ address, start, end: start + match[0].length });
  }
  return found;
}

/**
 * Collapses white space and trims the text an explanation was taken from, and bounds its length.
 */
export function clean(text: string): string {
  // Collapsing can shorten the text, so twice the limit is kept before it.
  const flat = text.slice(0, MAX_DIAGNOSTIC_CHARS * 2).replace(/\s+/g, ' ').trim().replace(/^[\s:;,.)>\]-]+/, '').trim();
  return flat.length > MAX_DIAGNOSTIC_CHARS ? `${flat.slice(0, MAX_DIAGNOSTIC_CHARS)}...` : flat;
}

// Header fields that a copy of the original message starts with; a run of lines naming three of them
// is taken for the returned headers.
const MESSAGE_HEADER_LINE = /^(?:from|to|cc|subject|date|message-id|received|return-path|mime-version|content-type|reply-to):/i;
const ANY_HEADER_LINE = /^[!-9;-~]+:/;

function firstHeaderBlock(lines: readonly string[]): number | null {
  for (let i = 0; i < lines.length; i++) {
    if (!MESSAGE_HEADER_LINE.test(lines[i] ?? '')) {
      continue;
    }

    const named = new Set<string>();
    for (let j = i; j < lines.length && j < i + 40; j++) {
      const line = lines[j] ?? '';
      if (line.trim() === '') {
        break;
      }
      if (/^[ \t]/.test(line)) {
        continue;
      }
      if (!ANY_HEADER_LINE.test(line)) {
        break;
      }
      if (MESSAGE_HEADER_LINE.test(line)) {
        named.add(line.slice(0, line.indexOf(':')).toLowerCase());
      }
    }
    if (named.size >= 3) {
      return i;
    }
  }
  return null;
}

/**
 * Returns the texts around one recipient that may explain it, most specific first: the rest of its
 * line, the text up to the next recipient, and the lines just before it.
 */
function candidatesAround(notice: string, occurrence: { start: number; end: number }, starts: readonly number[]): string[] {
  const lineEnd = notice.indexOf('\n', occurrence.end);
  const restOfLine = notice.slice(occurrence.end, lineEnd < 0 ? notice.length : lineEnd);

  const next = starts.find((start) => start > occurrence.start);
  const following = notice.slice(occurrence.end, next ?? notice.length);

  const previous = [...starts].reverse().find((start) => start < occurrence.start);
  const lineStart = notice.lastIndexOf('\n', occurrence.start - 1) + 1;
  const before = notice.slice(previous === undefined ? 0 : notice.indexOf('\n', previous) + 1, lineStart);
  const beforeLines = before.split('\n').filter((line) => line.trim() !== '');
  const sameLineBefore = notice.slice(lineStart, occurrence.start);
  const preceding = [...beforeLines.slice(-4), sameLineBefore].join('\n');

  return [restOfLine, following, preceding];
}
