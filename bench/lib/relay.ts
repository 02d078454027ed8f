import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runToEnd, startChild, type Child } from './child.js';
import type { Cleanup } from './cleanup.js';
import { freePort, waitForPort } from './net.js';
import { RELAY_NODE_FLAGS } from '../../src/core/node-flags.js';
import { processCpuSeconds, statusKb } from './proc.js';

/** Root of the repository, where `src/cli/main.ts` lives. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** Command line that loads the relay: compiled JavaScript (as `npm start` runs it) or TypeScript through tsx. */
export interface RelayEntry {
  /** Node arguments before `start --config FILE`. */
  args: string[];
  /** "compiled with tsc" or "TypeScript through tsx", for the results page. */
  description: string;
}

/**
 * Compiles src/ with tsconfig.build.json into a temp folder (deleted at cleanup) that links the
 * repository's node_modules and config, so the relay runs as `node dist/cli/main.js` with the Node
 * flags of `npm start`, without writing dist/ into the work tree. tsx adds about 30 MB of resident
 * memory for its loader thread, which the compiled form does not have. Falls back to tsx when the
 * compiler produced no entry point.
 */
export async function prepareRelayEntry(cleanup: Cleanup): Promise<RelayEntry> {
  const temp = cleanup.tempDir('bouncegate-bench-build-');
  const outDir = join(temp.path, 'dist');
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await runToEnd(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', outDir, '--sourceMap', 'false']);
  const main = join(outDir, 'cli', 'main.js');
  if (!existsSync(main)) {
    process.stderr.write(`bench: compiling src/ failed, running the relay through tsx instead:\n${result.stdout}${result.stderr}\n`);
    return { args: [...RELAY_NODE_FLAGS, '--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts')], description: 'TypeScript through tsx (compiling failed)' };
  }
  if (result.code !== 0) {
    // tsc still writes its output when there are type errors, so the relay runs, with a warning.
    const errors = result.stdout.split('\n').filter((line) => line.includes('error TS')).length;
    process.stderr.write(`bench: tsc reported ${errors} type errors in src/; the relay runs from its output anyway\n`);
  }
  // dist/classify/classifier.js finds config/bounce-rules.yaml at ../../config, and "type": "module"
  // in package.json makes Node load the output as ES modules.
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(temp.path, 'node_modules'));
  symlinkSync(join(REPO_ROOT, 'config'), join(temp.path, 'config'));
  copyFileSync(join(REPO_ROOT, 'package.json'), join(temp.path, 'package.json'));
  return { args: [...RELAY_NODE_FLAGS, main], description: `compiled with tsc (node ${RELAY_NODE_FLAGS.join(' ')} dist/cli/main.js start, as npm start runs it)` };
}

/** Returns "commit abc1234" of the work tree, with a remark when src/ has uncommitted changes. */
export async function describeSource(): Promise<string> {
  const head = await runToEnd('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  if (head.code !== 0) {
    return 'unknown (not a git work tree)';
  }
  const status = await runToEnd('git', ['--no-optional-locks', '-C', REPO_ROOT, 'status', '--porcelain', '--', 'src']);
  const changed = status.stdout.split('\n').filter((line) => line.trim() !== '').length;
  return `commit ${head.stdout.trim()}${changed > 0 ? ` with ${changed} uncommitted changes in src/` : ''}`;
}

/** How to run the relay under test. */
export interface RelayOptions {
  entry: RelayEntry;
  /** Port of the smarthost every message is relayed to. */
  smarthostPort: number;
  /** Write a V8 CPU profile (.cpuprofile) into this folder when the relay exits. */
  cpuProfileDir?: string;
  /** Config keys merged over the benchmark's defaults, by top-level section. */
  overrides?: Record<string, Record<string, unknown>>;
}

/** A relay running as a child process: `node dist/cli/main.js start --config FILE` or its tsx form. */
export interface RelayProcess {
  port: number;
  pid: number;
  dataDir: string;
  /** CPU seconds (user plus system) the relay process used so far. */
  cpuSeconds(): number;
  /** Peak resident set size since the process started (VmHWM), in kB. */
  peakRssKb(): number;
  /** Stops the relay with SIGTERM, as an operator would, and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops the relay and deletes its data folder. */
  destroy(): Promise<void>;
}

/**
 * Starts bouncegate with its shipped defaults except: ports, data folder, the smarthost, a fixed admin
 * token, no bounce listener, and the log going to /dev/null (pino still formats every line at the
 * default level, info).
 */
export async function startRelayProcess(cleanup: Cleanup, options: RelayOptions): Promise<RelayProcess> {
  const temp = cleanup.tempDir('bouncegate-bench-relay-');
  const port = await freePort();
  const adminPort = await freePort();
  const overrides = options.overrides ?? {};
  const config = {
    // Overrides of sections the benchmark does not set, such as spool and events, pass through unchanged.
    ...overrides,
    dataDir: join(temp.path, 'data'),
    hostname: 'relay.bench',
    listen: { host: '127.0.0.1', port, ...overrides.listen },
    relay: { smarthost: `127.0.0.1:${options.smarthostPort}`, ...overrides.relay },
    admin: { host: '127.0.0.1', port: adminPort, token: randomBytes(16).toString('hex') },
    // The listener for asynchronous bounces has a fixed default port and no part in the measured path.
    bounce: { listen: null, ...overrides.bounce },
    log: { level: 'info', ...overrides.log },
  };
  const configPath = join(temp.path, 'bouncegate.json');
  // YAML is a superset of JSON, so the config loader reads this file as it is.
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const nodeArgs = [
    ...(options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []),
    ...options.entry.args,
    'start',
    '--config',
    configPath,
  ];
  const child: Child = startChild(cleanup, process.execPath, nodeArgs, { cwd: REPO_ROOT });
  // The admin port opens after the SMTP port and just before the queue runner starts, so a relay
  // whose start failed half-way (SMTP open, admin port not) is caught here instead of never delivering.
  await Promise.race([
    waitForPort(port, 30_000, 'bouncegate').then(() => waitForPort(adminPort, 30_000, 'bouncegate admin API')),
    child.exited.then((code) => {
      throw new Error(`bouncegate exited with ${code} at start: ${child.stderrTail()}`);
    }),
  ]);

  const stop = async (): Promise<void> => {
    await child.stop('SIGTERM', 30_000);
  };
  return {
    port,
    pid: child.pid,
    dataDir: config.dataDir,
    cpuSeconds: () => processCpuSeconds(child.pid),
    peakRssKb: () => statusKb(child.pid, 'VmHWM'),
    stop,
    async destroy() {
      await stop();
      await temp.remove();
    },
  };
}
