import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryThreads, type DeliveryRequest } from '../../src/delivery/threads.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

describe('delivery threads', () => {
  let upstream: Upstream;
  let threads: DeliveryThreads;
  const dir = makeTempDir('bouncegate-threads-');

  beforeAll(async () => {
    upstream = await startUpstream({ recipients: { 'gone@example.com': '550 5.1.1 No such user' } });
    threads = new DeliveryThreads(2, { logLevel: 'silent', nice: 0 }, pino({ level: 'silent' }));
    await threads.ready();
  });

  afterAll(async () => {
    await threads?.close();
    await upstream?.close();
    dir.remove();
  });

  function request(body: DeliveryRequest['body'], recipients = ['ok@example.com']): DeliveryRequest {
    return {
      message: { queueId: 'Q1', sender: 'app@example.org', recipients, size: 100, smtputf8: false },
      body,
      destinations: [{ mx: 'upstream.test', address: '127.0.0.1', port: upstream.port, preference: 0 }],
      options: { heloName: 'relay.test', timeoutMs: 5000, opportunisticTls: false, localAddress: null },
    };
  }

  it('delivers a body handed over as bytes and returns every reply', async () => {
    const body = Buffer.from('Subject: bytes\r\n\r\n.dot line\r\nend\r\n');
    const result = await threads.deliver(request({ bytes: body }, ['ok@example.com', 'gone@example.com']));
    expect(result.session.mx).toBe('upstream.test');
    expect(result.results.map((item) => [item.recipient, item.delivered, item.reply.code])).toEqual([
      ['ok@example.com', true, 250],
      ['gone@example.com', false, 550],
    ]);
    expect(result.results[1]?.reply.text).toBe('550 5.1.1 No such user');
    expect(upstream.received.at(-1)?.body).toBe(body.toString('utf8'));
  });

  it('delivers a body from a spool file path', async () => {
    const path = join(dir.path, 'Q2');
    writeFileSync(path, 'Subject: file\r\n\r\nfrom a file\r\n');
    const result = await threads.deliver(request({ path }));
    expect(result.results[0]?.delivered).toBe(true);
    expect(upstream.received.at(-1)?.body).toBe('Subject: file\r\n\r\nfrom a file\r\n');
  });

  it('rejects with the read error when the body file is missing', async () => {
    await expect(threads.deliver(request({ path: join(dir.path, 'missing') }))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('spreads concurrent attempts over the threads and answers each one', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => threads.deliver(request({ bytes: Buffer.from(`Subject: ${index}\r\n\r\nbody ${index}\r\n`) }))),
    );
    expect(results.every((result) => result.results[0]?.delivered)).toBe(true);
  });

  it.runIf(process.platform === 'linux')('raises each thread\'s nice value only', async () => {
    const own = threadNice(String(process.pid)) ?? 0;
    const expected = Math.min(19, own + 7);
    const before = nicedThreads(expected);
    const niced = new DeliveryThreads(2, { logLevel: 'silent', nice: 7 }, pino({ level: 'silent' }));
    try {
      await niced.ready();
      const result = await niced.deliver(request({ bytes: Buffer.from('Subject: nice\r\n\r\nbody\r\n') }));
      expect(result.results[0]?.delivered).toBe(true);
      expect(nicedThreads(expected) - before).toBe(2);
      expect(threadNice(String(process.pid))).toBe(own);
    } finally {
      await niced.close();
    }
    expect(nicedThreads(expected)).toBe(before);
  });
});

/** Reads a thread's nice value from /proc (field 19 of its stat line). */
function threadNice(tid: string): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  } catch {
    return null;
  }
}

/** Counts this process's threads that run at the given nice value. */
function nicedThreads(nice: number): number {
  return readdirSync('/proc/self/task').filter((tid) => threadNice(tid) === nice).length;
}
