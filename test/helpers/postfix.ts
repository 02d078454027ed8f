import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

/** Returns whether Debian's Postfix is installed and private instances can start (they need root). */
export function postfixAvailable(): boolean {
  return existsSync('/usr/sbin/postfix') && process.getuid?.() === 0;
}

/** Options of a private Postfix instance that accepts mail for one domain and discards it. */
export interface PostfixOptions {
  /** Domain Postfix accepts mail for (relay_domains, delivered to the discard transport). */
  domain: string;
  /** Recipient address → access(5) action, e.g. "550 5.4.1 Access denied". */
  recipientAccess?: Record<string, string>;
  /** Port of a policy server (check_policy_service), e.g. a greylisting one. */
  policyPort?: number;
}

/** A running private Postfix: its SMTP port on 127.0.0.1, its log, and a stop function. */
export interface PostfixInstance {
  port: number;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts a private Postfix instance (own config folder, queue and data directory, loopback only)
 * that never touches the system's Postfix. Requires root, as Postfix's master does.
 */
export async function startPostfix(options: PostfixOptions): Promise<PostfixInstance> {
  const temp = makeTempDir('bouncegate-postfix-');
  // Postfix's daemons run as the postfix user and must reach the queue through this folder.
  chmodSync(temp.path, 0o755);
  const conf = join(temp.path, 'conf');
  const queue = join(temp.path, 'queue');
  const data = join(temp.path, 'data');
  for (const dir of [conf, queue, data]) {
    mkdirSync(dir, { recursive: true });
  }
  const postfixUser = await run('id', ['-u', 'postfix']).then((result) => Number(result.stdout.trim()));
  chownSync(data, postfixUser, -1);

  const port = await freePort();
  const access = Object.entries(options.recipientAccess ?? {})
    .map(([address, action]) => `${address} ${action}`)
    .join('\n');
  writeFileSync(join(conf, 'access'), `${access}\n`);
  writeFileSync(join(conf, 'transport'), `${options.domain} discard:\n`);

  const restrictions = [
    `check_recipient_access texthash:${join(conf, 'access')}`,
    ...(options.policyPort ? [`check_policy_service inet:127.0.0.1:${options.policyPort}`] : []),
    'permit_mynetworks',
    'reject_unauth_destination',
  ];
  writeFileSync(
    join(conf, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${queue}`,
      `data_directory = ${data}`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'myhostname = postfix.test',
      'mydestination =',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      `relay_domains = ${options.domain}`,
      `transport_maps = texthash:${join(conf, 'transport')}`,
      `smtpd_recipient_restrictions = ${restrictions.join(', ')}`,
      'mynetworks = 127.0.0.0/8',
      `maillog_file = ${join(temp.path, 'maillog')}`,
      'maillog_file_prefixes = /tmp, /var',
      'smtpd_banner = $myhostname ESMTP',
      'smtputf8_enable = yes',
      '',
    ].join('\n'),
  );
  copyFileSync('/etc/postfix/master.cf', join(conf, 'master.cf'));
  const master = readFileSync(join(conf, 'master.cf'), 'utf8').replace(
    /^smtp\s+inet\s+n\s+-\s+\S+\s+-\s+-\s+smtpd$/m,
    `127.0.0.1:${port} inet n - n - - smtpd`,
  );
  writeFileSync(join(conf, 'master.cf'), master);

  const instance: PostfixInstance = {
    port,
    dir: temp.path,
    log: () => (existsSync(join(temp.path, 'maillog')) ? readFileSync(join(temp.path, 'maillog'), 'utf8') : ''),
    async stop() {
      await run('postfix', ['-c', conf, 'stop']).catch(() => undefined);
      temp.remove();
    },
  };

  try {
    await run('postfix', ['-c', conf, 'start']);
  } catch (error) {
    const log = instance.log();
    await instance.stop();
    throw new Error(`starting Postfix failed: ${(error as Error).message}\n${log}`);
  }
  await waitForPort(port, 10_000);
  return instance;
}

/**
 * Starts a Postfix policy server (SMTPD_POLICY_README protocol) that greylists: the first request for
 * each (client, sender, recipient) triple gets "451 4.7.1", later ones are let through. With
 * `recipients`, only those addresses are greylisted.
 */
export async function startGreylistPolicy(recipients?: readonly string[]): Promise<{ port: number; close(): Promise<void> }> {
  const seen = new Set<string>();
  const server: Server = createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const request = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const attributes = new Map(
          request.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
        );
        const key = `${attributes.get('client_address')}/${attributes.get('sender')}/${attributes.get('recipient')}`;
        const greylisted = !recipients || recipients.includes(attributes.get('recipient') ?? '');
        const first = greylisted && !seen.has(key);
        seen.add(key);
        socket.write(first ? 'action=451 4.7.1 Greylisted, please try again later\n\n' : 'action=DUNNO\n\n');
        end = buffer.indexOf('\n\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Postfix did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
