import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { postfixVersion } from './postfix.js';
import { REPO_ROOT } from './relay.js';

/** The machine and software a run measured, read at run time. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** The file system of the temp folder, where every store, spool and queue of the run lives. */
  disk: string;
  kernel: string;
  node: string;
  postfix: string;
  packages: Record<string, string>;
}

/** Reads the facts of this machine that the results page lists. */
export async function readMachineInfo(): Promise<MachineInfo> {
  return {
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: totalmem() / 1024 ** 3,
    disk: diskOf(tmpdir()),
    kernel: release(),
    node: process.version,
    postfix: await postfixVersion(),
    packages: Object.fromEntries(['smtp-server', 'nodemailer', 'level', 'classic-level', 'pino'].map((name) => [name, packageVersion(name)])),
  };
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function diskOf(path: string): string {
  try {
    const output = execFileSync('df', ['--output=source,fstype,size', '-h', path], { encoding: 'utf8' });
    const [source = '?', fstype = '?', size = '?'] = (output.trim().split('\n')[1] ?? '').trim().split(/\s+/);
    const device = source.replace(/^\/dev\//, '').replace(/\d+$/, '');
    let kind = '';
    try {
      kind = `, queue/rotational ${readFileSync(`/sys/block/${device}/queue/rotational`, 'utf8').trim()}`;
    } catch {
      kind = '';
    }
    return `${source} (${fstype}, ${size}${kind}) holding ${path}`;
  } catch {
    return `unknown, holding ${path}`;
  }
}

function packageVersion(name: string): string {
  try {
    const text = readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}
