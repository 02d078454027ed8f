import { domainToASCII } from 'node:url';
import type { NormalizedAddress } from './types.js';

/** Options for address normalisation. */
export interface NormalizeOptions {
  /** Compare local parts case-sensitively (RFC 5321 §2.4 allows it; almost no receiver does it). */
  caseSensitiveLocalPart: boolean;
}

/** Splits an address at its last "@"; an address without one has an empty domain. */
export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  if (at < 0) {
    return { local: address, domain: '' };
  }
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * Tells whether two addresses have the same domain part as splitAddress finds it, without splitting
 * them. It compares raw text, so "a@X.example" and "b@x.example" differ, though domainOf maps both
 * to one domain.
 */
export function sameDomainPart(left: string, right: string): boolean {
  const leftStart = domainStart(left);
  const rightStart = domainStart(right);
  const length = left.length - leftStart;
  if (length !== right.length - rightStart) {
    return false;
  }
  for (let offset = 0; offset < length; offset += 1) {
    if (left.charCodeAt(leftStart + offset) !== right.charCodeAt(rightStart + offset)) {
      return false;
    }
  }
  return true;
}

/** Returns where the domain part of an address starts: after its last "@", or at its end when it has none. */
function domainStart(address: string): number {
  const at = address.lastIndexOf('@');
  return at < 0 ? address.length : at + 1;
}

/**
 * Converts a domain to its lowercase A-label (IDNA), so "Bücher.example" and "xn--bcher-kva.example"
 * compare equal. Returns the lowercased input when it is not a valid IDN.
 */
export function toAsciiDomain(domain: string): string {
  const known = asciiDomains.get(domain);
  if (known !== undefined) {
    return known;
  }
  const trimmed = domain.trim().replace(/\.$/, '');
  let result: string;
  if (trimmed.startsWith('[')) {
    result = trimmed.toLowerCase();
  } else {
    result = (domainToASCII(trimmed) || trimmed).toLowerCase();
  }
  // Mail goes to few domains, and every recipient is normalised several times on its way.
  if (asciiDomains.size >= ASCII_DOMAIN_CACHE_SIZE) {
    asciiDomains.clear();
  }
  asciiDomains.set(domain, result);
  return result;
}

/** Domains converted recently, as given, with their A-label form. */
const asciiDomains = new Map<string, string>();
const ASCII_DOMAIN_CACHE_SIZE = 10_000;

/** Normalises an envelope address for suppression keys and event indexes. */
export function normalizeAddress(address: string, options: NormalizeOptions): NormalizedAddress {
  const { local, domain } = splitAddress(address.trim());
  const normalizedLocal = options.caseSensitiveLocalPart ? local : local.toLowerCase();
  if (!domain) {
    return normalizedLocal as NormalizedAddress;
  }
  return `${normalizedLocal}@${toAsciiDomain(domain)}` as NormalizedAddress;
}

/** Returns the A-label domain of an address, "" when it has none. */
export function domainOf(address: string): string {
  const { domain } = splitAddress(address);
  return domain ? toAsciiDomain(domain) : '';
}
