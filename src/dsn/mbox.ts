/**
 * Splitting an mbox file into its messages. Bounces saved by mail clients and MTAs often arrive as
 * mbox: messages that each start with a "From " postmark line after an empty line.
 */

// "From sender date" postmark line: the date ends with a four-digit year (asctime format), optionally
// followed by a time zone.
const POSTMARK = /^From \S+ +.*\b\d{4}(?: [+-]\d{4})?\s*$/;

/**
 * Splits an mbox file into messages at postmark lines that follow an empty line. Input that does not
 * start with a postmark is returned as one message, so single messages pass through unchanged.
 */
export function splitMailbox(raw: Buffer): Buffer[] {
  const text = raw.toString('latin1');
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  if (!POSTMARK.test(firstLine)) {
    return [raw];
  }

  const starts: number[] = [0];
  const lineBreak = /\r?\n/g;
  let previousEmpty = false;
  let lineStart = 0;

  for (const match of text.matchAll(lineBreak)) {
    const line = text.slice(lineStart, match.index);
    if (lineStart > 0 && previousEmpty && POSTMARK.test(line)) {
      starts.push(lineStart);
    }
    previousEmpty = line === '';
    lineStart = (match.index ?? 0) + match[0].length;
  }

  // latin1 maps every byte to one character, so character offsets are byte offsets.
  return starts.map((start, index) => raw.subarray(start, starts[index + 1] ?? raw.length));
}
