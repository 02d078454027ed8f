import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, waitForEvent, type TestRelay } from '../e2e/harness.js';
import { RawSmtpClient } from '../helpers/raw-client.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const run = promisify(execFile);

describe('ingress STARTTLS', () => {
  const temp = makeTempDir('bouncegate-tls-');
  let relay: TestRelay;
  let upstream: Upstream;

  beforeAll(async () => {
    const key = join(temp.path, 'key.pem');
    const cert = join(temp.path, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=relay.test', '-keyout', key, '-out', cert]);
    upstream = await startUpstream({});
    relay = await startTestRelay({
      relay: { smarthost: `127.0.0.1:${upstream.port}` },
      listen: { host: '127.0.0.1', port: 0, tls: { key, cert } },
      auth: { users: [{ username: 'app', password: 'secret-password' }] },
      clients: { allow: ['10.0.0.0/8'] },
    });
  });

  afterAll(async () => {
    await relay?.destroy();
    await upstream?.close();
    temp.remove();
  });

  it('offers STARTTLS and AUTH', async () => {
    const { client } = await RawSmtpClient.open(relay.smtp.port);
    const ehlo = await client.command('EHLO client.test');
    client.close();
    expect(ehlo).toContain('STARTTLS');
    expect(ehlo).toContain('AUTH PLAIN LOGIN');
  });

  it('relays after STARTTLS and AUTH', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.smtp.port,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'app', pass: 'secret-password' },
    });
    const info = await transport.sendMail({ envelope: { from: 'app@sender.example', to: ['tls@tenant.example'] }, text: 'over TLS' });
    transport.close();

    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const event = await waitForEvent(relay, 'tls@tenant.example', 'delivered');
    expect(event.source).toEqual({ ip: '127.0.0.1', user: 'app' });
    expect(upstream.received[0]?.body).toMatch(/with ESMTPSA id /);
  });
});
