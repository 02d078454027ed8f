import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runClassify } from '../../src/cli/classify.js';

const tempDir = mkdtempSync(join(tmpdir(), 'bouncegate-classify-cli-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

async function run(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  stdin.end(input);

  const code = await runClassify(args, { stdin, stdout, stderr });
  return { code, stdout: out, stderr: err };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('bouncegate classify', () => {
  it('classifies the REPLY argument as JSON', async () => {
    const { code, stdout } = await run(['550 5.1.1 <jdoe@example.org>: Recipient address rejected: User unknown', '--json']);
    const [record] = jsonLines(stdout);

    expect(code).toBe(0);
    expect(record).toMatchObject({ code: 550, enhancedCode: '5.1.1', permanent: true, reason: 'userunknown', side: 'recipient', suppress: true, rule: 'user-unknown' });
    expect(typeof record?.['why']).toBe('string');
  });

  it('human output names the rule', async () => {
    const { code, stdout } = await run(['550 5.4.1 Recipient address rejected: Access denied', '--mx', 'contoso.mail.protection.outlook.com']);

    expect(code).toBe(0);
    expect(stdout).toContain('550 5.4.1: userunknown, recipient side, permanent, suppress');
    expect(stdout).toContain('rule "microsoft-dbeb-recipient-not-found"');
  });

  it('reads plain and JSON lines from stdin', async () => {
    const input = [
      '452 4.2.2 Mailbox full',
      '',
      JSON.stringify({ reply: '550-5.7.26 Unauthenticated email from example.net is not accepted due to\n550 5.7.26 domain\'s DMARC policy.', mx: 'gmail-smtp-in.l.google.com', stage: 'eod' }),
    ].join('\n');
    const { code, stdout } = await run(['--json'], input);
    const records = jsonLines(stdout);

    expect(code).toBe(0);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ reason: 'mailboxfull', permanent: false, suppress: false, stage: 'rcpt' });
    expect(records[1]).toMatchObject({ reason: 'authfailure', mx: 'gmail-smtp-in.l.google.com', stage: 'eod', suppress: false });
  });

  it('invalid stdin line is reported', async () => {
    const { code, stdout, stderr } = await run(['--json'], '{"reply": 5}\n550 5.1.1 User unknown\n');

    expect(code).toBe(1);
    expect(stderr).toContain('stdin line 1: expected a JSON object with a string "reply"');
    expect(jsonLines(stdout)).toHaveLength(1);
  });

  it('operator rule file goes first', async () => {
    const rules = join(tempDir, 'operator.yaml');
    writeFileSync(rules, ['- name: local-frozen', '  text: frozen', '  reason: suspend', '  side: recipient', '  suppress: true', '  sample: "550 5.1.1 Mailbox frozen"'].join('\n'));
    const { code, stdout } = await run(['550 5.1.1 Mailbox frozen', '--json', '--rules', rules]);

    expect(code).toBe(0);
    expect(jsonLines(stdout)[0]).toMatchObject({ rule: 'local-frozen', reason: 'suspend' });
  });

  it('invalid rule file exits 1', async () => {
    const rules = join(tempDir, 'broken.yaml');
    writeFileSync(rules, '- name: broken\n');
    const { code, stderr } = await run(['550 x', '--rules', rules]);

    expect(code).toBe(1);
    expect(stderr).toContain('BOUNCEGATE_RULES_INVALID');
  });

  it('unknown option is bad usage', async () => {
    const { code, stderr } = await run(['--nope']);

    expect(code).toBe(2);
    expect(stderr).toContain('usage: bouncegate classify');
  });

  it('invalid stage is bad usage', async () => {
    const { code, stderr } = await run(['550 x', '--stage', 'later']);

    expect(code).toBe(2);
    expect(stderr).toContain('invalid --stage "later"');
  });

  it('two replies are bad usage', async () => {
    const { code } = await run(['550', 'x']);

    expect(code).toBe(2);
  });
});
