import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from '../lib/cleanup.js';
import { summarizeProfile, type InclusiveProbe, type ProfileSummary } from '../lib/cpuprofile.js';
import { startRelayProcess, type RelayEntry } from '../lib/relay.js';
import { runSmtpSource, startSmtpSink } from '../lib/smtp-tools.js';
import { readThreadCpu } from '../lib/proc.js';
import { LARGE_BYTES, SMALL_BYTES, type LoadScenario } from './load.js';

/**
 * The loads profiled: the one the relay is tuned for, and the shapes that stay closest to Postfix
 * (a new connection per message with 10 sessions and 1 or 10 recipients, and 100 KB bodies over a
 * single session, reusing it or not).
 */
export const PROFILE_SHAPES: LoadScenario[] = [
  { name: 'load/4k-s10-r1-reuse', bytes: SMALL_BYTES, sessions: 10, recipients: 1, reuse: true },
  { name: 'load/4k-s10-r1-newconn', bytes: SMALL_BYTES, sessions: 10, recipients: 1, reuse: false },
  { name: 'load/4k-s10-r10-newconn', bytes: SMALL_BYTES, sessions: 10, recipients: 10, reuse: false },
  { name: 'load/100k-s1-r1-reuse', bytes: LARGE_BYTES, sessions: 1, recipients: 1, reuse: true },
  { name: 'load/100k-s1-r1-newconn', bytes: LARGE_BYTES, sessions: 1, recipients: 1, reuse: false },
];

/** Functions whose inclusive time the summary reports: the stages of a message's path. */
export const PROFILE_PROBES: InclusiveProbe[] = [
  {
    label: 'recording events (EventStore.append and the writeBatch and rollupOperations it runs from later microtasks)',
    functionName: ['append', 'writeBatch', 'rollupOperations'],
    fileSuffix: 'store/events',
  },
  { label: 'EventStore.rollupOperations (hourly and daily counters)', functionName: 'rollupOperations', fileSuffix: 'store/events' },
  { label: 'QueueStore.getRecipients (a LevelDB iterator per attempt of a retry; new messages are handed over in memory)', functionName: 'getRecipients', fileSuffix: 'store/queue' },
  { label: 'GroupCommitter.drain (synced queue batches)', functionName: 'drain', fileSuffix: 'store/group-commit' },
  { label: 'QueueRunner.attempt (one delivery attempt, all of it)', functionName: 'attempt', fileSuffix: 'queue/runner' },
  { label: 'deliverMessage (SMTP client side)', functionName: 'deliverMessage', fileSuffix: 'delivery/transaction' },
  { label: 'openSession (connect, greeting, EHLO)', functionName: 'openSession', fileSuffix: 'delivery/session' },
  { label: 'handleData (ingress DATA to 250)', functionName: 'handleData', fileSuffix: 'ingress/server' },
  { label: 'Spool.write (streams the body in; a file only above spool.inlineMaxSize)', functionName: 'write', fileSuffix: 'spool/spool' },
  { label: 'QueueRunner.dispatchDue (scheduler scans)', functionName: 'dispatchDue', fileSuffix: 'queue/runner' },
  { label: 'pino: formatting and writing log lines', functionName: 'LOG', fileSuffix: 'pino/lib/tools' },
  { label: 'pino: child loggers', functionName: 'child', fileSuffix: 'pino/lib/proto' },
  { label: 'socket writes (one per SMTP reply or command)', functionName: 'handleWriteReq', fileSuffix: 'node:internal/stream_base_commons' },
];

/** The profile of the relay under one load, summarised. */
export interface ProfileResult {
  /** The load profiled; absent in results of older runs, which profiled load/4k-s10-r1-reuse only. */
  shape?: LoadScenario;
  messages: number;
  /**
   * CPU milliseconds per message of the relay's main thread and of all its other threads, read from
   * /proc in a run of the same load without the profiler. The other threads are the delivery
   * thread, libuv's pool (LevelDB's writes and syncs), V8's garbage collection helpers and
   * LevelDB's compaction.
   */
  cpu?: { mainMsPerMessage: number; otherMsPerMessage: number };
  profilePath: string;
  summary: ProfileSummary;
  /** The delivery thread's profile, when the relay ran one. */
  thread: { profilePath: string; summary: ProfileSummary } | null;
}

