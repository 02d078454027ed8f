/** Longest normalised text kept, in characters; longer texts are cut so rollup keys stay small. */
export const MAX_NORMALIZED_LENGTH = 300;
/** Characters of a reply read for normalisation; well past what survives the cut to MAX_NORMALIZED_LENGTH. */
const MAX_NORMALIZED_INPUT = 2000;

// A reply line: the basic code, "-" or " ", and an optional enhanced code (RFC 5321 §4.2, RFC 3463).
const REPLY_PREFIX = /^(\d{3})(?:[ -]|$)\s*(#?[245]\.\d{1,3}\.\d{1,3}(?=\s|$))?\s*/;
const URL = /\bhttps?:\/\/[^\s<>"'\])]+/gi;
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT))?)?\b/g;
// RFC 5322 §3.3 date-time, e.g. "Tue, 07 May 2024 10:11:12 +0000", and bare clock times such as 10:11:12.
const RFC5322_TIME =
  /\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\s+\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:[+-]\d{4}|UTC|GMT|[A-Z]{3}))?/g;
const CLOCK_TIME = /\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b/g;
const EMAIL = /[^\s<>[\]()"',;:]+@[^\s<>[\]()"',;:]+/g;
const IPV6 = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])/g;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g;
const HOST_NAME = /\b(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b/g;
// A token of 8 or more letters and digits with at least one of each: queue ids, session ids, hex tokens.
const MIXED_ID = /\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{8,}\b/g;
const LONG_NUMBER = /\b\d{6,}\b/g;
const BRACKETED = /\[[^\]]*\]|\([^)]*\)/g;
const NUMBER = /\b\d+(?:\.\d+)*\b/g;
const STATUS_CODE = /^[245]\.\d{1,3}\.\d{1,3}$/;
// An id followed by more id parts, e.g. Gmail's "<id>-<id>.45": one placeholder for the whole token.
const ID_RUN = /<id>(?:[-.](?:<id>|\d+))+/g;

/**
 * Normalises a reply text so that the same rejection sent to different recipients, from different
 * front-end hosts or at different times yields the same string. It keeps the first basic and
 * enhanced code, drops the code prefixes of continuation lines and joins the lines. It replaces
 * addresses, IPs, host names, timestamps, ids and hex tokens with placeholders such as `<address>`,
 * and numbers inside brackets or parentheses with `<n>`. URLs keep their host and path.
 */
export function normalizeReplyText(text: string): string {
  // Some of the patterns below are quadratic on long tokens without spaces, and a remote server
  // chooses the reply text. The result is cut to MAX_NORMALIZED_LENGTH anyway.
  const joined = joinLines(text.slice(0, MAX_NORMALIZED_INPUT));

  // Times, addresses and IPs vary inside URLs too (a blocklist lookup link names our IP), so they go
  // first. URLs are then set aside, so the host and id rules below keep their constant paths intact.
  let result = joined
    .replace(ISO_TIME, '<time>')
    .replace(RFC5322_TIME, '<time>')
    .replace(CLOCK_TIME, '<time>')
    .replace(EMAIL, '<address>')
    .replace(IPV4, '<ip>')
    .replace(IPV6, (match) => (isIpv6(match) ? '<ip>' : match));

  const urls: string[] = [];
  result = result.replace(URL, (url) => {
    urls.push(url);
    return `\u0001${urls.length - 1}\u0001`;
  });

  result = result
    .replace(HOST_NAME, '<host>')
    .replace(MIXED_ID, '<id>')
    .replace(LONG_NUMBER, '<n>')
    .replace(ID_RUN, '<id>')
    .replace(BRACKETED, (group) => group.replace(NUMBER, (number) => (STATUS_CODE.test(number) ? number : '<n>')));

  result = result.replace(/\u0001(\d+)\u0001/g, (_, index: string) => urls[Number(index)] ?? '');
  result = result.replace(/\s+/g, ' ').trim();
  return result.length > MAX_NORMALIZED_LENGTH ? result.slice(0, MAX_NORMALIZED_LENGTH) : result;
}

/** Joins reply lines with spaces, keeping the codes of the first line only. */
function joinLines(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n').filter((line) => line.trim() !== '');
  const parts: string[] = [];
  for (const [index, line] of lines.entries()) {
    const match = REPLY_PREFIX.exec(line);
    if (!match) {
      parts.push(line.trim());
      continue;
    }
    const rest = line.slice(match[0].length).trim();
    if (index === 0) {
      parts.push([match[1], match[2], rest].filter((part) => part !== undefined && part !== '').join(' '));
    } else if (rest !== '') {
      parts.push(rest);
    }
  }
  return parts.join(' ');
}

/** Checks whether a candidate is an IPv6 address rather than a run of colons in prose. */
function isIpv6(candidate: string): boolean {
  const groups = candidate.split(':');
  return candidate.includes('::') || groups.length >= 4;
}
