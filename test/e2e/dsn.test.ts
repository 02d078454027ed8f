import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { runCli } from '../cli/helpers.js';
import { makeTempDir } from '../helpers/tmp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startTestRelay, submit, TEST_TOKEN, waitFor, waitForEvent, type TestRelay } from './harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

/** Builds a bounce as Postfix writes it: multipart/report with the delivery status and the returned headers. */
function postfixBounce(options: { to: string; recipient: string; status: string; diagnostic: string; returnedHeaders: string }): string {
  const boundary = 'B0UNDARY.1733350000/mx.tenant.example';
  return [
    'From: MAILER-DAEMON@mx.tenant.example (Mail Delivery System)',
    `To: ${options.to}`,
    'Subject: Undelivered Mail Returned to Sender',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.tenant.example.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients.',
    '',
    `<${options.recipient}>: host mailstore.tenant.example[192.0.2.44] said: ${options.diagnostic} (in reply to RCPT TO command)`,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.tenant.example',
    'Arrival-Date: Fri,  4 Dec 2026 10:00:00 +0000 (UTC)',
    '',
    `Final-Recipient: rfc822; ${options.recipient}`,
    `Original-Recipient: rfc822;${options.recipient}`,
    'Action: failed',
    `Status: ${options.status}`,
    'Remote-MTA: dns; mailstore.tenant.example',
    `Diagnostic-Code: smtp; ${options.diagnostic}`,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    options.returnedHeaders,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

async function sendBounce(relay: TestRelay, to: string, raw: string): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: relay.bounce?.port ?? 0, ignoreTLS: true });
  cleanups.push(async () => transport.close());
  const info = await transport.sendMail({ envelope: { from: '', to: [to] }, raw });
  return info.response;
}