/** Returns the file name stem of a load's kept profiles, such as `relay-4k-s10-r1-newconn`. */
export function profileStem(shape: LoadScenario): string {
  return `relay-${shape.name.replace(/^load\//, '')}`;
}

/**
 * Runs the load through the relay twice: once for its CPU per thread, then with `node --cpu-prof`.
 * The relay is stopped with SIGTERM, which writes the profiles; they are copied to `keepDir` and
 * summarised.
 */
export async function runProfile(
  cleanup: Cleanup,
  options: { entry: RelayEntry; sinkPort: number; messages: number; keepDir: string; shape: LoadScenario },
): Promise<ProfileResult> {
  const { shape } = options;
  const timeoutMs = 60_000 + options.messages * 100;
  /** Runs the load through a fresh relay and sink; returns the relay's CPU per message by thread. */
  const drive = async (cpuProfileDir: string | undefined): Promise<NonNullable<ProfileResult['cpu']>> => {
    const sink = await startSmtpSink(cleanup, options.sinkPort);
    try {
      const relay = await startRelayProcess(cleanup, { entry: options.entry, smarthostPort: options.sinkPort, ...(cpuProfileDir ? { cpuProfileDir } : {}) });
      try {
        const before = readThreadCpu(relay.pid);
        const { sessions, recipients, bytes, reuse } = shape;
        await runSmtpSource(cleanup, { port: relay.port, messages: options.messages, sessions, recipients, bytes, reuse }, timeoutMs);
        await sink.waitForCount(options.messages, timeoutMs);
        const after = readThreadCpu(relay.pid);
        return {
          mainMsPerMessage: ((after.main - before.main) * 1000) / options.messages,
          otherMsPerMessage: ((after.other - before.other) * 1000) / options.messages,
        };
      } finally {
        await relay.destroy();
      }
    } finally {
      await sink.stop();
    }
  };

  // The profiler adds a sampling thread and slows the sampled ones, so the CPU split comes from a
  // run without it.
  const cpu = await drive(undefined);
  const profileDir = cleanup.tempDir('bouncegate-bench-profile-');
  await drive(profileDir.path);

  // Node names each thread's profile CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile; the
  // main thread has id 0, the delivery thread another one.
  const files = readdirSync(profileDir.path).filter((name) => name.endsWith('.cpuprofile'));
  const threadId = (name: string): number => Number(name.split('.').at(-3));
  const main = files.find((name) => threadId(name) === 0);
  const worker = files.find((name) => threadId(name) !== 0);
  if (main === undefined) {
    throw new Error(`the relay wrote no .cpuprofile of its main thread into ${profileDir.path}; did it exit cleanly on SIGTERM?`);
  }
  const stem = profileStem(shape);
  const mainProfilePath = join(options.keepDir, `${stem}.cpuprofile`);
  copyFileSync(join(profileDir.path, main), mainProfilePath);
  let thread: ProfileResult['thread'] = null;
  if (worker !== undefined) {
    const threadProfilePath = join(options.keepDir, `${stem}-delivery-thread.cpuprofile`);
    copyFileSync(join(profileDir.path, worker), threadProfilePath);
    thread = { profilePath: threadProfilePath, summary: summarizeProfile(threadProfilePath, { top: 10, probes: [] }) };
  }
  await profileDir.remove();
  return {
    shape,
    messages: options.messages,
    cpu,
    profilePath: mainProfilePath,
    summary: summarizeProfile(mainProfilePath, { top: 20, probes: PROFILE_PROBES }),
    thread,
  };
}
