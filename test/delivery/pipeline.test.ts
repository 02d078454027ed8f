import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { isPermanent } from '../../src/core/reply.js';
import { createResolver, type DnsResolver } from '../../src/delivery/resolve.js';
import { routeDomain } from '../../src/delivery/route.js';
import { deliverMessage, type TransactionResult } from '../../src/delivery/transaction.js';
import { startDnsServer, type DnsServer, type Zone } from '../helpers/dns-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const BODY = 'Subject: pipeline\r\n\r\nHello.\r\n';

// Looks up the domain and delivers to it, as the queue runner does for one domain.
async function deliverTo(domain: string, mxPort: number, resolver: DnsResolver): Promise<TransactionResult> {
  const relay = configSchema.parse({ relay: { mxPort } }).relay;
  const recipient = `user@${domain}`;
  const lookup = await routeDomain(domain, relay, resolver);
  if (!lookup.ok) {
    const session = { mx: null, remoteIp: null, remotePort: null, localIp: null, tls: null };
    return { session, results: [{ recipient, reply: lookup.reply, delivered: false }], hostFailures: [] };
  }
  return deliverMessage(
    {
      queueId: 'Q1',
      sender: 'sender@example.org',
      recipients: [recipient],
      size: BODY.length,
      openBody: () => Readable.from([Buffer.from(BODY)]),
    },
    lookup.destinations,
    { heloName: 'relay.test', timeoutMs: 5000, opportunisticTls: true, localAddress: null },
  );
}

describe('DNS routing and delivery', () => {
  const zone: Zone = {};
  let dns: DnsServer;
  let resolver: DnsResolver;
  const running: Upstream[] = [];

  beforeAll(async () => {
    dns = await startDnsServer(zone);
    resolver = createResolver([dns.address], 2000);
  });

  afterAll(async () => {
    await dns.close();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((upstream) => upstream.close()));
  });

  it('delivers to the MX found in DNS', async () => {
    const upstream = await startUpstream();
    running.push(upstream);
    zone['mx.example'] = { mx: [{ preference: 10, exchange: 'smtp.mx.example' }] };
    zone['smtp.mx.example'] = { a: ['127.0.0.1'] };

    const result = await deliverTo('mx.example', upstream.port, resolver);

    expect(result.results[0]?.delivered).toBe(true);
    expect(result.session.mx).toBe('smtp.mx.example');
    expect(upstream.received[0]?.to).toEqual(['user@mx.example']);
  });

  it('falls back to the next MX', async () => {
    const upstream = await startUpstream({ host: '::1' });
    running.push(upstream);
    // Both MX hosts use the same port; nothing listens on it at 127.0.0.1.
    zone['fallback.example'] = {
      mx: [
        { preference: 20, exchange: 'backup.fallback.example' },
        { preference: 10, exchange: 'primary.fallback.example' },
      ],
    };
    zone['primary.fallback.example'] = { a: ['127.0.0.1'] };
    zone['backup.fallback.example'] = { aaaa: ['::1'] };

    const result = await deliverTo('fallback.example', upstream.port, resolver);

    expect(result.results[0]?.delivered).toBe(true);
    expect(result.session).toMatchObject({ mx: 'backup.fallback.example', remoteIp: '::1' });
    expect(result.hostFailures).toHaveLength(1);
    expect(result.hostFailures[0]?.session.mx).toBe('primary.fallback.example');
    expect(result.hostFailures[0]?.reply.stage).toBe('connect');
  });

  it('makes no connection for a null MX', async () => {
    const upstream = await startUpstream();
    running.push(upstream);
    zone['nullmx.example'] = { mx: [{ preference: 0, exchange: '.' }] };
    zone['smtp.nullmx.example'] = { a: ['127.0.0.1'] };

    const result = await deliverTo('nullmx.example', upstream.port, resolver);

    expect(result.results[0]?.reply).toMatchObject({ stage: 'dns', enhancedCode: '5.1.10', local: true });
    expect(isPermanent(result.results[0]!.reply)).toBe(true);
    expect(upstream.connections).toBe(0);
  });
});
