import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isPermanent } from '../../src/core/reply.js';
import type { Destination } from '../../src/delivery/resolve.js';
import {
  deliverMessage,
  type OutgoingMessage,
  type TransactionOptions,
} from '../../src/delivery/transaction.js';
import { startRawUpstream, startUpstream, type Upstream } from '../helpers/upstream.js';

const BODY = 'From: sender@example.org\r\nTo: a@example.com\r\nSubject: test\r\n\r\nHello.\r\n.leading dot\r\n';
const OPTIONS: TransactionOptions = {
  heloName: 'relay.test',
  timeoutMs: 5000,
  opportunisticTls: true,
  localAddress: null,
};

const running: Upstream[] = [];

async function upstream(script: Parameters<typeof startUpstream>[0] = {}): Promise<Upstream> {
  const started = await startUpstream(script);
  running.push(started);
  return started;
}

async function rawUpstream(script: Parameters<typeof startRawUpstream>[0] = {}) {
  const started = await startRawUpstream(script);
  running.push(started);
  return started;
}

function destination(port: number, mx = 'mx.example.com'): Destination {
  return { mx, address: '127.0.0.1', port, preference: 10 };
}

function message(recipients: string[], overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    queueId: 'Q1',
    sender: 'sender@example.org',
    recipients,
    size: Buffer.byteLength(BODY),
    openBody: () => Readable.from([Buffer.from(BODY)]),
    ...overrides,
  };
}

// A port with nothing listening: bound, read, and closed again.
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new Error('no TCP address');
  }
  return address.port;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((started) => started.close()));
});

describe('deliverMessage', () => {
  it('delivers all recipients in one transaction', async () => {
    const peer = await upstream();
    const result = await deliverMessage(message(['a@example.com', 'b@example.com']), [destination(peer.port)], OPTIONS);

    expect(result.hostFailures).toEqual([]);
    expect(result.results.map((entry) => entry.delivered)).toEqual([true, true]);
    expect(result.results[0]?.reply).toMatchObject({ code: 250, stage: 'eod', local: false });
    expect(peer.received).toHaveLength(1);
    expect(peer.received[0]?.to).toEqual(['a@example.com', 'b@example.com']);
    expect(peer.received[0]?.from).toBe('sender@example.org');
    expect(peer.received[0]?.body).toBe(BODY);
    expect(result.session).toEqual({
      mx: 'mx.example.com',
      remoteIp: '127.0.0.1',
      remotePort: peer.port,
      localIp: '127.0.0.1',
      tls: null,
    });
  });
});

