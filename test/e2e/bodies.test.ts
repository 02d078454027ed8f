import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool } from '../../src/spool/spool.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startTestRelay, submit, TEST_TOKEN, waitFor, waitForEvent, type TestRelay } from './harness.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

async function upstreamWith(script: Parameters<typeof startUpstream>[0] = {}): Promise<Upstream> {
  const upstream = await startUpstream(script);
  cleanups.push(() => upstream.close());
  return upstream;
}

/** Starts an upstream that replies to the final dot after `delayMs` and reports when DATA began. */
async function slowUpstream(delayMs: number): Promise<{ port: number; dataStarted: Promise<void> }> {
  let started: () => void = () => undefined;
  const dataStarted = new Promise<void>((resolve) => {
    started = resolve;
  });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      started();
      stream.resume();
      stream.on('end', () => setTimeout(() => callback(), delayMs));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as { port: number }).port, dataStarted };
}

async function adminPost(relay: TestRelay, path: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${relay.admin.port}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  return response.status;
}

function spoolFiles(relay: TestRelay): string[] {
  return readdirSync(join(relay.dataDir, 'spool')).filter((name) => !name.startsWith('.'));
}

describe('Spool.write', () => {
  function chunks(total: number): Readable {
    const parts: Buffer[] = [];
    for (let left = total; left > 0; left -= 1000) {
      parts.push(Buffer.alloc(Math.min(1000, left), 0x61));
    }
    return Readable.from(parts);
  }

  it('keeps small bodies in memory', async () => {
    const dir = makeTempDir('bouncegate-spool-');
    cleanups.push(() => dir.remove());
    const spool = new Spool(dir.path);
    const prefix = Buffer.from('X: 1\r\n');

    const inline = await spool.write('Q1', prefix, chunks(10_000 - prefix.length), 1e9, 10_000);
    expect(inline.inline?.length).toBe(10_000);
    expect(inline.size).toBe(10_000);
    expect(inline.inline?.subarray(0, prefix.length).equals(prefix)).toBe(true);
    expect(existsSync(spool.pathOf('Q1'))).toBe(false);

    const file = await spool.write('Q2', prefix, chunks(10_001 - prefix.length), 1e9, 10_000);
    expect(file.inline).toBeNull();
    expect(file.size).toBe(10_001);
    expect(existsSync(spool.pathOf('Q2'))).toBe(true);

    const oversized = await spool.write('Q3', prefix, chunks(5_000), 4_000, 10_000);
    expect(oversized).toMatchObject({ oversized: true, inline: null });
    expect(existsSync(spool.pathOf('Q3'))).toBe(false);
  });
});