async function relayWithUpstream(overrides: Record<string, unknown>): Promise<{ relay: TestRelay; upstream: Upstream }> {
  const upstream = await startUpstream({});
  cleanups.push(() => upstream.close());
  const relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` }, ...overrides });
  cleanups.push(() => relay.destroy());
  return { relay, upstream };
}

describe('asynchronous bounces', () => {
  it('VERP bounce suppresses the recipient it names', async () => {
    const { relay, upstream } = await relayWithUpstream({ bounce: { listen: '127.0.0.1:0', domain: 'bounces.relay.test', verp: true } });
    await submit(relay, { from: 'app@sender.example', to: ['gone@tenant.example', 'fine@tenant.example'] });
    await waitForEvent(relay, 'gone@tenant.example', 'delivered');
    await waitForEvent(relay, 'fine@tenant.example', 'delivered');

    expect(upstream.received).toHaveLength(2);
    const returnPath = upstream.received.find((message) => message.to.includes('gone@tenant.example'))?.from ?? '';
    expect(returnPath).toMatch(/^bounce\+[0-9A-Z]+\.0\.[0-9a-f]{16}@bounces\.relay\.test$/);

    const reply = await sendBounce(
      relay,
      returnPath,
      postfixBounce({
        to: returnPath,
        recipient: 'gone@tenant.example',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <gone@tenant.example>: Recipient address rejected: User unknown in virtual mailbox table',
        returnedHeaders: 'From: app@sender.example\r\nTo: gone@tenant.example\r\nSubject: test',
      }),
    );
    expect(reply).toBe('250 2.0.0 Ok: bounce recorded');

    const event = await waitForEvent(relay, 'gone@tenant.example', 'bounced');
    expect(event.stage).toBe('dsn');
    expect(event.enhancedCode).toBe('5.1.1');
    expect(event.code).toBe(550);
    expect(event.reason).toBe('userunknown');
    expect(event.suppressed).toBe(true);
    expect(event.sender).toBe('app@sender.example');
    const entry = await relay.suppressions.findActive('gone@tenant.example');
    expect(entry?.origin).toBe('dsn');
  });

  it('forged VERP address suppresses nobody', async () => {
    const { relay } = await relayWithUpstream({ bounce: { listen: '127.0.0.1:0', domain: 'bounces.relay.test', verp: true } });
    const forged = 'bounce+0ABCDEF12ABCDEFGH.0.0123456789abcdef@bounces.relay.test';
    await sendBounce(
      relay,
      forged,
      postfixBounce({
        to: forged,
        recipient: 'ceo@victim.example',
        status: '5.1.1',
        diagnostic: '550 5.1.1 User unknown',
        returnedHeaders: 'Subject: anything',
      }),
    );

    const event = await waitForEvent(relay, 'ceo@victim.example', 'bounced');
    expect(event.queueId).toBe('');
    expect(event.suppressed).toBe(false);
    expect(await relay.suppressions.get('ceo@victim.example')).toBeNull();
  });

  it('VERP on ignores header-matched bounces', async () => {
    const { relay } = await relayWithUpstream({ bounce: { listen: '127.0.0.1:0', domain: 'bounces.relay.test', verp: true } });
    await submit(relay, { from: 'app@sender.example', to: ['victim@tenant.example'] }, { headers: { 'Message-ID': '<known-1@sender.example>' } });
    await waitForEvent(relay, 'victim@tenant.example', 'delivered');

    await sendBounce(
      relay,
      'bounce+0MX9LAAAAAAAAAAAA.0.0000000000000000@bounces.relay.test',
      postfixBounce({
        to: 'app@sender.example',
        recipient: 'victim@tenant.example',
        status: '5.1.1',
        diagnostic: '550 5.1.1 User unknown',
        returnedHeaders: 'Message-ID: <known-1@sender.example>\r\nSubject: test',
      }),
    );
    const event = await waitForEvent(relay, 'victim@tenant.example', 'bounced');
    expect(event.suppressed).toBe(false);
    expect(await relay.suppressions.get('victim@tenant.example')).toBeNull();
  });

  it('correlates by Message-ID without VERP', async () => {
    const { relay } = await relayWithUpstream({ bounce: { listen: '127.0.0.1:0', domain: 'bounces.relay.test' } });
    await submit(relay, { from: 'app@sender.example', to: ['moved@tenant.example'] }, { headers: { 'Message-ID': '<order-4711@sender.example>' } });
    const delivered = await waitForEvent(relay, 'moved@tenant.example', 'delivered');

    await sendBounce(
      relay,
      'postmaster@bounces.relay.test',
      postfixBounce({
        to: 'app@sender.example',
        recipient: 'moved@tenant.example',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <moved@tenant.example>: Recipient address rejected: User unknown',
        returnedHeaders: 'From: app@sender.example\r\nTo: moved@tenant.example\r\nMessage-ID: <order-4711@sender.example>\r\nSubject: test',
      }),
    );

    const event = await waitForEvent(relay, 'moved@tenant.example', 'bounced');
    expect(event.queueId).toBe(delivered.queueId);
    expect(event.suppressed).toBe(true);
  });

  it('bounce listener rejects other domains', async () => {
    const { relay } = await relayWithUpstream({ bounce: { listen: '127.0.0.1:0', domain: 'bounces.relay.test' } });
    const result = await sendBounce(relay, 'someone@elsewhere.example', 'Subject: x\r\n\r\nhello\r\n').catch((error: Error & { response?: string }) => error);
    expect((result as Error & { response?: string }).response).toBe(
      '550 5.1.1 <someone@elsewhere.example>: recipient not in the bounce domain bounces.relay.test; this listener accepts only bounces',
    );
  });

  it('vacation reply records nothing', async () => {
    const { relay } = await relayWithUpstream({ bounce: { listen: '127.0.0.1:0', domain: 'bounces.relay.test' } });
    const reply = await sendBounce(
      relay,
      'postmaster@bounces.relay.test',
      ['From: boss@tenant.example', 'To: app@sender.example', 'Subject: Out of office', 'Auto-Submitted: auto-replied', '', 'I am away until Monday.', ''].join('\r\n'),
    );
    expect(reply).toBe('250 2.0.0 Ok: bounce recorded');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await relay.events.query({ recipient: 'boss@tenant.example', limit: 10 })).events).toHaveLength(0);
    expect(await waitFor(async () => ((await relay.events.query({ limit: 10 })).events.length === 0 ? true : undefined))).toBe(true);
  });

  it('ingests a folder and an mbox through the CLI', async () => {
    const { relay } = await relayWithUpstream({});
    await submit(relay, { from: 'app@sender.example', to: ['one@tenant.example', 'two@tenant.example'] }, { headers: { 'Message-ID': '<batch-1@sender.example>' } });
    await waitForEvent(relay, 'two@tenant.example', 'delivered');
    const returned = 'From: app@sender.example\r\nMessage-ID: <batch-1@sender.example>\r\nSubject: test';
    const temp = makeTempDir();
    cleanups.push(async () => temp.remove());
    mkdirSync(join(temp.path, 'maildir'));
    writeFileSync(
      join(temp.path, 'maildir', 'one.eml'),
      postfixBounce({ to: 'app@sender.example', recipient: 'one@tenant.example', status: '5.1.1', diagnostic: '550 5.1.1 User unknown', returnedHeaders: returned }),
    );
    const second = postfixBounce({ to: 'app@sender.example', recipient: 'two@tenant.example', status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full', returnedHeaders: returned });
    writeFileSync(join(temp.path, 'bounces.mbox'), `From MAILER-DAEMON Fri Dec  4 10:00:00 2026\n${second.replace(/\r\n/g, '\n')}\n`);

    const adminUrl = `http://127.0.0.1:${relay.admin.port}`;
    const folder = await runCli(['ingest', join(temp.path, 'maildir'), '--admin-url', adminUrl, '--token', TEST_TOKEN]);
    expect(folder.stderr).toBe('');
    expect(folder.code).toBe(0);
    expect(folder.stdout).toContain('message-id');
    const mbox = await runCli(['ingest', join(temp.path, 'bounces.mbox'), '--admin-url', adminUrl, '--token', TEST_TOKEN, '--json']);
    expect(mbox.code).toBe(0);
    expect(JSON.parse(mbox.stdout.trim()).events[0].recipient).toBe('two@tenant.example');

    // Both recipients saw the Message-ID, so either could have forged the other's bounce.
    const one = await waitForEvent(relay, 'one@tenant.example', 'bounced');
    expect(one.stage).toBe('dsn');
    expect(one.suppressed).toBe(false);
    expect(await relay.suppressions.get('one@tenant.example')).toBeNull();
    const full = await relay.events.query({ recipient: 'two@tenant.example', limit: 10 });
    expect(full.events[0]?.stage).toBe('dsn');
    expect(full.events[0]?.reason).toBe('mailboxfull');
    expect(await relay.suppressions.get('two@tenant.example')).toBeNull();
  });
});
