import { invalidParameter } from './errors.js';

/** Maximum length of a free-text query parameter, in characters. */
const MAX_PARAMETER_LENGTH = 1024;

/**
 * Maximum length of an address: 64 characters of local part, "@" and 255 of domain (RFC 3696 §3).
 * The path limit of RFC 5321 §4.5.3.1.3 is shorter; the looser bound only caps input size.
 */
export const MAX_ADDRESS_LENGTH = 320;

// ISO-8601 date or date-time in the forms Date.parse handles the same way on every platform.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const MILLISECONDS = /^\d{1,15}$/;
// C0 and C1 control characters and whitespace, none of which belong in an envelope address.
const ADDRESS_FORBIDDEN = /[\s\x00-\x1f\x7f-\x9f<>]/;

/**
 * Rejects query parameters that the route does not know, and repeated ones, so a typo such as
 * `?recipent=` fails loudly instead of silently matching everything.
 */
export function checkParameterNames(query: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (!allowed.includes(name)) {
      throw invalidParameter(name, `unknown query parameter "${printable(name)}"; allowed: ${allowed.join(', ')}`);
    }
    if (seen.has(name)) {
      throw invalidParameter(name, `query parameter "${printable(name)}" is given more than once; give it once`);
    }
    seen.add(name);
  }
}

/** Returns a non-empty string parameter, or undefined when it is absent or empty. */
export function stringParameter(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name)?.trim();
  if (!value) {
    return undefined;
  }
  if (value.length > MAX_PARAMETER_LENGTH) {
    throw invalidParameter(name, `${name} is longer than ${MAX_PARAMETER_LENGTH} characters`);
  }
  return value;
}

/** Returns a string parameter that must match a pattern; `expected` describes the allowed form. */
export function patternParameter(query: URLSearchParams, name: string, pattern: RegExp, expected: string): string | undefined {
  const value = stringParameter(query, name);
  if (value !== undefined && !pattern.test(value)) {
    throw invalidParameter(name, `invalid ${name} "${printable(value)}": expected ${expected}`);
  }
  return value;
}

/** Returns an integer parameter within [min, max], or undefined when it is absent. */
export function integerParameter(query: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const value = stringParameter(query, name);
  if (value === undefined) {
    return undefined;
  }
  const number = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw invalidParameter(name, `invalid ${name} "${printable(value)}": expected an integer from ${min} to ${max}`);
  }
  return number;
}

/** Returns the page size: `limit` when given (1..max), else the default. */
export function limitParameter(query: URLSearchParams, defaultLimit: number, maxLimit: number): number {
  return integerParameter(query, 'limit', 1, maxLimit) ?? defaultLimit;
}

/** Returns a parameter that must be one of a fixed set of values. */
export function enumParameter<T extends string>(query: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const value = stringParameter(query, name);
  if (value === undefined) {
    return undefined;
  }
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) {
    throw invalidParameter(name, `invalid ${name} "${printable(value)}": expected one of ${allowed.join(', ')}`);
  }
  return match;
}

/**
 * Returns a time parameter as ms since the epoch. Accepts ms since the epoch or ISO-8601
 * (`2026-01-31`, `2026-01-31T08:00:00Z`, `2026-01-31T10:00:00+02:00`); a date-time without an offset is UTC.
 */
export function timeParameter(query: URLSearchParams, name: string): number | undefined {
  const value = stringParameter(query, name);
  if (value === undefined) {
    return undefined;
  }
  if (MILLISECONDS.test(value)) {
    return Number(value);
  }

  const match = ISO_TIME.exec(value);
  // Date.parse reads a date-time without an offset as local time; the server's zone must not matter.
  const normalized = match && value.includes('T') && match[1] === undefined ? `${value}Z` : value;
  const millis = match ? Date.parse(normalized) : Number.NaN;
  if (Number.isNaN(millis)) {
    throw invalidParameter(
      name,
      `invalid ${name} "${printable(value)}": expected ms since the epoch or an ISO-8601 time such as 2026-01-31T08:00:00Z`,
    );
  }
  return millis;
}

/**
 * Checks that an address from the path or a query is a plausible envelope address: a local part,
 * "@" and a domain, no whitespace or control characters, at most MAX_ADDRESS_LENGTH characters.
 */
export function validateAddress(field: string, address: string): string {
  const at = address.lastIndexOf('@');
  if (address.length > MAX_ADDRESS_LENGTH) {
    throw invalidParameter(field, `${field} is longer than ${MAX_ADDRESS_LENGTH} characters`);
  }
  if (ADDRESS_FORBIDDEN.test(address) || at <= 0 || at === address.length - 1) {
    throw invalidParameter(
      field,
      `invalid ${field} "${printable(address)}": expected an address such as user@example.com, without spaces or angle brackets`,
    );
  }
  return address;
}

/** Replaces control characters so a value can be echoed in a message without breaking a terminal or log. */
export function printable(value: string): string {
  return value.replace(/[\x00-\x1f\x7f-\x9f]/g, '?').slice(0, 200);
}
