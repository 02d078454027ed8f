import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

const target = ['--admin-url', 'http://127.0.0.1:9', '--token', 'unused-token-000000'];

describe('CLI usage', () => {
  it('help lists every command', async () => {
    for (const argv of [[], ['help'], ['--help'], ['-h']]) {
      const result = await runCli(argv);
      expect(result.code, argv.join(' ')).toBe(0);
      for (const command of ['start', 'events', 'suppress list', 'suppress add', 'suppress remove', 'suppress show', 'queue', 'classify', 'parse-dsn']) {
        expect(result.stdout, command).toContain(`  ${command}`);
      }
    }
  });

  it('help of a command shows its options', async () => {
    for (const argv of [['help', 'suppress', 'remove'], ['suppress', 'remove', '--help'], ['--help', 'suppress', 'remove']]) {
      const result = await runCli(argv);
      expect(result.code, argv.join(' ')).toBe(0);
      expect(result.stdout, argv.join(' ')).toMatch(/^usage: bouncegate suppress remove ADDRESS --note TEXT/);
      expect(result.stdout, argv.join(' ')).toContain('--note TEXT');
    }
  });

  it('help of a group shows every subcommand', async () => {
    const result = await runCli(['suppress', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: bouncegate suppress list');
    expect(result.stdout).toContain('usage: bouncegate suppress show');
  });

  it('unknown command exits 2', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bouncegate: unknown command "frobnicate"; run "bouncegate help" for the list\n' +
        'usage: bouncegate [--config PATH] [--admin-url URL] [--token TOKEN] COMMAND [options]\n',
    );
  });

  it('suppress without a subcommand exits 2', async () => {
    const result = await runCli(['suppress']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('suppress needs a subcommand: list, add, remove, show');
  });

  it('unknown subcommand exits 2', async () => {
    const result = await runCli(['suppress', 'delete', 'a@example.com']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown subcommand "suppress delete"');
  });

  it('unknown option exits 2', async () => {
    const result = await runCli([...target, 'events', '--recipent', 'a@example.com']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bouncegate: unknown option --recipent\n');
    expect(result.stderr).toContain('usage: bouncegate events');
  });

  it('command option before the command exits 2', async () => {
    const result = await runCli(['--json', 'events']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown option --json before the command');
  });

  it('option without its value exits 2', async () => {
    const missing = await runCli([...target, 'events', '--limit']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('option --limit needs a value');

    const global = await runCli(['--config']);
    expect(global.code).toBe(2);
    expect(global.stderr).toContain('option --config needs a value');
  });

  it('boolean option with a value exits 2', async () => {
    const result = await runCli([...target, 'queue', '--json=yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('option --json takes no value');
  });

  it('missing and extra positionals exit 2', async () => {
    const missing = await runCli([...target, 'suppress', 'show']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('bouncegate: missing ADDRESS\nusage: bouncegate suppress show ADDRESS [--json]\n');

    const extra = await runCli([...target, 'suppress', 'show', 'a@example.com', 'b@example.com']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "b@example.com"');

    const retry = await runCli([...target, 'queue', 'retry']);
    expect(retry.code).toBe(2);
    expect(retry.stderr).toContain('missing QUEUE_ID');
  });

  it('invalid admin URL fails', async () => {
    const result = await runCli(['--admin-url', 'ftp://host', '--token', 'x'.repeat(20), 'queue']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid admin API URL "ftp://host"');
  });
});

describe('CLI command names', () => {
  it('names of Object.prototype are unknown commands', async () => {
    for (const name of ['toString', 'constructor', '__proto__']) {
      const result = await runCli([name]);
      expect(result.code, name).toBe(2);
      expect(result.stderr, name).toContain(`unknown command "${name}"`);
    }
  });

  it('external commands take options after their name', async () => {
    const result = await runCli(['--config', 'x.yaml', 'classify', '550 5.1.1 unknown']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('classify reads its own options: put them after the command name');
  });
});
