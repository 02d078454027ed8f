import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Cleanup } from './cleanup.js';
import { freePort, sleep, waitForPort } from './net.js';
import { treeCpuSeconds, treePssKb } from './proc.js';

const run = promisify(execFile);

/** A private Postfix instance that relays everything it accepts from loopback to one host. */
export interface PostfixRelay {
  port: number;
  /** Pid of the master process, the root of the instance's process tree. */
  masterPid: number;
  /** CPU seconds used so far by the master and every process it started (see treeCpuSeconds). */
  cpuSeconds(): number;
  /** Current proportional set size of the whole instance, in kB. */
  pssKb(): number;
  /** Number of messages in the instance's queue folders (incoming, active, deferred, maildrop). */
  queuedMessages(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts a private Postfix with its own config folder, queue and data directory, listening on a free
 * loopback port, with `relayhost` pointing at 127.0.0.1:relayPort. Every durability setting stays at
 * its default, so Postfix fsyncs each queue file before it sends 250 for the end of DATA. The
 * system's Postfix is never touched. Requires root, as Postfix's master does.
 */
export async function startPostfixRelay(cleanup: Cleanup, relayPort: number): Promise<PostfixRelay> {
  const temp = cleanup.tempDir('bouncegate-bench-postfix-');
  // Postfix's daemons run as the postfix user and must reach the queue through this folder.
  chmodSync(temp.path, 0o755);
  const conf = join(temp.path, 'conf');
  const queue = join(temp.path, 'queue');
  const data = join(temp.path, 'data');
  for (const dir of [conf, queue, data]) {
    mkdirSync(dir, { recursive: true });
  }
  const postfixUid = Number((await run('id', ['-u', 'postfix'])).stdout.trim());
  chownSync(data, postfixUid, -1);

  const port = await freePort();
  writeFileSync(
    join(conf, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${queue}`,
      `data_directory = ${data}`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'myhostname = postfix.bench',
      'mydestination =',
      'alias_maps =',
      'alias_database =',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      `relayhost = [127.0.0.1]:${relayPort}`,
      `maillog_file = ${join(temp.path, 'maillog')}`,
      'maillog_file_prefixes = /tmp, /var',
      'smtpd_banner = $myhostname ESMTP',
      '',
    ].join('\n'),
  );
  copyFileSync('/etc/postfix/master.cf', join(conf, 'master.cf'));
  const master = readFileSync(join(conf, 'master.cf'), 'utf8').replace(
    /^smtp\s+inet\s+n\s+-\s+\S+\s+-\s+-\s+smtpd$/m,
    `127.0.0.1:${port} inet n - n - - smtpd`,
  );
  if (!master.includes(`127.0.0.1:${port} inet`)) {
    throw new Error('the smtp line of /etc/postfix/master.cf has an unexpected form; cannot move it to a loopback port');
  }
  writeFileSync(join(conf, 'master.cf'), master);

  const stop = cleanup.add(`stop Postfix in ${conf}`, async () => {
    await run('postfix', ['-c', conf, 'stop']).catch(() => undefined);
    // `postfix stop` returns before every daemon has exited; give them a moment before the folder goes.
    await sleep(500);
  });

  try {
    await run('postfix', ['-c', conf, 'start']);
    await waitForPort(port, 10_000, 'Postfix');
  } catch (error) {
    const log = existsSync(join(temp.path, 'maillog')) ? readFileSync(join(temp.path, 'maillog'), 'utf8') : '';
    await stop();
    throw new Error(`starting Postfix failed: ${(error as Error).message}\n${log.slice(-4000)}`);
  }
  const masterPid = Number(readFileSync(join(queue, 'pid', 'master.pid'), 'utf8').trim());

  return {
    port,
    masterPid,
    cpuSeconds: () => treeCpuSeconds(masterPid),
    pssKb: () => treePssKb(masterPid),
    async queuedMessages() {
      const { stdout } = await run('find', [join(queue, 'incoming'), join(queue, 'active'), join(queue, 'deferred'), join(queue, 'maildrop'), '-type', 'f']);
      return stdout.split('\n').filter((line) => line.length > 0).length;
    },
    stop,
  };
}

/** Returns Postfix's version ("3.7.11"), or "not installed". */
export async function postfixVersion(): Promise<string> {
  try {
    const { stdout } = await run('postconf', ['-d', '-h', 'mail_version']);
    return stdout.trim();
  } catch {
    return 'not installed';
  }
}
