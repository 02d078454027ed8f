import { isIP } from 'node:net';
import { toAsciiDomain } from '../core/address.js';
import { BouncegateError } from '../core/errors.js';
import { localFailure } from '../core/reply.js';
import type { Config } from '../config/schema.js';
import { lookupMx, resolveHostAddresses, type DestinationLookup, type DnsResolver } from './resolve.js';

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/;
const MAX_PORT = 65535;

/**
 * Decides where mail for `domain` goes: the route in `relay.routes` for that domain (keys compared as
 * lowercase A-labels), else `relay.smarthost`, else the domain's MX hosts on `relay.mxPort`.
 * A route or smarthost yields destinations whose `mx` is the configured host as written.
 * Throws BOUNCEGATE_CONFIG_INVALID when a configured "host:port" cannot be parsed.
 */
export async function routeDomain(
  domain: string,
  relay: Config['relay'],
  resolver: DnsResolver,
): Promise<DestinationLookup> {
  const name = toAsciiDomain(domain);

  for (const [key, target] of Object.entries(relay.routes)) {
    if (toAsciiDomain(key) === name) {
      return resolveConfiguredHost(target, `relay.routes["${key}"]`, resolver);
    }
  }

  if (relay.smarthost !== null) {
    return resolveConfiguredHost(relay.smarthost, 'relay.smarthost', resolver);
  }

  return lookupMx(domain, relay.mxPort, resolver);
}

// A configured host that does not resolve is the operator's problem, not the recipient's, so every failure
// here is transient: the mail waits in the queue until the configuration or the DNS is fixed.
async function resolveConfiguredHost(target: string, key: string, resolver: DnsResolver): Promise<DestinationLookup> {
  const { host, port } = parseHostPort(target, key);

  if (isIP(host) !== 0) {
    return { ok: true, destinations: [{ mx: host, address: host, port, preference: 0 }] };
  }

  const resolved = await resolveHostAddresses(toAsciiDomain(host), resolver);
  if (resolved.addresses.length > 0) {
    const destinations = resolved.addresses.map((address) => ({ mx: host, address, port, preference: 0 }));
    return { ok: true, destinations };
  }

  const reason = resolved.transientError ?? 'no A or AAAA record';
  const reply = localFailure('dns', `host ${host} of ${key} could not be resolved: ${reason}`, {
    enhancedCode: '4.4.3',
  });
  return { ok: false, reply };
}

function parseHostPort(target: string, key: string): { host: string; port: number } {
  const match = HOST_PORT.exec(target.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);

  if (host === undefined || !Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    throw new BouncegateError(
      'BOUNCEGATE_CONFIG_INVALID',
      `${key} is "${target}": expected "host:port" or "[ipv6]:port" with a port from 1 to ${MAX_PORT}`,
    );
  }
  if (match?.[1] !== undefined && isIP(host) !== 6) {
    throw new BouncegateError('BOUNCEGATE_CONFIG_INVALID', `${key} is "${target}": brackets must enclose an IPv6 address`);
  }
  return { host: host.toLowerCase(), port };
}