describe('deliverMessage host fallback', () => {
  it('tries destinations in the given order', async () => {
    const first = await upstream();
    const second = await upstream();

    const result = await deliverMessage(message(['a@example.com']), [destination(first.port), destination(second.port)], OPTIONS);

    expect(result.results[0]?.delivered).toBe(true);
    expect(first.received).toHaveLength(1);
    expect(second.connections).toBe(0);
  });

  it('skips a host refusing connections', async () => {
    const refused = await closedPort();
    const peer = await upstream();

    const result = await deliverMessage(
      message(['a@example.com']),
      [destination(refused, 'mx1.example.com'), destination(peer.port, 'mx2.example.com')],
      OPTIONS,
    );

    expect(result.results[0]?.delivered).toBe(true);
    expect(result.session.mx).toBe('mx2.example.com');
    expect(result.hostFailures).toHaveLength(1);
    const failure = result.hostFailures[0];
    expect(failure?.reply).toMatchObject({ stage: 'connect', local: true, code: null, enhancedCode: '4.4.1' });
    expect(failure?.reply.text).toContain('ECONNREFUSED');
    expect(failure?.session).toEqual({ mx: 'mx1.example.com', remoteIp: '127.0.0.1', remotePort: refused, localIp: null, tls: null });
  });

  it('skips a host greeting with 421', async () => {
    const busy = await upstream({ greeting: '421 4.7.0 Too busy' });
    const peer = await upstream();

    const result = await deliverMessage(message(['a@example.com']), [destination(busy.port), destination(peer.port)], OPTIONS);

    expect(result.results[0]?.delivered).toBe(true);
    expect(peer.received).toHaveLength(1);
    expect(busy.received).toHaveLength(0);
    expect(result.hostFailures[0]?.reply).toEqual({
      code: 421,
      enhancedCode: '4.7.0',
      text: '421 4.7.0 Too busy',
      stage: 'greeting',
      local: false,
      localPermanent: false,
    });
    expect(result.hostFailures[0]?.session.remotePort).toBe(busy.port);
    expect(result.hostFailures[0]?.session.localIp).toBe('127.0.0.1');
  });

  it('applies the last failure when all fail', async () => {
    const refused = await closedPort();
    const busy = await upstream({ greeting: '421 4.7.0 Too busy' });

    const result = await deliverMessage(
      message(['a@example.com', 'b@example.com']),
      [destination(refused), destination(busy.port)],
      OPTIONS,
    );

    expect(result.hostFailures.map((failure) => failure.reply.stage)).toEqual(['connect', 'greeting']);
    for (const entry of result.results) {
      expect(entry.delivered).toBe(false);
      expect(entry.reply.code).toBe(421);
      expect(entry.reply.stage).toBe('greeting');
    }
    expect(result.results.map((entry) => entry.recipient)).toEqual(['a@example.com', 'b@example.com']);
    expect(result.session.remotePort).toBe(busy.port);
  });

  it('greeting timeout is a local failure', async () => {
    const silent = await rawUpstream({ silent: true });

    const result = await deliverMessage(message(['a@example.com']), [destination(silent.port)], { ...OPTIONS, timeoutMs: 300 });

    const reply = result.hostFailures[0]?.reply;
    expect(reply).toMatchObject({ stage: 'greeting', local: true, code: null, enhancedCode: '4.4.2' });
    expect(reply?.text).toContain('timed out');
    expect(result.results[0]?.reply).toEqual(reply);
    expect(isPermanent(result.results[0]!.reply)).toBe(false);
  });

  it('skips a host rejecting EHLO', async () => {
    const rude = await rawUpstream({ ehlo: '550 5.7.1 Go away', helo: '550 5.7.1 Go away' });
    const peer = await upstream();

    const result = await deliverMessage(message(['a@example.com']), [destination(rude.port), destination(peer.port)], OPTIONS);

    expect(result.hostFailures[0]?.reply).toMatchObject({ code: 550, enhancedCode: '5.7.1', stage: 'ehlo', local: false });
    expect(result.results[0]?.delivered).toBe(true);
  });
});

