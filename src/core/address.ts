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
 * Converts a domain to its lowercase A-label (IDNA), so "Bücher.example" and "xn--bcher-kva.example"
 * compare equal. Returns the lowercased input when it is not a valid IDN.
 */
export function toAsciiDomain(domain: string): string {
  const trimmed = domain.trim().replace(/\.$/, '');
  if (trimmed.startsWith('[')) {
    return trimmed.toLowerCase();
  }
  const ascii = domainToASCII(trimmed);
  return (ascii || trimmed).toLowerCase();
}

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
