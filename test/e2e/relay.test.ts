import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DELIVERY_EVENT_FIELDS } from '../../src/core/types.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { startRawUpstream, startUpstream, type Upstream } from '../helpers/upstream.js';
import { startTestRelay, submit, waitFor, waitForEvent, type TestRelay } from './harness.js';

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

async function relayTo(upstream: { port: number }, overrides: Record<string, unknown> = {}): Promise<TestRelay> {
  const relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` }, ...overrides });
  cleanups.push(() => relay.destroy());
  return relay;
}

async function upstreamWith(script: Parameters<typeof startUpstream>[0]): Promise<Upstream> {
  const upstream = await startUpstream(script);
  cleanups.push(() => upstream.close());
  return upstream;
}

describe('relay end to end', () => {
  it('records delivery and suppresses 5.4.1 access denied', async () => {
    const upstream = await upstreamWith({
      recipients: { 'gone@tenant.example': '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]' },
    });
    const relay = await relayTo(upstream);

    const reply = await submit(relay, { from: 'app@sender.example', to: ['ok@tenant.example', 'gone@tenant.example'] }, { headers: { 'X-Campaign': 'spring' } });
    expect(reply.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]+$/);

    const delivered = await waitForEvent(relay, 'ok@tenant.example', 'delivered');
    const bounced = await waitForEvent(relay, 'gone@tenant.example', 'bounced');
    expect(delivered.code).toBe(250);
    // The event store compares events in this layout field by field (see DELIVERY_EVENT_FIELDS).
    expect(Object.keys(delivered)).toEqual([...DELIVERY_EVENT_FIELDS]);
    expect(delivered.campaign).toBe('spring');
    expect(delivered.source).toEqual({ ip: '127.0.0.1', user: null });
    expect(bounced.code).toBe(550);
    expect(bounced.enhancedCode).toBe('5.4.1');
    expect(bounced.stage).toBe('rcpt');
    expect(bounced.permanent).toBe(true);
    expect(bounced.suppressed).toBe(true);
    expect(bounced.reason).toBe('userunknown');
    expect(bounced.remoteIp).toBe('127.0.0.1');
    expect(bounced.remotePort).toBe(upstream.port);
    expect(bounced.sender).toBe('app@sender.example');
    expect(bounced.text).toContain('Recipient address rejected: Access denied');
    const submitted = upstream.received.filter((message) => message.from !== '');
    expect(submitted).toHaveLength(1);
    expect(submitted[0]?.to).toEqual(['ok@tenant.example']);

    const entry = await relay.suppressions.findActive('GONE@tenant.example');
    expect(entry?.reason).toBe('userunknown');
    expect(entry?.first.enhancedCode).toBe('5.4.1');
  });

  it('rejects a suppressed recipient at RCPT with the original failure', async () => {
    const upstream = await upstreamWith({ recipients: { 'gone@tenant.example': '550 5.4.1 Recipient address rejected: Access denied' } });
    const relay = await relayTo(upstream);
    await submit(relay, { from: 'app@sender.example', to: ['gone@tenant.example'] });
    await waitForEvent(relay, 'gone@tenant.example', 'bounced');
    const before = upstream.connections;

    const second = await submit(relay, { from: 'app@sender.example', to: ['gone@tenant.example'] }).catch((error: Error & { response?: string }) => error);
    expect(second).toBeInstanceOf(Error);
    const response = (second as Error & { response?: string }).response ?? '';
    expect(response).toMatch(/^550 5\.4\.1 Recipient address suppressed \(userunknown\): 550 5\.4\.1 Recipient address rejected: Access denied/);
    expect(response).toMatch(/at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/);

    const suppressed = await waitForEvent(relay, 'gone@tenant.example', 'suppressed');
    expect(suppressed.stage).toBe('submit');
    expect(upstream.connections).toBe(before);
  });

  it('drop mode accepts and drops a suppressed recipient', async () => {
    const upstream = await upstreamWith({});
    const relay = await relayTo(upstream, { suppression: { onSubmit: 'drop' } });
    await relay.suppressions.addManual('blocked@tenant.example', 'userunknown', 'imported', 'test');

    const reply = await submit(relay, { from: 'app@sender.example', to: ['blocked@tenant.example', 'ok@tenant.example'] });
    expect(reply.accepted).toEqual(['blocked@tenant.example', 'ok@tenant.example']);
    await waitForEvent(relay, 'ok@tenant.example', 'delivered');
    const dropped = await waitForEvent(relay, 'blocked@tenant.example', 'suppressed');
    expect(dropped.queueId).toBe(reply.response.split(' ').pop());
    expect(upstream.received[0]?.to).toEqual(['ok@tenant.example']);
  });

  it('retries greylisting and delivers on the next attempt', async () => {
    const upstream = await upstreamWith({ onRecipient: (_rcpt, attempt) => (attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null) });
    const relay = await relayTo(upstream, { retry: { schedule: [1], maxAge: 3600 } });

    await submit(relay, { from: 'app@sender.example', to: ['grey@tenant.example'] });
    const deferred = await waitForEvent(relay, 'grey@tenant.example', 'deferred');
    expect(deferred.code).toBe(451);
    expect(deferred.enhancedCode).toBe('4.7.1');
    expect(deferred.permanent).toBe(false);
    expect(deferred.attempt).toBe(1);

    const delivered = await waitForEvent(relay, 'grey@tenant.example', 'delivered', 10_000);
    expect(delivered.attempt).toBe(2);
    expect(upstream.received).toHaveLength(1);
    expect(await relay.suppressions.get('grey@tenant.example')).toBeNull();
  });

  it('never retries a 5xx even with a 4.x.x enhanced code', async () => {
    const upstream = await upstreamWith({ recipients: { 'odd@tenant.example': '550 4.2.2 Mailbox full' } });
    const relay = await relayTo(upstream, { retry: { schedule: [1], maxAge: 3600 } });
    await submit(relay, { from: 'app@sender.example', to: ['odd@tenant.example'] });

    const bounced = await waitForEvent(relay, 'odd@tenant.example', 'bounced');
    expect(bounced.permanent).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const all = await relay.events.query({ recipient: 'odd@tenant.example', limit: 10 });
    expect(all.events).toHaveLength(1);
  });

  it('gives each recipient its own outcome in one transaction', async () => {
    const upstream = await startRawUpstream({
      recipients: { 'rcpt-rejected@tenant.example': '550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 Please check the address.' },
      eod: '554 5.7.1 Message rejected: content policy',
    });
    cleanups.push(() => upstream.close());
    const other = await upstreamWith({});
    const relay = await startTestRelay({
      relay: { routes: { 'tenant.example': `127.0.0.1:${upstream.port}`, 'other.example': `127.0.0.1:${other.port}` } },
    });
    cleanups.push(() => relay.destroy());

    await submit(relay, { from: 'app@sender.example', to: ['rcpt-rejected@tenant.example', 'data-rejected@tenant.example', 'fine@other.example'] });

    const atRcpt = await waitForEvent(relay, 'rcpt-rejected@tenant.example', 'bounced');
    const atData = await waitForEvent(relay, 'data-rejected@tenant.example', 'bounced');
    const fine = await waitForEvent(relay, 'fine@other.example', 'delivered');
    expect(atRcpt.stage).toBe('rcpt');
    expect(atRcpt.text).toBe('550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 Please check the address.');
    expect(atRcpt.suppressed).toBe(true);
    expect(['data', 'eod']).toContain(atData.stage);
    expect(atData.code).toBe(554);
    expect(atData.suppressed).toBe(false);
    expect(fine.code).toBe(250);
    expect(other.received).toHaveLength(1);
    expect(other.received[0]?.to).toEqual(['fine@other.example']);
    expect(await relay.suppressions.get('data-rejected@tenant.example')).toBeNull();
  });

  it('falls over to the second MX on a 421 greeting', async () => {
    // MX hosts share one port (relay.mxPort), so mx1 is a raw peer on 127.0.0.2 at mx2's port.
    const good = await upstreamWith({});
    const busy = createServer((socket) => {
      socket.end('421 4.7.0 mx1 too busy, try later\r\n');
    });
    await new Promise<void>((resolve) => busy.listen(good.port, '127.0.0.2', resolve));
    cleanups.push(() => new Promise((resolve) => busy.close(resolve)));
    const dns: DnsServer = await startDnsServer({
      'mx.example': { mx: [{ preference: 20, exchange: 'mx2.mx.example' }, { preference: 10, exchange: 'mx1.mx.example' }] },
      'mx1.mx.example': { a: ['127.0.0.2'] },
      'mx2.mx.example': { a: ['127.0.0.1'] },
    });
    cleanups.push(() => dns.close());
    const relay = await startTestRelay({ dns: { servers: [dns.address] }, relay: { mxPort: good.port } });
    cleanups.push(() => relay.destroy());

    await submit(relay, { from: 'app@sender.example', to: ['user@mx.example'] });

    const delivered = await waitForEvent(relay, 'user@mx.example', 'delivered');
    expect(delivered.mx).toBe('mx2.mx.example');
    expect(delivered.attempt).toBe(1);
    const greeting = await relay.events.query({ recipient: 'user@mx.example', action: 'deferred', limit: 10 });
    expect(greeting.events).toHaveLength(1);
    expect(greeting.events[0]?.stage).toBe('greeting');
    expect(greeting.events[0]?.code).toBe(421);
    expect(greeting.events[0]?.mx).toBe('mx1.mx.example');
    expect(greeting.events[0]?.remoteIp).toBe('127.0.0.2');
    expect(good.received).toHaveLength(1);
  });

  it('bounces back to the sender with a DSN', async () => {
    const upstream = await upstreamWith({ recipients: { 'nobody@tenant.example': '550 5.1.1 <nobody@tenant.example>: Recipient address rejected: User unknown' } });
    const relay = await relayTo(upstream);
    await submit(relay, { from: 'app@tenant.example', to: ['nobody@tenant.example'] });

    const delivered = await waitForEvent(relay, 'app@tenant.example', 'delivered');
    expect(delivered.sender).toBe('');
    const bounce = await waitFor(async () => upstream.received.find((message) => message.to.includes('app@tenant.example')));
    expect(bounce.from).toBe('');
    expect(bounce.body).toContain('multipart/report');
    expect(bounce.body).toContain('Final-Recipient: rfc822; nobody@tenant.example');
    expect(bounce.body).toContain('Status: 5.1.1');
  });

  it('expires a recipient at maxAge and bounces it', async () => {
    const upstream = await upstreamWith({ onRecipient: (recipient) => (recipient.startsWith('slow@') ? '451 4.3.2 Try again later' : null) });
    const relay = await relayTo(upstream, { retry: { schedule: [1], maxAge: 2 } });
    await submit(relay, { from: 'app@tenant.example', to: ['slow@tenant.example'] });

    const first = await waitForEvent(relay, 'slow@tenant.example', 'deferred');
    expect(first.attempt).toBe(1);
    const expired = await waitForEvent(relay, 'slow@tenant.example', 'expired', 10_000);
    expect(expired.code).toBe(451);
    expect(expired.permanent).toBe(false);
    expect(expired.attempt).toBe(2);
    const bounce = await waitFor(async () => upstream.received.find((message) => message.from === '' && message.to.includes('app@tenant.example')));
    expect(bounce.body).toContain('Final-Recipient: rfc822; slow@tenant.example');
    expect(bounce.body).toContain('Status: 4.3.2');
    expect(await relay.suppressions.get('slow@tenant.example')).toBeNull();
  });

  it('rejects relaying from a client outside clients.allow', async () => {
    const upstream = await upstreamWith({});
    const relay = await relayTo(upstream, { clients: { allow: ['10.0.0.0/8'] } });
    const result = await submit(relay, { from: 'app@sender.example', to: ['x@tenant.example'] }).catch((error: Error & { response?: string }) => error);
    expect(result).toBeInstanceOf(Error);
    expect((result as Error & { response?: string }).response).toBe('554 5.7.1 Relay access denied');
    expect(upstream.connections).toBe(0);
  });
});