describe('deliverMessage recipient results', () => {
  it.each([
    ['with PIPELINING', '250-raw.test\n250-PIPELINING\n250 8BITMIME'],
    ['without PIPELINING', '250-raw.test\n250 8BITMIME'],
  ])('keeps multi-line RCPT rejection whole %s', async (_name, ehlo) => {
    const rejection = [
      '550-5.7.1 Recipient rejected by policy',
      '550-5.7.1 See https://mail.example.com/policy',
      '550 5.7.1 Contact postmaster@example.com',
    ].join('\n');
    const peer = await rawUpstream({ ehlo, recipients: { 'b@example.com': rejection } });

    const result = await deliverMessage(
      message(['a@example.com', 'b@example.com', 'c@example.com']),
      [destination(peer.port)],
      OPTIONS,
    );

    const [a, b, c] = result.results;
    expect(b).toEqual({
      recipient: 'b@example.com',
      delivered: false,
      reply: { code: 550, enhancedCode: '5.7.1', text: rejection, stage: 'rcpt', local: false, localPermanent: false },
    });
    expect(a).toMatchObject({ recipient: 'a@example.com', delivered: true, reply: { code: 250, stage: 'eod' } });
    expect(c).toMatchObject({ recipient: 'c@example.com', delivered: true, reply: { code: 250, stage: 'eod' } });
    expect(a?.reply.text).toBe('250 2.0.0 Ok: queued');
    expect(peer.received).toHaveLength(1);
    expect(peer.received[0]?.to).toEqual(['a@example.com', 'c@example.com']);
  });

  it('RCPT rejection affects one recipient', async () => {
    const peer = await upstream({ recipients: { 'b@example.com': '550 5.4.1 Recipient address rejected: Access denied' } });

    const result = await deliverMessage(
      message(['a@example.com', 'b@example.com', 'c@example.com']),
      [destination(peer.port)],
      OPTIONS,
    );

    expect(result.results.map((entry) => entry.delivered)).toEqual([true, false, true]);
    expect(result.results[1]?.reply).toMatchObject({
      code: 550,
      enhancedCode: '5.4.1',
      text: '550 5.4.1 Recipient address rejected: Access denied',
      stage: 'rcpt',
    });
    expect(peer.received).toHaveLength(1);
    expect(peer.received[0]?.to).toEqual(['a@example.com', 'c@example.com']);
  });

  it('final-dot rejection hits accepted recipients', async () => {
    const peer = await upstream({
      recipients: { 'b@example.com': '550 5.1.1 No such user' },
      data: '554 5.7.1 Message rejected as spam',
    });

    const result = await deliverMessage(
      message(['a@example.com', 'b@example.com', 'c@example.com']),
      [destination(peer.port)],
      OPTIONS,
    );

    const [a, b, c] = result.results;
    for (const accepted of [a, c]) {
      expect(accepted?.delivered).toBe(false);
      expect(accepted?.reply).toMatchObject({ code: 554, enhancedCode: '5.7.1', stage: 'eod', text: '554 5.7.1 Message rejected as spam' });
    }
    expect(b?.reply).toMatchObject({ code: 550, enhancedCode: '5.1.1', stage: 'rcpt' });
    expect(peer.received).toHaveLength(0);
  });

  it('DATA rejection hits accepted recipients', async () => {
    const peer = await rawUpstream({
      recipients: { 'b@example.com': '550 5.1.1 No such user' },
      data: '554 5.3.0 Transaction failed',
    });

    const result = await deliverMessage(message(['a@example.com', 'b@example.com']), [destination(peer.port)], OPTIONS);

    expect(result.results[0]?.reply).toMatchObject({ code: 554, enhancedCode: '5.3.0', stage: 'data' });
    expect(result.results[1]?.reply).toMatchObject({ code: 550, stage: 'rcpt' });
    expect(result.results.some((entry) => entry.delivered)).toBe(false);
  });

  it('MAIL FROM rejection hits all recipients', async () => {
    const peer = await upstream({ mail: '550 5.7.1 Sender blocked' });

    const result = await deliverMessage(message(['a@example.com', 'b@example.com']), [destination(peer.port)], OPTIONS);

    for (const entry of result.results) {
      expect(entry.delivered).toBe(false);
      expect(entry.reply).toMatchObject({ code: 550, enhancedCode: '5.7.1', stage: 'mail', text: '550 5.7.1 Sender blocked' });
    }
  });

  it('dropped connection during DATA is transient', async () => {
    const peer = await upstream({ dropDuringData: true });

    const result = await deliverMessage(message(['a@example.com', 'b@example.com']), [destination(peer.port)], OPTIONS);

    for (const entry of result.results) {
      expect(entry.delivered).toBe(false);
      expect(entry.reply).toMatchObject({ local: true, code: null, stage: 'eod', enhancedCode: '4.4.2' });
      expect(isPermanent(entry.reply)).toBe(false);
    }
    expect(result.results[0]?.reply.text).toContain('lost before the reply');
    expect(peer.received).toHaveLength(0);
  });

  it('missing final reply times out', async () => {
    const peer = await rawUpstream({ eod: null });

    const result = await deliverMessage(message(['a@example.com']), [destination(peer.port)], { ...OPTIONS, timeoutMs: 300 });

    expect(result.results[0]?.delivered).toBe(false);
    expect(result.results[0]?.reply).toMatchObject({ local: true, stage: 'eod', enhancedCode: '4.4.2' });
    expect(result.results[0]?.reply.text).toContain('timed out');
  });

  it('421 during RCPT hits all recipients', async () => {
    const peer = await rawUpstream({ recipients: { 'b@example.com': '421 4.7.0 Closing connection' } });

    const result = await deliverMessage(
      message(['a@example.com', 'b@example.com', 'c@example.com']),
      [destination(peer.port)],
      OPTIONS,
    );

    for (const entry of result.results) {
      expect(entry.delivered).toBe(false);
      expect(entry.reply).toMatchObject({ code: 421, enhancedCode: '4.7.0', stage: 'rcpt', local: false });
    }
    expect(peer.received).toHaveLength(0);
  });

  it('greylisting is transient, retry delivers', async () => {
    const peer = await upstream({
      onRecipient: (_recipient, attempt) => (attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null),
    });

    const first = await deliverMessage(message(['a@example.com']), [destination(peer.port)], OPTIONS);
    const second = await deliverMessage(message(['a@example.com']), [destination(peer.port)], OPTIONS);

    expect(first.results[0]?.delivered).toBe(false);
    expect(first.results[0]?.reply).toMatchObject({ code: 451, enhancedCode: '4.7.1', stage: 'rcpt' });
    expect(isPermanent(first.results[0]!.reply)).toBe(false);
    expect(second.results[0]?.delivered).toBe(true);
    expect(peer.received).toHaveLength(1);
  });

  it('reply without enhanced code', async () => {
    const peer = await upstream({ recipients: { 'b@example.com': '550 No such user here' } });

    const result = await deliverMessage(message(['a@example.com', 'b@example.com']), [destination(peer.port)], OPTIONS);

    expect(result.results[1]?.reply).toMatchObject({ code: 550, enhancedCode: '', text: '550 No such user here' });
  });

  it('never sends invalid addresses', async () => {
    const peer = await rawUpstream();

    const result = await deliverMessage(
      message(['a@example.com', 'bad<x>@example.com', 'a@example.com']),
      [destination(peer.port)],
      OPTIONS,
    );

    expect(result.results.map((entry) => entry.recipient)).toEqual(['a@example.com', 'bad<x>@example.com', 'a@example.com']);
    expect(result.results.map((entry) => entry.delivered)).toEqual([true, false, true]);
    expect(result.results[1]?.reply).toMatchObject({ local: true, enhancedCode: '5.1.3', stage: 'rcpt', localPermanent: true });
    expect(peer.commands.filter((command) => command.startsWith('RCPT'))).toEqual(['RCPT TO:<a@example.com>']);
  });
});

