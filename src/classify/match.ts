import type { Reply } from '../core/reply.js';
import type { Stage } from '../core/types.js';

/** A basic reply code pattern: "550", "55x" or "5xx" (RFC 5321 §4.2 three-digit codes). */
export const CODE_PATTERN = /^[2-5][0-9x][0-9x]$/;

/**
 * An enhanced status code pattern (RFC 3463 class.subject.detail). The class may be "x" for any class.
 * A pattern of fewer than three parts matches as a prefix on part boundaries, so "5.1" matches 5.1.10
 * and "5.1.1" does not. The detail may be a range such as "606-649".
 */
export const ENHANCED_CODE_PATTERN = /^[245x](\.\d{1,3}(\.\d{1,3}(-\d{1,3})?)?)?$/;

/** The conditions of one rule, compiled. A missing condition (null) matches every reply. */
export interface RuleConditions {
  codes: readonly string[] | null;
  enhancedCodes: readonly string[] | null;
  text: RegExp | null;
  mx: readonly string[] | null;
  stages: readonly Stage[] | null;
  local: boolean | null;
  /** Exceptions: the rule does not match when every condition of any one of these holds. */
  unless: readonly RuleConditions[];
}

/** Why a rule matched: one phrase per condition, or null when some condition failed. */
export type MatchResult = string[] | null;

/**
 * Tests every condition of a rule against a reply and returns the phrases that explain the match, or
 * null at the first condition that fails.
 */
export function matchConditions(conditions: RuleConditions, reply: Reply, mx: string | null, flatText: string): MatchResult {
  const reasons: string[] = [];

  if (conditions.local !== null) {
    if (reply.local !== conditions.local) {
      return null;
    }
    reasons.push(reply.local ? 'the failure is local (no server reply)' : 'a server sent the reply');
  }

  if (conditions.codes) {
    const code = reply.code;
    const hit = code === null ? undefined : conditions.codes.find((pattern) => codeMatches(pattern, code));
    if (hit === undefined || code === null) {
      return null;
    }
    reasons.push(`code ${code} matches ${hit}`);
  }

  if (conditions.enhancedCodes) {
    const hit = conditions.enhancedCodes.find((pattern) => enhancedCodeMatches(pattern, reply.enhancedCode));
    if (hit === undefined) {
      return null;
    }
    reasons.push(`enhanced code ${reply.enhancedCode} matches ${hit}`);
  }

  if (conditions.stages) {
    if (!conditions.stages.includes(reply.stage)) {
      return null;
    }
    reasons.push(`stage ${reply.stage} is one of ${conditions.stages.join(', ')}`);
  }

  if (conditions.mx) {
    const host = mx === null ? null : normalizeHost(mx);
    const hit = host === null ? undefined : conditions.mx.find((glob) => globMatches(glob, host));
    if (hit === undefined || host === null) {
      return null;
    }
    reasons.push(`MX ${host} matches ${hit}`);
  }

  if (conditions.text) {
    const found = conditions.text.exec(flatText);
    if (!found) {
      return null;
    }
    reasons.push(`text matches /${conditions.text.source}/i at "${found[0]}"`);
  }

  for (const exception of conditions.unless) {
    if (matchConditions(exception, reply, mx, flatText) !== null) {
      return null;
    }
  }
  if (conditions.unless.length > 0) {
    reasons.push(`none of its ${conditions.unless.length} exceptions holds`);
  }

  return reasons;
}

/** Checks whether a basic code matches a pattern such as "550", "55x" or "5xx". */
export function codeMatches(pattern: string, code: number): boolean {
  const digits = String(code);
  if (digits.length !== 3) {
    return false;
  }
  for (let i = 0; i < 3; i++) {
    const expected = pattern[i];
    if (expected !== 'x' && expected !== digits[i]) {
      return false;
    }
  }
  return true;
}

/** Checks whether an enhanced code ("5.1.10") matches a pattern ("5.1", "x.1.1", "5.7.606-649"). */
export function enhancedCodeMatches(pattern: string, enhancedCode: string): boolean {
  if (!enhancedCode) {
    return false;
  }
  const actual = enhancedCode.split('.');
  const patternParts = pattern.split('.');

  for (let i = 0; i < patternParts.length; i++) {
    const part = patternParts[i] ?? '';
    const value = actual[i];
    if (value === undefined) {
      return false;
    }
    if (part === 'x') {
      continue;
    }
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const number = Number(value);
      if (number < Number(range[1]) || number > Number(range[2])) {
        return false;
      }
      continue;
    }
    if (Number(part) !== Number(value)) {
      return false;
    }
  }
  return true;
}

/**
 * Checks whether a host name matches a glob, ignoring case. "*" is any run of characters, dots
 * included, so "*.google.com" matches "gmail-smtp-in.l.google.com" but not "google.com".
 */
export function globMatches(glob: string, host: string): boolean {
  const source = glob
    .toLowerCase()
    .split('*')
    .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(host);
}

/**
 * Returns the reply text as one line for text rules. The code and enhanced code that start each line
 * of a multi-line reply are removed, and whitespace runs become one space. A phrase that a server
 * wrapped across "550-5.1.1 ..." lines then still matches.
 */
export function flattenReplyText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.replace(/^\s*\d{3}(?:[ -]|$)\s*(?:#?[245]\.\d{1,3}\.\d{1,3}(?=\s|$))?/, ''))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
}
