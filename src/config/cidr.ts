import { BlockList, isIP } from 'node:net';

/** Returns a problem description for the first invalid CIDR in a list, or null when all are valid. */
export function checkCidrList(entries: readonly string[]): string | null {
  for (const entry of entries) {
    if (!parseCidr(entry)) {
      return `${JSON.stringify(entry)} is not an IPv4 or IPv6 address or CIDR block (e.g. "10.0.0.0/8", "::1/128")`;
    }
  }
  return null;
}

/** Client addresses whose match result a matcher caches; the cache is emptied when it is full. */
const MATCHER_CACHE_SIZE = 4096;

/** Builds a matcher for client addresses from CIDR blocks; IPv4-mapped IPv6 addresses match IPv4 blocks. */
export function createAddressMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const cidr = parseCidr(entry);
    if (cidr) {
      list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }
  // BlockList.check builds a SocketAddress per call, and the listener checks the client once per
  // RCPT TO, so results for recent addresses are cached.
  const results = new Map<string, boolean>();
  return (address: string) => {
    const known = results.get(address);
    if (known !== undefined) {
      return known;
    }
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(plain);
    const matches = family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
    if (results.size >= MATCHER_CACHE_SIZE) {
      results.clear();
    }
    results.set(address, matches);
    return matches;
  };
}

function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText] = entry.split('/');
  const version = isIP(address);
  if (version === 0) {
    return null;
  }
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) {
    return null;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}
