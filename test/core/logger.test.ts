import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { censorSecrets, createLogger } from '../../src/core/logger.js';
import { makeTempDir } from '../helpers/tmp.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Returns a logger that writes into an array of parsed lines. */
function capture(): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, logger };
}

describe('createLogger', () => {
  it('censors top-level and nested secrets', () => {
    const { lines, logger } = capture();
    // Each case: a field as logged, and as the line must show it.
    const cases: Array<[string, unknown, unknown]> = [
      ['user', 'app1', 'app1'],
      ['password', 'hunter2', '[redacted]'],
      ['pass', 'p', '[redacted]'],
      ['token', 't', '[redacted]'],
      ['authorization', 'Bearer x', '[redacted]'],
      ['auth', { user: 'app1', pass: 'smarthost-secret' }, { user: 'app1', pass: '[redacted]' }],
      ['headers', { authorization: 'Bearer y', accept: 'text/html' }, { authorization: '[redacted]', accept: 'text/html' }],
    ];
    logger.info(Object.fromEntries(cases.map(([field, logged]) => [field, logged])), 'AUTH succeeded');

    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(JSON.stringify(line)).not.toMatch(/hunter2|smarthost-secret|Bearer/);
    for (const [field, , shown] of cases) {
      expect(line[field], field).toEqual(shown);
    }
    expect(line).toMatchObject({ msg: 'AUTH succeeded', service: 'bouncegate' });
  });

  it('censors child logger bindings', () => {
    const { lines, logger } = capture();
    logger.child({ session: 's1', token: 'admin-token' }).child({ authorization: 'Bearer z' }).info({ auth: { pass: 'pw' } }, 'connected');
    expect(JSON.stringify(lines)).not.toMatch(/admin-token|Bearer|"pw"/);
    expect(lines[0]).toMatchObject({ session: 's1', token: '[redacted]', authorization: '[redacted]', auth: { pass: '[redacted]' } });
  });

  it('keeps an error with its message and stack', () => {
    const { lines, logger } = capture();
    const error = Object.assign(new Error('login refused'), { code: 'EAUTH', password: 'hunter2' });
    logger.error({ err: error }, 'smarthost AUTH failed');
    const logged = lines[0]?.err as Record<string, unknown>;
    expect(logged).toMatchObject({ type: 'Error', message: 'login refused', code: 'EAUTH', password: '[redacted]' });
    expect(logged.stack).toMatch(/login refused/);
    expect(error.password).toBe('hunter2');
  });

  it('writes lines without secrets unchanged', () => {
    const { lines, logger } = capture();
    logger.info({ queueId: 'Q1', recipient: 'a@example.com', code: 250, nested: { mx: 'mx.example.com' }, list: [{ password: 'in-array' }] }, 'delivery attempt');
    expect(lines[0]).toMatchObject({ queueId: 'Q1', recipient: 'a@example.com', code: 250, nested: { mx: 'mx.example.com' }, list: [{ password: 'in-array' }] });
  });
});

describe('createLogger on stdout', () => {
  it('writes each line before returning', () => {
    const dir = makeTempDir();
    const output = join(dir.path, 'stdout.log');
    const fd = openSync(output, 'w');
    // The child checks the size of its stdout file right after the call, before any write queued
    // for later could run.
    const script = `import { fstatSync } from 'node:fs';
      import { createLogger } from ${JSON.stringify(join(REPO, 'src', 'core', 'logger.ts'))};
      const logger = createLogger('info');
      logger.info({ queueId: 'Q1' }, 'delivery attempt');
      process.stderr.write(String(fstatSync(1).size));`;
    try {
      const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', fd, 'pipe'] });
      const written = readFileSync(output, 'utf8');

      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(written)).toMatchObject({ queueId: 'Q1', msg: 'delivery attempt' });
      expect(Number(result.stderr)).toBe(Buffer.byteLength(written));
    } finally {
      closeSync(fd);
      dir.remove();
    }
  });
});

describe('censorSecrets', () => {
  it('copies only objects it censors', () => {
    const clean = { queueId: 'Q1', session: { id: 's1' } };
    expect(censorSecrets(clean)).toBe(clean);

    const nested = { user: 'u', pass: 'secret' };
    const fields = { auth: nested, password: 'pw' };
    const censored = censorSecrets(fields);
    expect(censored).toEqual({ auth: { user: 'u', pass: '[redacted]' }, password: '[redacted]' });
    expect(fields).toEqual({ auth: { user: 'u', pass: 'secret' }, password: 'pw' });
    expect(nested.pass).toBe('secret');
  });

  it('censors read-only secret fields in a copy', () => {
    const frozen = Object.freeze({ inner: Object.freeze({ token: 't' }), password: 'pw' });
    expect(censorSecrets(frozen)).toEqual({ inner: { token: '[redacted]' }, password: '[redacted]' });
  });
});
