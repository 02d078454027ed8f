import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPermanent } from '../../src/core/reply.js';
import { createResolver, lookupMx, type DnsResolver } from '../../src/delivery/resolve.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';

const PORT = 2525;

describe('lookupMx', () => {
  let dns: DnsServer;
  let resolver: DnsResolver;

  beforeAll(async () => {
    dns = await startDnsServer({
      'example.com': {
        mx: [
          { preference: 20, exchange: 'mx2.example.com' },
          { preference: 10, exchange: 'mx1.example.com' },
          { preference: 30, exchange: 'mx3.example.com' },
        ],
      },
      'mx1.example.com': { a: ['127.0.0.11'], aaaa: ['::11'] },
      'mx2.example.com': { a: ['127.0.0.12'] },
      'mx3.example.com': { aaaa: ['::13'] },
      'implicit.example': { a: ['127.0.0.20'] },
      'null.example': { mx: [{ preference: 0, exchange: '.' }] },
      'broken.example': { servfail: true },
      'xn--bcher-kva.example': { mx: [{ preference: 5, exchange: 'mx.xn--bcher-kva.example' }] },
      'mx.xn--bcher-kva.example': { a: ['127.0.0.30'] },
      'dangling.example': { mx: [{ preference: 10, exchange: 'gone.dangling.example' }] },
      'half.example': {
        mx: [
          { preference: 10, exchange: 'failing.half.example' },
          { preference: 20, exchange: 'ok.half.example' },
        ],
      },
      'failing.half.example': { servfail: true },
      'ok.half.example': { a: ['127.0.0.40'] },
      'empty.example': {},
      'shared.example': {
        mx: [
          { preference: 10, exchange: 'a.shared.example' },
          { preference: 20, exchange: 'b.shared.example' },
        ],
      },
      'a.shared.example': { a: ['127.0.0.50'] },
      'b.shared.example': { a: ['127.0.0.50'] },
    });
    resolver = createResolver([dns.address], 2000);
  });

  afterAll(async () => {
    await dns.close();
  });

  it('orders MX hosts by preference, A before AAAA', async () => {
    const lookup = await lookupMx('example.com', PORT, resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [
        { mx: 'mx1.example.com', address: '127.0.0.11', port: PORT, preference: 10 },
        { mx: 'mx1.example.com', address: '::11', port: PORT, preference: 10 },
        { mx: 'mx2.example.com', address: '127.0.0.12', port: PORT, preference: 20 },
        { mx: 'mx3.example.com', address: '::13', port: PORT, preference: 30 },
      ],
    });
  });

  it('uses the A record as implicit MX', async () => {
    const lookup = await lookupMx('implicit.example', PORT, resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [{ mx: 'implicit.example', address: '127.0.0.20', port: PORT, preference: 0 }],
    });
  });

  it('fails permanently on a null MX', async () => {
    const lookup = await lookupMx('null.example', PORT, resolver);

    expect(lookup.ok).toBe(false);
    if (lookup.ok) return;
    expect(lookup.reply.enhancedCode).toBe('5.1.10');
    expect(lookup.reply.stage).toBe('dns');
    expect(lookup.reply.local).toBe(true);
    expect(isPermanent(lookup.reply)).toBe(true);
    expect(lookup.reply.text).toBe('null MX (RFC 7505): null.example does not accept mail');
  });

  it('fails permanently on NXDOMAIN', async () => {
    const lookup = await lookupMx('nowhere.example', PORT, resolver);

    expect(lookup.ok).toBe(false);
    if (lookup.ok) return;
    expect(lookup.reply.enhancedCode).toBe('5.1.2');
    expect(isPermanent(lookup.reply)).toBe(true);
    expect(lookup.reply.text).toContain('nowhere.example does not exist');
  });

  it('fails transiently on SERVFAIL', async () => {
    const lookup = await lookupMx('broken.example', PORT, resolver);

    expect(lookup.ok).toBe(false);
    if (lookup.ok) return;
    expect(lookup.reply.enhancedCode).toBe('4.4.3');
    expect(lookup.reply.stage).toBe('dns');
    expect(isPermanent(lookup.reply)).toBe(false);
    expect(lookup.reply.text).toContain('ESERVFAIL');
  });

  it('queries an IDN domain by its A-label', async () => {
    const before = dns.queries.length;
    const lookup = await lookupMx('Bücher.example', PORT, resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [{ mx: 'mx.xn--bcher-kva.example', address: '127.0.0.30', port: PORT, preference: 5 }],
    });
    const names = dns.queries.slice(before).map((query) => query.name.toLowerCase());
    expect(names).toContain('xn--bcher-kva.example');
    expect(names.some((name) => /[^\x00-\x7f]/.test(name))).toBe(false);
  });

  it('MX hosts without addresses fail permanently', async () => {
    const lookup = await lookupMx('dangling.example', PORT, resolver);

    expect(lookup.ok).toBe(false);
    if (lookup.ok) return;
    expect(lookup.reply.enhancedCode).toBe('5.4.4');
    expect(isPermanent(lookup.reply)).toBe(true);
  });

  it('skips an MX host whose lookup fails', async () => {
    const lookup = await lookupMx('half.example', PORT, resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [{ mx: 'ok.half.example', address: '127.0.0.40', port: PORT, preference: 20 }],
    });
  });

  it('fails permanently without MX, A or AAAA', async () => {
    const lookup = await lookupMx('empty.example', PORT, resolver);

    expect(lookup.ok).toBe(false);
    if (lookup.ok) return;
    expect(lookup.reply.enhancedCode).toBe('5.4.4');
    expect(isPermanent(lookup.reply)).toBe(true);
  });

  it('lists a shared address once', async () => {
    const lookup = await lookupMx('shared.example', PORT, resolver);

    expect(lookup).toEqual({
      ok: true,
      destinations: [{ mx: 'a.shared.example', address: '127.0.0.50', port: PORT, preference: 10 }],
    });
  });

  it('takes an address literal as the host', async () => {
    expect(await lookupMx('[127.0.0.9]', PORT, resolver)).toEqual({
      ok: true,
      destinations: [{ mx: '[127.0.0.9]', address: '127.0.0.9', port: PORT, preference: 0 }],
    });
    expect(await lookupMx('[IPv6:::1]', PORT, resolver)).toEqual({
      ok: true,
      destinations: [{ mx: '[ipv6:::1]', address: '::1', port: PORT, preference: 0 }],
    });
  });
});

describe('createResolver', () => {
  it('silent server fails transiently', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const resolver = createResolver([`127.0.0.1:${silent.address().port}`], 300);

    const started = Date.now();
    const lookup = await lookupMx('example.com', PORT, resolver);
    const elapsed = Date.now() - started;
    silent.close();

    expect(lookup.ok).toBe(false);
    if (lookup.ok) return;
    expect(lookup.reply.enhancedCode).toBe('4.4.3');
    expect(lookup.reply.text).toContain('ETIMEOUT');
    expect(isPermanent(lookup.reply)).toBe(false);
    expect(elapsed).toBeLessThan(2000);
  });

  it('rejects an invalid server entry', () => {
    expect(() => createResolver(['not an address'], 1000)).toThrow(
      expect.objectContaining({ code: 'BOUNCEGATE_CONFIG_INVALID' }),
    );
  });
});
