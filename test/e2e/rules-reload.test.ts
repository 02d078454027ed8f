import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/tmp.js';
import { startUpstream } from '../helpers/upstream.js';
import { startTestRelay, submit, waitForEvent } from './harness.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

const CUSTOM_REPLY = '550 5.7.1 Mailbox retired by policy ACME-17';

function ruleFile(suppress: boolean): string {
  return [
    '- name: acme-retired-mailbox',
    "  text: 'mailbox retired by policy'",
    '  reason: suspend',
    '  side: recipient',
    `  suppress: ${suppress}`,
    `  sample: "${CUSTOM_REPLY}"`,
    '',
  ].join('\n');
}

describe('operator rule files', () => {
  it('take effect after SIGHUP without a restart', async () => {
    const temp = makeTempDir();
    cleanups.push(() => temp.remove());
    const rules = join(temp.path, 'operator-rules.yaml');
    writeFileSync(rules, ruleFile(false));
    const upstream = await startUpstream({ recipients: { 'old1@acme.example': CUSTOM_REPLY, 'old2@acme.example': CUSTOM_REPLY } });
    cleanups.push(() => upstream.close());
    const relay = await startTestRelay({ relay: { smarthost: `127.0.0.1:${upstream.port}` }, classification: { ruleFiles: [rules] } });
    cleanups.push(() => relay.destroy());

    await submit(relay, { from: 'app@sender.example', to: ['old1@acme.example'] });
    const before = await waitForEvent(relay, 'old1@acme.example', 'bounced');
    expect(before.rule).toBe('acme-retired-mailbox');
    expect(before.suppressed).toBe(false);

    writeFileSync(rules, ruleFile(true));
    process.kill(process.pid, 'SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 100));

    await submit(relay, { from: 'app@sender.example', to: ['old2@acme.example'] });
    const after = await waitForEvent(relay, 'old2@acme.example', 'bounced');
    expect(after.reason).toBe('suspend');
    expect(after.suppressed).toBe(true);
  });

  it('keeps the old rules when a reload is invalid', async () => {
    const temp = makeTempDir();
    cleanups.push(() => temp.remove());
    const rules = join(temp.path, 'operator-rules.yaml');
    writeFileSync(rules, ruleFile(true));
    const relay = await startTestRelay({ classification: { ruleFiles: [rules] } });
    cleanups.push(() => relay.destroy());

    writeFileSync(rules, '- name: broken\n  reason: not-a-reason\n');
    expect(() => relay.classifier.reload()).toThrow(/BOUNCEGATE_RULES_INVALID|not-a-reason|reason/);
    const reply = { code: 550, enhancedCode: '5.7.1', text: CUSTOM_REPLY, stage: 'rcpt' as const, local: false, localPermanent: false };
    expect(relay.classifier.classify(reply, null).rule).toBe('acme-retired-mailbox');
  });
});
