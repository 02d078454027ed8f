import type { Stage } from './types.js';

/**
 * One server reply or local failure in a single shape, so every outcome flows through one path.
 * Local failures (DNS, refused, timeout, TLS, dropped connection) have `local: true` and no code.
 */
export interface Reply {
  /** Basic reply code (RFC 5321 §4.2), or null for a local failure. */
  code: number | null;
  /** Enhanced status code "c.s.d" (RFC 3463), "" when the reply carries none. */
  enhancedCode: string;
  /** Every line of the reply in order, including the code prefixes, joined with "\n". */
  text: string;
  /** The command or step that drew the reply. */
  stage: Stage;
  /** True when we made this value up for a failure on our side (no server sent it). */
  local: boolean;
  /** For local failures only: whether retrying cannot help (null MX, no such domain). */
  localPermanent: boolean;
}

/**
 * Characters of a reply kept. Real replies are far shorter; the cap keeps a hostile server's
 * megabyte reply out of the event store and away from the classification patterns.
 */
export const MAX_REPLY_TEXT = 16 * 1024;

const REPLY_LINE = /^(\d{3})([ -]?)(.*)$/;
// RFC 3463 §2: class.subject.detail, subject and detail of at most 3 digits. Some servers put a "#"
// before it ("550 #5.1.0 Address rejected").
const ENHANCED = /^#?([245])\.(\d{1,3})\.(\d{1,3})(?=$|[\s:;,.)\]])/;

/**
 * Parses a raw reply (one or more CRLF or LF separated lines) per RFC 5321 §4.2.
 * The basic code comes from the first line. The enhanced code comes from the first line that carries
 * one, so a multi-line reply still yields it when only its continuation lines carry it. Lines that do not start with a code are kept as they are.
 */
export function parseReply(raw: string, stage: Stage): Reply {
  const bounded = raw.length > MAX_REPLY_TEXT ? `${raw.slice(0, MAX_REPLY_TEXT)}\n[${raw.length - MAX_REPLY_TEXT} more characters cut]` : raw;
  const lines = bounded.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n');
  let code: number | null = null;
  let enhancedCode = '';

  for (const line of lines) {
    const match = REPLY_LINE.exec(line);
    if (!match) {
      continue;
    }
    if (code === null) {
      code = Number(match[1]);
    }
    if (!enhancedCode) {
      enhancedCode = extractEnhancedCode((match[3] ?? '').trimStart());
    }
  }

  return { code, enhancedCode, text: lines.join('\n'), stage, local: false, localPermanent: false };
}

/** Returns the enhanced status code at the start of a reply text, or "" when there is none. */
export function extractEnhancedCode(text: string): string {
  const match = ENHANCED.exec(text);
  if (!match) {
    return '';
  }
  return `${match[1]}.${Number(match[2])}.${Number(match[3])}`;
}

/**
 * Builds the reply value for a failure on our side of the connection: DNS, refused, timeout, TLS,
 * dropped connection. The enhanced code is the RFC 3463 code a DSN would carry (for example 4.4.1 for
 * no answer from host, 5.1.10 for a null MX), so classification treats it like a server reply.
 */
export function localFailure(
  stage: Stage,
  text: string,
  options: { enhancedCode?: string; permanent?: boolean } = {},
): Reply {
  return {
    code: null,
    enhancedCode: options.enhancedCode ?? '',
    text,
    stage,
    local: true,
    localPermanent: options.permanent ?? false,
  };
}

/**
 * Whether a reply is permanent. For a server reply the basic code decides (5xx), whatever the enhanced
 * code or a platform label claims. A local failure is permanent only when it was built as such.
 */
export function isPermanent(reply: Reply): boolean {
  if (reply.local) {
    return reply.localPermanent;
  }
  return reply.code !== null && reply.code >= 500 && reply.code < 600;
}

/** Returns whether a reply reports success (2xx or 3xx). */
export function isPositive(reply: Reply): boolean {
  return reply.code !== null && reply.code < 400;
}
