import { NODATA, NOTFOUND, type MxRecord } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import { toAsciiDomain } from '../core/address.js';
import { BouncegateError } from '../core/errors.js';
import { localFailure, type Reply } from '../core/reply.js';

// c-ares makes this many tries per server, and the wait grows with each try, so each try gets a quarter
// of the lookup's time. A timer in `withDeadline` enforces the whole budget whatever c-ares does.
const DNS_TRIES = 2;
const MIN_TRY_TIMEOUT_MS = 50;

/** One address to try for a domain: the host it belongs to, its IP address, port and MX preference. */
export interface Destination {
  /** MX host name, the configured host of a route or smarthost, or the domain itself for an implicit MX. */
  mx: string;
  address: string;
  port: number;
  /** MX preference (RFC 5321 §5.1), lower first; 0 for an implicit MX, a route or a smarthost. */
  preference: number;
}

/** The destinations of a domain's mail in the order to try, or the failure that stops delivery. */
export type DestinationLookup = { ok: true; destinations: Destination[] } | { ok: false; reply: Reply };

/** The DNS queries delivery needs. Errors carry the `node:dns` codes (ENOTFOUND, ENODATA, ESERVFAIL, ...). */
export interface DnsResolver {
  resolveMx(name: string): Promise<MxRecord[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

/** The addresses of one host name, and the error code of a lookup that failed temporarily. */
export interface HostAddresses {
  addresses: string[];
  /** Code of the first A or AAAA lookup that failed for a reason other than "no such name or record". */
  transientError: string | null;
}

/**
 * Creates a resolver that sends every query to `servers` (entries "ip" or "ip:port", "[ipv6]:port"), or to
 * the system's name servers when the list is empty. Each query fails with ETIMEOUT after `timeoutMs`.
 * Never falls back to `dns.lookup`, so /etc/hosts plays no part.
 */
export function createResolver(servers: string[], timeoutMs: number): DnsResolver {
  const tryTimeoutMs = Math.max(MIN_TRY_TIMEOUT_MS, Math.floor(timeoutMs / 4));
  const resolver = new Resolver({ timeout: tryTimeoutMs, tries: DNS_TRIES });

  if (servers.length > 0) {
    try {
      resolver.setServers(servers);
    } catch (error) {
      throw new BouncegateError(
        'BOUNCEGATE_CONFIG_INVALID',
        `dns.servers is invalid (${JSON.stringify(servers)}): expected IP addresses such as "127.0.0.1:53" or "[::1]:53"`,
        { cause: error },
      );
    }
  }

  return {
    resolveMx: (name) => withDeadline(resolver.resolveMx(name), timeoutMs, 'MX', name),
    resolve4: (name) => withDeadline(resolver.resolve4(name), timeoutMs, 'A', name),
    resolve6: (name) => withDeadline(resolver.resolve6(name), timeoutMs, 'AAAA', name),
  };
}

/**
 * Looks up where mail for `domain` goes, per RFC 5321 §5.1: the MX hosts by preference (random order within
 * one preference), each expanded to its A then AAAA addresses. A domain without MX records is its own
 * implicit MX of preference 0. Failures are values: a null MX (RFC 7505) or a domain that does not exist
 * are permanent, and a DNS error that may clear up is transient.
 */
export async function lookupMx(domain: string, port: number, resolver: DnsResolver): Promise<DestinationLookup> {
  const name = toAsciiDomain(domain);
  if (name.startsWith('[')) {
    return addressLiteral(name, port);
  }
  if (!name) {
    return { ok: false, reply: dnsFailure(`recipient domain "${domain}" is empty`, '5.1.2', true) };
  }

  let records: MxRecord[];
  try {
    records = await resolver.resolveMx(name);
  } catch (error) {
    const code = errorCode(error);
    if (code === NODATA) {
      return implicitMx(name, port, resolver);
    }
    if (code === NOTFOUND) {
      return { ok: false, reply: dnsFailure(`domain ${name} does not exist (NXDOMAIN)`, '5.1.2', true) };
    }
    return { ok: false, reply: dnsFailure(`MX lookup for ${name} failed: ${code} (temporary DNS failure)`, '4.4.3') };
  }
  if (records.length === 0) {
    return implicitMx(name, port, resolver);
  }

  // RFC 7505: a null MX is the only MX of its domain. Should a domain publish others beside it, the
  // null entry alone is ignored, because those hosts still claim to accept mail.
  const hosts = records.filter((record) => !isNullMx(record));
  if (hosts.length === 0) {
    return { ok: false, reply: dnsFailure(`null MX (RFC 7505): ${name} does not accept mail`, '5.1.10', true) };
  }

  const ordered = orderByPreference(hosts);
  const resolved = await Promise.all(ordered.map((record) => resolveHostAddresses(record.exchange, resolver)));

  const destinations: Destination[] = [];
  ordered.forEach((record, i) => {
    for (const address of resolved[i]?.addresses ?? []) {
      destinations.push({ mx: record.exchange.toLowerCase(), address, port, preference: record.priority });
    }
  });
  if (destinations.length > 0) {
    return { ok: true, destinations: unique(destinations) };
  }

  const names = ordered.map((record) => record.exchange).join(', ');
  const transient = resolved.find((host) => host.transientError !== null);
  if (transient) {
    const text = `no MX host of ${name} could be resolved (${names}): ${transient.transientError} (temporary DNS failure)`;
    return { ok: false, reply: dnsFailure(text, '4.4.3') };
  }
  return { ok: false, reply: dnsFailure(`no MX host of ${name} has an A or AAAA record (${names})`, '5.4.4', true) };
}

/**
 * Resolves a host name to its IPv4 then IPv6 addresses with the given resolver. A name that does not exist
 * or has no record of a family yields no address for it; other errors are reported in `transientError`.
 */
export async function resolveHostAddresses(host: string, resolver: DnsResolver): Promise<HostAddresses> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses: string[] = [];
  let transientError: string | null = null;

  // IPv4 first: a relay often has no IPv6 route, or no reverse DNS and SPF set up for its IPv6 source.
  for (const result of [v4, v6]) {
    if (result.status === 'fulfilled') {
      addresses.push(...result.value);
      continue;
    }
    const code = errorCode(result.reason);
    if (code !== NODATA && code !== NOTFOUND && transientError === null) {
      transientError = code;
    }
  }
  return { addresses, transientError };
}

/** Returns the code of a `node:dns` error ("ESERVFAIL", "ETIMEOUT", ...), or "EUNKNOWN" for anything else. */
export function errorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return 'EUNKNOWN';
}

