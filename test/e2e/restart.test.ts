import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/tmp.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { submit, TEST_TOKEN, waitFor } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface RelayProcess {
  child: ChildProcess;
  smtpPort: number;
  adminPort: number;
}

/** Starts `bouncegate start` from source in a child process and reads its ports from the start log line. */
async function spawnRelay(configPath: string): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'start', '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start within 20 s:\n${output}`)), 20_000);
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (const line of buffer.split('\n')) {
        if (!line.includes('"bouncegate started"')) {
          continue;
        }
        const record = JSON.parse(line) as { smtp: { port: number }; admin: { port: number } };
        clearTimeout(timer);
        resolve({ child, smtpPort: record.smtp.port, adminPort: record.admin.port });
        return;
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code} before it started:\n${output}`));
    });
  });
}

async function adminEvents(adminPort: number, query: string): Promise<Array<{ recipient: string; action: string; attempt: number }>> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/api/events?${query}`, {
    headers: { authorization: `Bearer ${TEST_TOKEN}` },
  });
  const body = (await response.json()) as { events: Array<{ recipient: string; action: string; attempt: number }> };
  return body.events;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
  });
}

const cleanups: Array<() => Promise<unknown> | void> = [];

/** Writes a config for a relay with its data in a new temp folder, relaying to the upstream. */
function writeRelayConfig(upstreamPort: number): string {
  const temp = makeTempDir('bouncegate-restart-');
  cleanups.push(() => temp.remove());
  const configPath = join(temp.path, 'bouncegate.yaml');
  writeFileSync(
    configPath,
    [
      `dataDir: ${join(temp.path, 'data')}`,
      'listen: { host: 127.0.0.1, port: 0 }',
      'bounce: { listen: "127.0.0.1:0" }',
      `admin: { host: 127.0.0.1, port: 0, token: ${TEST_TOKEN} }`,
      `relay: { smarthost: "127.0.0.1:${upstreamPort}" }`,
      'retry: { schedule: [1], maxAge: 3600 }',
      '',
    ].join('\n'),
  );
  return configPath;
}
afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups.pop()?.();
  }
});

describe('restart with mail in the queue', () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`loses nothing after ${signal}`, async () => {
      let accepting = false;
      const upstream: Upstream = await startUpstream({
        onRecipient: () => (accepting ? null : '451 4.3.2 System not accepting network messages'),
      });
      cleanups.push(() => upstream.close());
      const configPath = writeRelayConfig(upstream.port);

      const first = await spawnRelay(configPath);
      cleanups.push(() => {
        first.child.kill('SIGKILL');
      });
      const recipients = ['a@queue.example', 'b@queue.example', 'c@queue.example'];
      for (const recipient of recipients) {
        await submit({ smtp: { port: first.smtpPort } }, { from: 'app@sender.example', to: [recipient] });
      }
      await waitFor(async () => {
        const deferred = await adminEvents(first.adminPort, 'action=deferred&limit=100');
        return recipients.every((recipient) => deferred.some((event) => event.recipient === recipient)) ? true : undefined;
      });

      first.child.kill(signal);
      await exited(first.child);
      accepting = true;

      const second = await spawnRelay(configPath);
      cleanups.push(async () => {
        second.child.kill('SIGTERM');
        await exited(second.child);
      });
      const delivered = await waitFor(async () => {
        const events = await adminEvents(second.adminPort, 'action=delivered&limit=100');
        return events.length === recipients.length ? events : undefined;
      }, 20_000);

      expect(delivered.map((event) => event.recipient).sort()).toEqual(recipients);
      expect(upstream.received.map((message) => message.to[0]).sort()).toEqual(recipients);
    });
  }

  it('delivers every 250 after kill -9 under load', async () => {
    const upstream: Upstream = await startUpstream({});
    cleanups.push(() => upstream.close());
    const configPath = writeRelayConfig(upstream.port);

    const first = await spawnRelay(configPath);
    cleanups.push(() => {
      first.child.kill('SIGKILL');
    });
    const accepted: string[] = [];
    const submissions = Array.from({ length: 60 }, (_unused, index) => `load${index}@queue.example`).map(async (recipient, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * 10));
      try {
        await submit({ smtp: { port: first.smtpPort } }, { from: 'app@sender.example', to: [recipient] });
        accepted.push(recipient);
      } catch {
        // Submissions cut off by the kill never got a 250, so the client still owns them.
      }
    });
    await waitFor(async () => (accepted.length >= 20 ? true : undefined));
    first.child.kill('SIGKILL');
    await Promise.all(submissions);
    await exited(first.child);
    const acceptedAtKill = [...accepted];

    const second = await spawnRelay(configPath);
    cleanups.push(async () => {
      second.child.kill('SIGTERM');
      await exited(second.child);
    });
    await waitFor(async () => {
      const received = new Set(upstream.received.map((message) => message.to[0]));
      return acceptedAtKill.every((recipient) => received.has(recipient)) ? true : undefined;
    }, 20_000, 'every accepted message at the upstream');

    const received = new Set(upstream.received.map((message) => message.to[0]));
    expect(acceptedAtKill.filter((recipient) => !received.has(recipient))).toEqual([]);
  });
});
