import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../src/config/schema.js';
import { isPermanent } from '../../src/core/reply.js';
import { createResolver, type DnsResolver } from '../../src/delivery/resolve.js';
import { routeDomain } from '../../src/delivery/route.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';

function relayConfig(relay: Partial<Config['relay']>): Config['relay'] {
  return configSchema.parse({ relay }).relay;
}

describe('routeDomain', () => {
  let dns: DnsServer;
  let resolver: DnsResolver;

  beforeAll(async () => {
    dns = await startDnsServer({
      'example.com': { mx: [{ preference: 10, exchange: 'mx.example.com' }] },
      'mx.example.com': { a: ['127.0.0.10'] },
      'relay.internal': { a: ['127.0.0.20'], aaaa: ['::20'] },
      'smarthost.internal': { a: ['127.0.0.30'] },
      'broken.internal': { servfail: true },
    });
    resolver = createResolver([dns.address], 2000);
  });

  afterAll(async () => {
    await dns.close();
  });

  it('uses MX records without routes or smarthost', async () => {
    const lookup = await routeDomain('example.com', relayConfig({ mxPort: 2525 }), resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [{ mx: 'mx.example.com', address: '127.0.0.10', port: 2525, preference: 10 }],
    });
  });

  it('prefers the smarthost over MX', async () => {
    const relay = relayConfig({ smarthost: 'smarthost.internal:587' });
    const lookup = await routeDomain('example.com', relay, resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [{ mx: 'smarthost.internal', address: '127.0.0.30', port: 587, preference: 0 }],
    });
  });

  it('prefers a route over the smarthost', async () => {
    const relay = relayConfig({
      smarthost: 'smarthost.internal:587',
      routes: { 'example.com': 'relay.internal:2526' },
    });
    const lookup = await routeDomain('Example.COM', relay, resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [
        { mx: 'relay.internal', address: '127.0.0.20', port: 2526, preference: 0 },
        { mx: 'relay.internal', address: '::20', port: 2526, preference: 0 },
      ],
    });
  });

  it('matches a route by A-label', async () => {
    const relay = relayConfig({ routes: { 'Bücher.example': '127.0.0.5:25' } });

    const unicode = await routeDomain('bücher.example', relay, resolver);
    const ascii = await routeDomain('xn--bcher-kva.example', relay, resolver);

    const expected = { ok: true, destinations: [{ mx: '127.0.0.5', address: '127.0.0.5', port: 25, preference: 0 }] };
    expect(unicode).toEqual(expected);
    expect(ascii).toEqual(expected);
  });

  it('takes a bracketed IPv6 route host', async () => {
    const relay = relayConfig({ routes: { 'example.com': '[::1]:2527' } });
    const lookup = await routeDomain('example.com', relay, resolver);

    expect(lookup).toEqual({ ok: true, destinations: [{ mx: '::1', address: '::1', port: 2527, preference: 0 }] });
  });

  it('defers when a route host does not resolve', async () => {
    for (const host of ['missing.internal', 'broken.internal']) {
      const relay = relayConfig({ routes: { 'example.com': `${host}:25` } });
      const lookup = await routeDomain('example.com', relay, resolver);

      expect(lookup.ok).toBe(false);
      if (lookup.ok) return;
      expect(lookup.reply.enhancedCode).toBe('4.4.3');
      expect(isPermanent(lookup.reply)).toBe(false);
      expect(lookup.reply.text).toContain(host);
    }
  });

  it('rejects an unparsable host and port', async () => {
    const relay = { ...relayConfig({}), smarthost: 'smarthost.internal:99999' };

    await expect(routeDomain('example.com', relay, resolver)).rejects.toMatchObject({
      code: 'BOUNCEGATE_CONFIG_INVALID',
    });
  });
});
