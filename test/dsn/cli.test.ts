import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runParseDsn } from '../../src/cli/parse-dsn.js';
import { dsnFixturePath } from './helpers.js';

const tempDir = mkdtempSync(join(tmpdir(), 'bouncegate-parse-dsn-cli-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  stdin.end();

  const code = await runParseDsn(args, { stdin, stdout, stderr });
  return { code, stdout: out, stderr: err };
}

describe('bouncegate parse-dsn', () => {
  it('prints one JSON object per file', async () => {
    const files = [dsnFixturePath('postfix-two-recipients.eml'), dsnFixturePath('plain-mail.eml')];
    const { code, stdout } = await run([...files, '--json']);
    const [bounce, plain] = stdout.trim().split('\n').map((line) => JSON.parse(line) as { file: string; bounces: Record<string, unknown>[] });

    expect(code).toBe(0);
    expect(bounce?.file).toBe(files[0]);
    expect(bounce?.bounces[0]).toEqual({
      recipient: 'alice@dest.example',
      status: '5.1.1',
      replycode: 550,
      reason: 'userunknown',
      action: 'failed',
      diagnostic: '550 5.1.1 <alice@dest.example>: Recipient address rejected: User unknown in virtual mailbox table',
    });
    expect(plain?.bounces).toEqual([]);
  });

  it('merges the messages of an mbox', async () => {
    const { stdout } = await run([dsnFixturePath('two-bounces.mbox'), '--json']);
    const record = JSON.parse(stdout) as { bounces: { recipient: string }[] };

    expect(record.bounces.map((bounce) => bounce.recipient)).toEqual(['erin@dest.example', 'carol@dest.example', 'dave@gone.example']);
  });

  it('human output lists recipients', async () => {
    const { code, stdout } = await run([dsnFixturePath('qmail.eml')]);

    expect(code).toBe(0);
    expect(stdout).toContain('bounce, 2 recipients, original message <20240603071454.4409.qmail@sender.example>');
    expect(stdout).toContain('carol@dest.example  5.1.1  550  userunknown  failed  suppress');
  });

  it('unreadable file exits 1 and continues', async () => {
    const garbage = join(tempDir, 'garbage.bin');
    writeFileSync(garbage, Buffer.from([0, 1, 2, 3, 255]));
    const { code, stdout, stderr } = await run([join(tempDir, 'missing.eml'), garbage, dsnFixturePath('exim.eml'), '--json']);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { error?: string; bounces: unknown[] });

    expect(code).toBe(1);
    expect(stderr).toContain('missing.eml');
    expect(stderr).toContain('BOUNCEGATE_DSN_INVALID');
    expect(lines).toHaveLength(3);
    expect(lines[2]?.bounces).toHaveLength(1);
  });

  it('missing FILE is bad usage', async () => {
    const { code, stderr } = await run(['--json']);

    expect(code).toBe(2);
    expect(stderr).toContain('usage: bouncegate parse-dsn');
  });
});
