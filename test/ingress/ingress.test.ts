import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRelay, submit, waitForEvent, type TestRelay } from '../e2e/harness.js';
import { RawSmtpClient } from '../helpers/raw-client.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const run = promisify(execFile);
const cleanups: Array<() => Promise<unknown> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

async function setup(overrides: Record<string, unknown> = {}, dataDir?: string): Promise<{ relay: TestRelay; upstream: Upstream }> {
  const upstream = await startUpstream({});
  cleanups.push(() => upstream.close());
  const relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` }, ...overrides }, dataDir);
  cleanups.push(() => relay.destroy());
  return { relay, upstream };
}

describe('ingress', () => {
  it('announces the ESMTP extensions', async () => {
    const { relay } = await setup();
    const { client, greeting } = await RawSmtpClient.open(relay.smtp.port);
    cleanups.push(() => client.close());

    expect(greeting).toMatch(/^220 relay\.test/);
    const ehlo = await client.command('EHLO client.test');
    expect(ehlo).toContain('PIPELINING');
    expect(ehlo).toContain('8BITMIME');
    expect(ehlo).toContain('SMTPUTF8');
    expect(ehlo).toContain(`SIZE ${50 * 1024 * 1024}`);
    expect(ehlo).not.toContain('STARTTLS');
    expect(ehlo).not.toContain('AUTH');
  });

  it('sends the suppression reply byte for byte', async () => {
    const { relay } = await setup();
    await relay.suppressions.recordFailure(
      'gone@tenant.example',
      { time: '2026-05-07T10:11:12.345Z', code: 550, enhancedCode: '5.4.1', text: '550 5.4.1 Recipient address rejected: Access denied', mx: 'tenant-example.mail.protection.outlook.com', remoteIp: '192.0.2.10', queueId: 'Q' },
      { reason: 'userunknown', origin: 'delivery' },
    );
    const { client } = await RawSmtpClient.open(relay.smtp.port);
    cleanups.push(() => client.close());
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<app@sender.example>');

    const reply = await client.command('RCPT TO:<Gone@Tenant.Example>');
    expect(reply).toBe(
      '550 5.4.1 Recipient address suppressed (userunknown): 550 5.4.1 Recipient address rejected: Access denied from tenant-example.mail.protection.outlook.com at 2026-05-07T10:11:12.345Z',
    );
  });

  it('rejects a message over SIZE while streaming', async () => {
    const { relay, upstream } = await setup({ listen: { host: '127.0.0.1', port: 0, maxSize: 10_000 } });
    const result = await submit(relay, { from: 'app@sender.example', to: ['big@tenant.example'] }, { text: 'x'.repeat(50_000) }).catch(
      (error: Error & { response?: string }) => error,
    );
    expect((result as Error & { response?: string }).response).toMatch(/^552 /);
    expect(readdirSync(join(relay.dataDir, 'spool'))).toEqual([]);
    expect(upstream.connections).toBe(0);
  });

  it('answers 451 4.3.0 when the spool disk is full', async () => {
    const temp = makeTempDir('bouncegate-full-');
    cleanups.push(() => temp.remove());
    const spool = join(temp.path, 'spool');
    mkdirSync(spool);
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', spool]).then(
      () => true,
      () => false,
    );
    if (!mounted) {
      console.warn('disk-full test skipped: mounting a small tmpfs needs root');
      return;
    }
    cleanups.push(() => run('umount', [spool]).catch(() => undefined));
    const { relay, upstream } = await setup({}, temp.path);

    const result = await submit(relay, { from: 'app@sender.example', to: ['x@tenant.example'] }, { text: 'y'.repeat(200_000) }).catch(
      (error: Error & { response?: string }) => error,
    );
    expect((result as Error & { response?: string }).response).toBe(
      '451 4.3.0 Temporary failure writing the message to the queue; try again later',
    );
    expect(readdirSync(spool).filter((name) => name !== 'lost+found')).toEqual([]);
    expect((await relay.queue.dueRecipients(Date.now() + 1e9, 10)).length).toBe(0);
    expect(upstream.connections).toBe(0);

    const small = await submit(relay, { from: 'app@sender.example', to: ['x@tenant.example'] });
    expect(small.response).toMatch(/^250 /);
  });

  it('relays for an authenticated user outside clients.allow', async () => {
    const { relay } = await setup({
      clients: { allow: ['10.0.0.0/8'] },
      auth: { users: [{ username: 'app', password: 'correct horse battery staple' }] },
    });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.smtp.port,
      ignoreTLS: true,
      auth: { user: 'app', pass: 'correct horse battery staple' },
    });
    cleanups.push(() => transport.close());
    const info = await transport.sendMail({ envelope: { from: 'app@sender.example', to: ['a@tenant.example'] }, text: 'hi' });
    expect(info.response).toMatch(/^250 /);
    const event = await waitForEvent(relay, 'a@tenant.example', 'delivered');
    expect(event.source).toEqual({ ip: '127.0.0.1', user: 'app' });

    const wrong = nodemailer.createTransport({ host: '127.0.0.1', port: relay.smtp.port, ignoreTLS: true, auth: { user: 'app', pass: 'wrong' } });
    cleanups.push(() => wrong.close());
    const failure = await wrong.sendMail({ envelope: { from: 'app@sender.example', to: ['a@tenant.example'] }, text: 'hi' }).catch((error: Error & { response?: string }) => error);
    expect((failure as Error & { response?: string }).response).toBe('535 5.7.8 Authentication credentials invalid');
  });

  it('throttles repeated AUTH failures', async () => {
    const { relay } = await setup({ auth: { users: [{ username: 'app', password: 'correct horse battery staple' }] } });
    const { client } = await RawSmtpClient.open(relay.smtp.port);
    cleanups.push(() => client.close());
    await client.command('EHLO client.test');
    const wrong = `AUTH PLAIN ${Buffer.from('\u0000app\u0000wrong').toString('base64')}`;
    const replies: string[] = [];
    for (let attempt = 0; attempt < 11; attempt += 1) {
      replies.push(await client.command(wrong));
    }
    expect(replies.slice(0, 10).every((reply) => reply.startsWith('535 5.7.8'))).toBe(true);
    expect(replies[10]).toBe('454 4.7.0 Too many failed authentication attempts; try again later');
    const right = await client.command(`AUTH PLAIN ${Buffer.from('\u0000app\u0000correct horse battery staple').toString('base64')}`);
    expect(right).toMatch(/^454 /);
  });

  it('accepts pipelined submissions from swaks', async () => {
    if (!existsSync('/usr/bin/swaks')) {
      console.warn('swaks test skipped: /usr/bin/swaks is missing (.ci/run installs it)');
      return;
    }
    const { relay, upstream } = await setup();
    const { stdout } = await run('swaks', [
      '--server', `127.0.0.1:${relay.smtp.port}`,
      '--from', 'app@sender.example',
      '--to', 'one@tenant.example,two@tenant.example',
      '--pipeline',
      '--header', 'X-Campaign: swaks-test',
    ]);
    expect(stdout).toMatch(/<[-~] +250 2\.0\.0 Ok: queued as/);
    await waitForEvent(relay, 'one@tenant.example', 'delivered');
    const two = await waitForEvent(relay, 'two@tenant.example', 'delivered');
    expect(two.campaign).toBe('swaks-test');
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]?.to).toEqual(['one@tenant.example', 'two@tenant.example']);
    expect(upstream.received[0]?.body).toMatch(/^Received: from /);
  });
});