async function implicitMx(name: string, port: number, resolver: DnsResolver): Promise<DestinationLookup> {
  const host = await resolveHostAddresses(name, resolver);
  if (host.addresses.length > 0) {
    const destinations = host.addresses.map((address) => ({ mx: name, address, port, preference: 0 }));
    return { ok: true, destinations };
  }
  if (host.transientError !== null) {
    const text = `address lookup for ${name} (no MX records) failed: ${host.transientError} (temporary DNS failure)`;
    return { ok: false, reply: dnsFailure(text, '4.4.3') };
  }
  return { ok: false, reply: dnsFailure(`${name} has no MX record and no A or AAAA record`, '5.4.4', true) };
}

// RFC 5321 §4.1.3: "[192.0.2.1]" or "[IPv6:2001:db8::1]" names the host itself.
function addressLiteral(literal: string, port: number): DestinationLookup {
  const inner = literal.slice(1, -1);
  const address = inner.startsWith('ipv6:') ? inner.slice('ipv6:'.length) : inner;
  const valid = inner.startsWith('ipv6:') ? isIPv6(address) : isIP(address) === 4;
  if (!literal.endsWith(']') || !valid) {
    return { ok: false, reply: dnsFailure(`address literal ${literal} is not a valid IP address`, '5.1.2', true) };
  }
  return { ok: true, destinations: [{ mx: literal, address, port, preference: 0 }] };
}

function isNullMx(record: MxRecord): boolean {
  return record.exchange === '' || record.exchange === '.';
}

// RFC 5321 §5.1: hosts of equal preference are tried in random order, which spreads the load among them.
function orderByPreference(records: MxRecord[]): MxRecord[] {
  const shuffled = records.map((record) => ({ record, key: Math.random() }));
  shuffled.sort((a, b) => a.record.priority - b.record.priority || a.key - b.key);
  return shuffled.map((entry) => entry.record);
}

// Two MX names may point at one address; a second connection to it would fail the same way.
function unique(destinations: Destination[]): Destination[] {
  const seen = new Set<string>();
  return destinations.filter((destination) => {
    const key = `${destination.address}|${destination.port}`;
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
}

function dnsFailure(text: string, enhancedCode: string, permanent = false): Reply {
  return localFailure('dns', text, { enhancedCode, permanent });
}

function withDeadline<T>(query: Promise<T>, timeoutMs: number, type: string, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`DNS ${type} query for ${name} timed out after ${timeoutMs} ms`);
      reject(Object.assign(error, { code: 'ETIMEOUT' }));
    }, timeoutMs);
  });
  return Promise.race([query, deadline]).finally(() => clearTimeout(timer));
}
