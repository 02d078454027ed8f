import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postfixAvailable, startGreylistPolicy, startPostfix, type PostfixInstance } from '../helpers/postfix.js';
import { startTestRelay, submit, waitForEvent, type TestRelay } from './harness.js';

const available = postfixAvailable();
if (!available) {
  console.warn('Postfix suite skipped: /usr/sbin/postfix is missing or the tests do not run as root (.ci/run installs it).');
}

describe.skipIf(!available)('relay in front of Postfix', () => {
  let postfix: PostfixInstance;
  let policy: Awaited<ReturnType<typeof startGreylistPolicy>>;
  let relay: TestRelay;

  beforeAll(async () => {
    policy = await startGreylistPolicy();
    postfix = await startPostfix({
      domain: 'postfix.test',
      recipientAccess: {
        'dead@postfix.test': '550 5.4.1 Access denied',
        'grey@postfix.test': 'DUNNO',
      },
      policyPort: policy.port,
    });
    relay = await startTestRelay({
      relay: { routes: { 'postfix.test': `127.0.0.1:${postfix.port}` } },
      retry: { schedule: [1], maxAge: 3600 },
    });
  }, 60_000);

  afterAll(async () => {
    await relay?.destroy();
    await postfix?.stop();
    await policy?.close();
  });

  it('records Postfix rejection and refuses resubmission', async () => {
    // The greylisting policy defers the first try of every recipient; the retry schedule is 1 s.
    const reply = await submit(relay, { from: 'app@sender.example', to: ['ok@postfix.test', 'dead@postfix.test'] });
    const queueId = reply.response.split(' ').pop();

    const bounced = await waitForEvent(relay, 'dead@postfix.test', 'bounced');
    expect(bounced.code).toBe(550);
    expect(bounced.enhancedCode).toBe('5.4.1');
    expect(bounced.text).toBe('550 5.4.1 <dead@postfix.test>: Recipient address rejected: Access denied');
    expect(bounced.remoteIp).toBe('127.0.0.1');
    expect(bounced.remotePort).toBe(postfix.port);
    expect(bounced.sender).toBe('app@sender.example');
    expect(bounced.queueId).toBe(queueId);
    expect(bounced.suppressed).toBe(true);

    const delivered = await waitForEvent(relay, 'ok@postfix.test', 'delivered');
    expect(delivered.text).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]+$/);

    const attemptsBefore = (postfix.log().match(/dead@postfix\.test/g) ?? []).length;
    const second = await submit(relay, { from: 'app@sender.example', to: ['dead@postfix.test'] }).catch((error: Error & { response?: string }) => error);
    expect((second as Error & { response?: string }).response).toMatch(/^550 5\.4\.1 Recipient address suppressed \(userunknown\): 550 5\.4\.1 <dead@postfix\.test>: Recipient address rejected: Access denied/);
    await waitForEvent(relay, 'dead@postfix.test', 'suppressed');
    const attemptsAfter = (postfix.log().match(/dead@postfix\.test/g) ?? []).length;
    expect(attemptsAfter).toBe(attemptsBefore);
  });

  it('retries Postfix greylisting until delivered', async () => {
    await submit(relay, { from: 'app@sender.example', to: ['grey@postfix.test'] });

    const deferred = await waitForEvent(relay, 'grey@postfix.test', 'deferred');
    expect(deferred.code).toBe(451);
    expect(deferred.enhancedCode).toBe('4.7.1');
    expect(deferred.text).toContain('Greylisted');

    const delivered = await waitForEvent(relay, 'grey@postfix.test', 'delivered', 20_000);
    expect(delivered.attempt).toBe(2);
    expect(postfix.log()).toMatch(/to=<grey@postfix\.test>.*status=sent/);
  });
});
