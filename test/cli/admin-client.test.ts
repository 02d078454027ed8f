import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveAdminTarget } from '../../src/cli/admin-client.js';
import { parseConfig } from '../../src/config/load.js';
import { TEST_TOKEN } from '../admin/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';
import { runCli } from './helpers.js';

/** Returns a loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('resolveAdminTarget', () => {
  let dir: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    dir = makeTempDir();
  });

  afterEach(() => {
    dir.remove();
  });

  const configWith = (admin: Record<string, unknown>) => () => parseConfig({ dataDir: dir.path, admin });

  it('derives the URL from the config and reads the token file', () => {
    writeFileSync(join(dir.path, 'admin-token'), 'file-token-0123456789\n', { mode: 0o600 });
    const target = resolveAdminTarget({}, {}, configWith({ host: '127.0.0.1', port: 8125 }));
    expect(target).toEqual({ url: 'http://127.0.0.1:8125', token: 'file-token-0123456789' });
  });

  it('prefers admin.token of the config over the token file', () => {
    writeFileSync(join(dir.path, 'admin-token'), 'file-token-0123456789\n', { mode: 0o600 });
    const target = resolveAdminTarget({}, {}, configWith({ token: 'config-token-0123456789' }));
    expect(target.token).toBe('config-token-0123456789');
  });

  it('connects to loopback when the admin port listens on every address', () => {
    expect(resolveAdminTarget({ token: 't' }, {}, configWith({ host: '0.0.0.0', port: 8025 })).url).toBe('http://127.0.0.1:8025');
    expect(resolveAdminTarget({ token: 't' }, {}, configWith({ host: '::', port: 8025 })).url).toBe('http://[::1]:8025');
  });

  it('prefers options over the environment', () => {
    const env = { BOUNCEGATE_ADMIN_URL: 'http://127.0.0.1:1111', BOUNCEGATE_ADMIN_TOKEN: 'env-token' };
    const noConfig = () => {
      throw new Error('config must not be loaded');
    };
    expect(resolveAdminTarget({}, env, noConfig)).toEqual({ url: 'http://127.0.0.1:1111', token: 'env-token' });
    expect(resolveAdminTarget({ adminUrl: 'http://127.0.0.1:2222', token: 'flag-token' }, env, noConfig)).toEqual({
      url: 'http://127.0.0.1:2222',
      token: 'flag-token',
    });
  });

  it('passes --config, else BOUNCEGATE_CONFIG, to the loader', () => {
    const paths: Array<string | undefined> = [];
    const loader = (path?: string) => {
      paths.push(path);
      return parseConfig({ dataDir: dir.path, admin: { token: 'config-token-0123456789' } });
    };
    resolveAdminTarget({ configPath: 'flag.yaml' }, { BOUNCEGATE_CONFIG: 'env.yaml' }, loader);
    resolveAdminTarget({}, { BOUNCEGATE_CONFIG: 'env.yaml' }, loader);
    resolveAdminTarget({}, {}, loader);
    expect(paths).toEqual(['flag.yaml', 'env.yaml', undefined]);
  });

  it('names the token file when it is missing', () => {
    expect(() => resolveAdminTarget({ adminUrl: 'http://127.0.0.1:8025' }, {}, configWith({}))).toThrow(
      `no admin token: cannot read ${join(dir.path, 'admin-token')} (file not found`,
    );
  });
});

describe('CLI connection failures', () => {
  it('says the relay may not be running when the connection is refused', async () => {
    const port = await closedPort();
    const result = await runCli(['--admin-url', `http://127.0.0.1:${port}`, '--token', TEST_TOKEN, 'queue']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `bouncegate: cannot reach the admin API at http://127.0.0.1:${port}: connection refused. Is bouncegate running?\n`,
    );
  });

  it('reports a server that does not speak the API', async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>welcome</html>');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    try {
      const result = await runCli(['--admin-url', url, '--token', TEST_TOKEN, 'queue']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`bouncegate: the server at ${url} returned HTTP 200 with a body that is not admin API JSON; check --admin-url\n`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    }
  });
});

describe('bin/bouncegate.js', () => {
  it('runs the CLI from the source tree', async () => {
    const bin = resolve(import.meta.dirname, '../../bin/bouncegate.js');
    const child = spawn(process.execPath, [bin, 'help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const code = await new Promise<number | null>((done) => child.on('close', done));

    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: bouncegate /);
  });
});