describe('message bodies', () => {
  it.each([1, 0])('inline body to two domains (%i delivery threads)', async (deliveryThreads) => {
    const first = await upstreamWith();
    const second = await upstreamWith({ onRecipient: (_recipient, attempt) => (attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null) });
    const relay = await startTestRelay({
      relay: { deliveryThreads, routes: { 'one.example': `127.0.0.1:${first.port}`, 'two.example': `127.0.0.1:${second.port}` } },
      retry: { schedule: [1] },
    });
    cleanups.push(() => relay.destroy());

    const text = 'line one\r\n.line that starts with a dot\r\n' + 'x'.repeat(3000);
    const reply = await submit(relay, { from: 'app@sender.example', to: ['a@one.example', 'b@two.example'] }, { text });
    const queueId = reply.response.split(' ').pop() ?? '';
    await waitForEvent(relay, 'a@one.example', 'delivered');
    await waitForEvent(relay, 'b@two.example', 'deferred');
    expect(spoolFiles(relay)).toEqual([]);
    const stored = await relay.queue.getBody(queueId);
    expect(stored?.toString('utf8')).toContain(`X-Bouncegate-Queue-Id: ${queueId}`);

    await waitForEvent(relay, 'b@two.example', 'delivered');
    await waitFor(async () => ((await relay.queue.getBody(queueId)) === null ? true : undefined), 5000, 'the body to be removed');
    const [one] = first.received;
    const [two] = second.received;
    expect(one?.body).toBe(stored?.toString('utf8'));
    expect(two?.body).toBe(stored?.toString('utf8'));
  });

  it('large body uses a spool file', async () => {
    const upstream = await upstreamWith({ onRecipient: (_recipient, attempt) => (attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null) });
    const relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` }, retry: { schedule: [1] }, spool: { inlineMaxSize: 2048 } });
    cleanups.push(() => relay.destroy());

    const reply = await submit(relay, { from: 'app@sender.example', to: ['big@tenant.example'] }, { text: `${'y'.repeat(70)}\r\n`.repeat(300) });
    const queueId = reply.response.split(' ').pop() ?? '';
    await waitForEvent(relay, 'big@tenant.example', 'deferred');
    expect(spoolFiles(relay)).toEqual([queueId]);
    expect(await relay.queue.getBody(queueId)).toBeNull();

    await waitForEvent(relay, 'big@tenant.example', 'delivered');
    await waitFor(async () => (spoolFiles(relay).length === 0 ? true : undefined), 5000, 'the spool file to be removed');
    expect(upstream.received[0]?.body).toContain(`${'y'.repeat(70)}\r\n`.repeat(300));
  });

  it('delivers an inline body queued before a restart', async () => {
    const upstream = await upstreamWith({ onRecipient: (_recipient, attempt) => (attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null) });
    const dir = makeTempDir('bouncegate-restart-');
    cleanups.push(() => dir.remove());
    const overrides = { relay: { smarthost: `127.0.0.1:${upstream.port}` }, retry: { schedule: [1] } };

    const before = await startTestRelay(overrides, dir.path);
    const reply = await submit(before, { from: 'app@sender.example', to: ['later@tenant.example'] }, { text: 'kept across a restart' });
    const queueId = reply.response.split(' ').pop() ?? '';
    await waitForEvent(before, 'later@tenant.example', 'deferred');
    await before.close();

    const after = await startTestRelay(overrides, dir.path);
    cleanups.push(() => after.close());
    await waitForEvent(after, 'later@tenant.example', 'delivered');
    expect(upstream.received.at(-1)?.body).toContain('kept across a restart');
    expect(upstream.received.at(-1)?.body).toContain(`X-Bouncegate-Queue-Id: ${queueId}`);
    await waitFor(async () => ((await after.queue.getBody(queueId)) === null ? true : undefined), 5000, 'the body to be removed');
  });

  it.each([1, 0])('hold during an attempt keeps the body (%i delivery threads)', async (deliveryThreads) => {
    const slow = await slowUpstream(1000);
    const grey = await upstreamWith({ onRecipient: (_recipient, attempt) => (attempt === 1 ? '451 4.7.1 Greylisted, try again later' : null) });
    const relay = await startTestRelay({
      relay: { deliveryThreads, routes: { 'one.example': `127.0.0.1:${slow.port}`, 'two.example': `127.0.0.1:${grey.port}` } },
      retry: { schedule: [3600] },
    });
    cleanups.push(() => relay.destroy());

    const reply = await submit(relay, { from: 'app@sender.example', to: ['a@one.example', 'b@two.example'] }, { text: 'kept while held' });
    const queueId = reply.response.split(' ').pop() ?? '';
    await waitForEvent(relay, 'b@two.example', 'deferred');
    await slow.dataStarted;
    expect(await adminPost(relay, `/api/queue/${queueId}/hold`)).toBe(200);
    await waitForEvent(relay, 'a@one.example', 'delivered');
    await relay.runner.idle();
    expect(await relay.queue.getBody(queueId)).not.toBeNull();

    expect(await adminPost(relay, `/api/queue/${queueId}/release`)).toBe(200);
    await waitForEvent(relay, 'b@two.example', 'delivered');
    expect(grey.received.at(-1)?.body).toContain('kept while held');
    await waitFor(async () => ((await relay.queue.getBody(queueId)) === null ? true : undefined), 5000, 'the body to be removed');
  });

  it('removes bodies of finished messages left by a stop before their removal', async () => {
    const upstream = await upstreamWith();
    const dir = makeTempDir('bouncegate-leftover-');
    cleanups.push(() => dir.remove());
    const overrides = { relay: { smarthost: `127.0.0.1:${upstream.port}` } };

    const before = await startTestRelay(overrides, dir.path);
    const small = (await submit(before, { from: 'app@sender.example', to: ['one@tenant.example'] })).response.split(' ').pop() ?? '';
    await waitForEvent(before, 'one@tenant.example', 'delivered');
    await before.runner.idle();
    // What a stop between the last outcome's commit and the body's removal leaves behind.
    await before.queue.commit([before.queue.bodyOperation(small, Buffer.from('Subject: left\r\n\r\nleft\r\n'))]);
    writeFileSync(join(dir.path, 'spool', small), 'Subject: left\r\n\r\nleft\r\n');
    await before.close();

    const after = await startTestRelay(overrides, dir.path);
    cleanups.push(() => after.close());
    expect(await after.queue.getBody(small)).toBeNull();
    expect(existsSync(join(dir.path, 'spool', small))).toBe(false);
  });
});