describe('deliverMessage session', () => {
  it('records STARTTLS with unverified certificate', async () => {
    const peer = await upstream({ tls: true });

    const result = await deliverMessage(message(['a@example.com']), [destination(peer.port, 'upstream.test')], OPTIONS);

    expect(result.results[0]?.delivered).toBe(true);
    expect(peer.received[0]?.secure).toBe(true);
    const tls = result.session.tls;
    expect(tls?.version).toMatch(/^TLSv1\.[23]$/);
    expect(tls?.cipher).toMatch(/\S/);
    expect(tls?.verified).toBe(false);
    expect(tls?.error).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('plain text without opportunistic TLS', async () => {
    const peer = await upstream({ tls: true });

    const result = await deliverMessage(message(['a@example.com']), [destination(peer.port)], {
      ...OPTIONS,
      opportunisticTls: false,
    });

    expect(result.results[0]?.delivered).toBe(true);
    expect(result.session.tls).toBeNull();
    expect(peer.received[0]?.secure).toBe(false);
  });

  it('refused STARTTLS continues in plain text', async () => {
    const peer = await rawUpstream({ ehlo: '250-raw.test\n250-STARTTLS\n250 8BITMIME' });

    const result = await deliverMessage(message(['a@example.com']), [destination(peer.port)], OPTIONS);

    expect(peer.commands).toContain('STARTTLS');
    expect(result.hostFailures).toEqual([]);
    expect(result.session.tls).toBeNull();
    expect(result.results[0]?.delivered).toBe(true);
  });

  it('skips a host failing the TLS handshake', async () => {
    const broken = await rawUpstream({ ehlo: '250-raw.test\n250 STARTTLS', starttls: '220 2.0.0 Ready to start TLS' });
    const peer = await upstream();

    const result = await deliverMessage(message(['a@example.com']), [destination(broken.port), destination(peer.port)], OPTIONS);

    expect(result.hostFailures[0]?.reply).toMatchObject({ stage: 'starttls', local: true, enhancedCode: '4.4.2' });
    expect(result.results[0]?.delivered).toBe(true);
  });

  it('logs protocol lines and skipped hosts', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const refused = await closedPort();
    const peer = await rawUpstream();

    await deliverMessage(message(['a@example.com']), [destination(refused), destination(peer.port)], { ...OPTIONS, logger });

    const skipped = lines.find((line) => line.msg === 'destination skipped');
    expect(skipped).toMatchObject({ level: 40, queueId: 'Q1', remotePort: refused, stage: 'connect' });
    const protocol = lines.filter((line) => line.msg === 'smtp line');
    expect(protocol.map((line) => line.text)).toContain('RCPT TO:<a@example.com>');
    expect(protocol.map((line) => line.text)).toContain('250 2.0.0 Ok: queued');
    expect(protocol.every((line) => line.level === 20 && line.remotePort === peer.port)).toBe(true);
  });

  it('sends SIZE and ends with QUIT', async () => {
    const peer = await rawUpstream();
    const outgoing = message(['a@example.com']);

    await deliverMessage(outgoing, [destination(peer.port)], OPTIONS);

    const mail = peer.commands.find((command) => command.startsWith('MAIL FROM'));
    expect(mail).toContain(`SIZE=${outgoing.size}`);
    expect(mail).toContain('BODY=8BITMIME');
    expect(peer.commands.at(-1)).toBe('QUIT');
  });

  it('refuses message over announced SIZE', async () => {
    const peer = await rawUpstream({ ehlo: '250-raw.test\n250 SIZE 10' });

    const result = await deliverMessage(message(['a@example.com']), [destination(peer.port)], OPTIONS);

    expect(result.results[0]?.reply).toMatchObject({ local: true, enhancedCode: '5.3.4', stage: 'mail', localPermanent: true });
    expect(peer.commands.some((command) => command.startsWith('MAIL'))).toBe(false);
    expect(peer.commands.at(-1)).toBe('QUIT');
  });

  it('refuses a non-ASCII recipient without SMTPUTF8', async () => {
    const peer = await rawUpstream({ ehlo: '250-raw.test\n250 8BITMIME' });

    const result = await deliverMessage(message(['a@example.com', 'jörg@example.com']), [destination(peer.port)], OPTIONS);

    expect(result.results[0]?.delivered).toBe(true);
    expect(result.results[1]?.reply).toMatchObject({ local: true, enhancedCode: '5.6.7', stage: 'rcpt', localPermanent: true });
    expect(peer.received[0]?.to).toEqual(['a@example.com']);
  });

  it('announces SMTPUTF8 for a non-ASCII recipient', async () => {
    const peer = await rawUpstream();

    const result = await deliverMessage(message(['jörg@example.com']), [destination(peer.port)], OPTIONS);

    expect(result.results[0]?.delivered).toBe(true);
    expect(peer.commands.find((command) => command.startsWith('MAIL FROM'))).toContain('SMTPUTF8');
  });

  it('rethrows a body read error', async () => {
    const peer = await upstream();
    const failure = Object.assign(new Error('spool file missing'), { code: 'ENOENT' });
    // The first chunk goes out, then the source fails: the server must not get a final dot.
    let reads = 0;
    const broken = message(['a@example.com'], {
      openBody: () =>
        new Readable({
          read() {
            reads++;
            if (reads === 1) {
              this.push(Buffer.from('Subject: partial\r\n\r\nfirst part\r\n'));
              return;
            }
            setTimeout(() => this.destroy(failure), 50);
          },
        }),
    });

    await expect(deliverMessage(broken, [destination(peer.port)], OPTIONS)).rejects.toBe(failure);
    expect(failure.code).toBe('ENOENT');
    expect(peer.received).toHaveLength(0);
  });
});

describe('deliverMessage envelope', () => {
  it('sends the null sender as <>', async () => {
    const peer = await rawUpstream();

    const result = await deliverMessage(message(['a@example.com'], { sender: '' }), [destination(peer.port)], OPTIONS);

    expect(result.results[0]?.delivered).toBe(true);
    expect(peer.commands.find((command) => command.startsWith('MAIL FROM'))).toMatch(/^MAIL FROM:<> /);
    expect(peer.received[0]?.from).toBe('');
  });
});
