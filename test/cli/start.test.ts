import { spawn, type ChildProcess } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/tmp.js';
import { runCli } from './helpers.js';

const BIN = resolve(import.meta.dirname, '../../bin/bouncegate.js');
/** How long the relay may take to open its admin port, in ms. */
const STARTUP_TIMEOUT_MS = 20_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`bouncegate start exited early with code ${child.exitCode}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`the admin API at ${url} did not answer within ${STARTUP_TIMEOUT_MS} ms`);
}

describe('bouncegate start', () => {
  let child: ChildProcess | undefined;
  let dir: ReturnType<typeof makeTempDir> | undefined;

  afterEach(() => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
    }
    dir?.remove();
  });

  it('runs the relay until SIGTERM and serves the CLI', async () => {
    dir = makeTempDir();
    const port = await freePort();
    const configPath = join(dir.path, 'bouncegate.yaml');
    writeFileSync(
      configPath,
      [
        `dataDir: ${JSON.stringify(join(dir.path, 'data'))}`,
        'listen: { host: 127.0.0.1, port: 0 }',
        'bounce: { listen: "127.0.0.1:0" }',
        `admin: { host: 127.0.0.1, port: ${port} }`,
        'log: { level: silent }',
        '',
      ].join('\n'),
    );

    child = spawn(process.execPath, [BIN, '--config', configPath, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((done) => child?.on('close', done));

    await waitForHealth(`http://127.0.0.1:${port}`, child);
    const tokenFile = join(dir.path, 'data', 'admin-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);

    // URL and token come from the config and the token file, as for an operator on the relay host.
    const added = await runCli(['--config', configPath, 'suppress', 'add', 'a@example.com', '--reason', 'userunknown']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const queue = await runCli(['--config', configPath, 'queue']);
    expect(queue.stdout).toBe('the queue is empty\n');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('generated admin token');
    expect(stderr).toContain('SIGTERM received, stopping');
  });
});
