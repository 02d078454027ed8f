import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli/helpers.js';
import { startUpstream } from '../helpers/upstream.js';
import { startTestRelay, submit, TEST_TOKEN, waitForEvent, type TestRelay } from './harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

async function api<T>(relay: TestRelay, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`http://127.0.0.1:${relay.admin.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

describe('classification on the admin port', () => {
  it('explains a reply', async () => {
    const relay = await startTestRelay();
    cleanups.push(() => relay.destroy());
    const reply = encodeURIComponent('550 5.4.1 Recipient address rejected: Access denied');
    const result = await api<{ reason: string; suppress: boolean; rule: string; why: string }>(relay, 'GET', `/api/classify?reply=${reply}&mx=tenant.mail.protection.outlook.com`);
    expect(result.status).toBe(200);
    expect(result.body.reason).toBe('userunknown');
    expect(result.body.suppress).toBe(true);
    expect(result.body.why).toContain(result.body.rule);
  });

  it('replays candidate rules over stored events', async () => {
    const upstream = await startUpstream({ recipients: { 'x@acme.example': '550 5.7.1 Mailbox retired by policy ACME-17' } });
    cleanups.push(() => upstream.close());
    const relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` } });
    cleanups.push(() => relay.destroy());
    await submit(relay, { from: 'app@sender.example', to: ['x@acme.example'] });
    const event = await waitForEvent(relay, 'x@acme.example', 'bounced');
    expect(event.suppressed).toBe(false);

    const rules = "- name: acme-retired\n  text: 'mailbox retired by policy'\n  reason: suspend\n  side: recipient\n  suppress: true\n  sample: '550 5.7.1 Mailbox retired by policy ACME-17'\n";
    const replay = await api<{ changed: number; summary: Array<{ from: string; to: string; suppressionChanges: number }>; changes: Array<{ recipient: string }> }>(
      relay,
      'POST',
      '/api/classify/replay',
      { rules },
    );
    expect(replay.status).toBe(200);
    expect(replay.body.changed).toBe(1);
    expect(replay.body.summary[0]).toMatchObject({ from: event.reason, to: 'suspend', suppressionChanges: 1 });
    expect(replay.body.changes[0]?.recipient).toBe('x@acme.example');
    expect(await relay.suppressions.get('x@acme.example')).toBeNull();

    const unchanged = await api<{ changed: number }>(relay, 'POST', '/api/classify/replay', {});
    expect(unchanged.body.changed).toBe(0);
    const invalid = await api<{ error: { field: string } }>(relay, 'POST', '/api/classify/replay', { rules: '- name: broken\n  reason: nonsense\n' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.field).toBe('rules');
  });

  it('raises a guard alert and holds suppressions', async () => {
    const rejection = (address: string) => `550 5.4.1 <${address}>: Recipient address rejected: Access denied`;
    const recipients = ['a@blocked.example', 'b@blocked.example', 'c@blocked.example'];
    const upstream = await startUpstream({ recipients: Object.fromEntries(recipients.map((address) => [address, rejection(address)])) });
    cleanups.push(() => upstream.close());
    const relay = await startTestRelay({
      relay: { smarthost: `127.0.0.1:${upstream.port}` },
      suppression: { guard: { enabled: true, windowSeconds: 600, minRecipients: 2, pauseSeconds: 600 } },
    });
    cleanups.push(() => relay.destroy());

    // The null sender gets no bounce, whose delivery through the same host would count as a delivery there.
    await submit(relay, { from: '', to: [recipients[0] ?? ''] });
    await waitForEvent(relay, recipients[0] ?? '', 'bounced');
    await submit(relay, { from: '', to: [recipients[1] ?? ''] });
    await waitForEvent(relay, recipients[1] ?? '', 'bounced');

    expect((await relay.suppressions.get(recipients[0] ?? ''))?.status).toBe('active');
    expect((await relay.suppressions.get(recipients[1] ?? ''))?.status).toBe('pending');
    expect(await relay.suppressions.findActive(recipients[1] ?? '')).toBeNull();

    await submit(relay, { from: '', to: [recipients[2] ?? ''] });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await relay.events.query({ recipient: recipients[2] ?? '', limit: 10 })).events).toHaveLength(0);

    const alerts = await runCli(['alerts', '--json', '--admin-url', `http://127.0.0.1:${relay.admin.port}`, '--token', TEST_TOKEN]);
    expect(alerts.code).toBe(0);
    const parsed = JSON.parse(alerts.stdout) as { alerts: Array<{ domain: string; recipients: string[] }> };
    expect(parsed.alerts[0]?.domain).toBe('blocked.example');
    expect(parsed.alerts[0]?.recipients).toEqual([recipients[0], recipients[1]]);

    const metrics = await fetch(`http://127.0.0.1:${relay.admin.port}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(await metrics.text()).toMatch(/^bouncegate_guard_alerts_total 1$/m);
  });

  it('reloads rules through the CLI', async () => {
    const relay = await startTestRelay();
    cleanups.push(() => relay.destroy());
    const result = await runCli(['rules', 'reload', '--admin-url', `http://127.0.0.1:${relay.admin.port}`, '--token', TEST_TOKEN]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('bounce-rules.yaml');
  });
});
