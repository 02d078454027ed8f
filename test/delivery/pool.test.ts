import net from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionPool } from '../../src/delivery/pool.js';
import type { Destination } from '../../src/delivery/resolve.js';
import { deliverMessage, type OutgoingMessage, type TransactionOptions } from '../../src/delivery/transaction.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const BODY = 'From: sender@example.org\r\nTo: a@example.com\r\nSubject: test\r\n\r\nHello.\r\n';
const running: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  while (running.length > 0) {
    await running.pop()?.close();
  }
});

function message(recipients: string[], queueId = 'Q1'): OutgoingMessage {
  return {
    queueId,
    sender: 'sender@example.org',
    recipients,
    size: Buffer.byteLength(BODY),
    openBody: () => Readable.from([Buffer.from(BODY)]),
  };
}

async function setup(script: Parameters<typeof startUpstream>[0] = {}, idleTimeoutMs = 5000): Promise<{ upstream: Upstream; destination: Destination; options: TransactionOptions; pool: SessionPool }> {
  const upstream = await startUpstream(script);
  running.push(upstream);
  const pool = new SessionPool({ maxIdlePerDestination: 2, idleTimeoutMs, maxTransactionsPerSession: 3 });
  running.push(pool);
  return {
    upstream,
    destination: { mx: 'mx.example.com', address: '127.0.0.1', port: upstream.port, preference: 10 },
    options: { heloName: 'relay.test', timeoutMs: 5000, opportunisticTls: true, localAddress: null, pool },
    pool,
  };
}

describe('session pool', () => {
  it('reuses one session for consecutive messages', async () => {
    const { upstream, destination, options, pool } = await setup();
    for (const queueId of ['Q1', 'Q2', 'Q3']) {
      const result = await deliverMessage(message(['a@example.com'], queueId), [destination], options);
      expect(result.results[0]?.delivered).toBe(true);
    }
    expect(upstream.received).toHaveLength(3);
    expect(upstream.connections).toBe(1);
    expect(pool.size()).toBe(0);
  });

  it('resets after a rejection and reuses', async () => {
    const { upstream, destination, options } = await setup({ recipients: { 'gone@example.com': '550 5.1.1 No such user' } });
    const first = await deliverMessage(message(['gone@example.com', 'a@example.com']), [destination], options);
    expect(first.results.map((result) => result.delivered)).toEqual([false, true]);
    const second = await deliverMessage(message(['b@example.com'], 'Q2'), [destination], options);
    expect(second.results[0]?.delivered).toBe(true);
    expect(upstream.connections).toBe(1);
    expect(upstream.received.map((item) => item.to)).toEqual([['a@example.com'], ['b@example.com']]);
  });

  it('connects anew when the server dropped the idle session', async () => {
    const { upstream, options } = await setup();
    // A proxy in front of the upstream plays a server that closes idle connections.
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const server = net.connect(upstream.port, '127.0.0.1');
      sockets.add(client);
      client.pipe(server).pipe(client);
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    running.push({ close: () => new Promise<void>((resolve) => proxy.close(() => resolve())) });
    const destination: Destination = { mx: 'mx.example.com', address: '127.0.0.1', port: (proxy.address() as net.AddressInfo).port, preference: 10 };

    await deliverMessage(message(['a@example.com']), [destination], options);
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));

    const second = await deliverMessage(message(['b@example.com'], 'Q2'), [destination], options);
    expect(second.results[0]?.delivered).toBe(true);
    expect(upstream.received.map((item) => item.to)).toEqual([['a@example.com'], ['b@example.com']]);
    expect(upstream.connections).toBe(2);
  });

  it('closes a session after its idle timeout', async () => {
    const { destination, options, pool } = await setup({}, 100);
    await deliverMessage(message(['a@example.com']), [destination], options);
    expect(pool.size()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(pool.size()).toBe(0);
  });
});
