import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from '../lib/cleanup.js';
import { summarizeProfile, type InclusiveProbe, type ProfileSummary } from '../lib/cpuprofile.js';
import { startRelayProcess, type RelayEntry } from '../lib/relay.js';
import { runSmtpSource, startSmtpSink } from '../lib/smtp-tools.js';
import { SMALL_BYTES } from './load.js';

/** Parallel sessions and recipients of the profiled load (4 KB, 10 sessions, 1 recipient, reused connections). */
const SESSIONS = 10;
const RECIPIENTS = 1;

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
  messages: number;
  profilePath: string;
  summary: ProfileSummary;
  /** The delivery thread's profile, when the relay ran one. */
  thread: { profilePath: string; summary: ProfileSummary } | null;
}

/**
 * Runs the relay with `node --cpu-prof` under the 4 KB, 10-session, 1-recipient load with reused
 * connections, stops it with SIGTERM (the profile is written at exit) and summarises the profile.
 * The profile is copied to `keepDir`.
 */
export async function runProfile(
  cleanup: Cleanup,
  options: { entry: RelayEntry; sinkPort: number; messages: number; keepDir: string },
): Promise<ProfileResult> {
  const profileDir = cleanup.tempDir('bouncegate-bench-profile-');
  const sink = await startSmtpSink(cleanup, options.sinkPort);
  try {
    const relay = await startRelayProcess(cleanup, { entry: options.entry, smarthostPort: options.sinkPort, cpuProfileDir: profileDir.path });
    try {
      await runSmtpSource(
        cleanup,
        { port: relay.port, messages: options.messages, sessions: SESSIONS, recipients: RECIPIENTS, bytes: SMALL_BYTES, reuse: true },
        60_000 + options.messages * 100,
      );
      await sink.waitForCount(options.messages, 60_000 + options.messages * 100);
    } finally {
      await relay.destroy();
    }
  } finally {
    await sink.stop();
  }

  // Node names each thread's profile CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile; the
  // main thread has id 0, the delivery thread another one.
  const files = readdirSync(profileDir.path).filter((name) => name.endsWith('.cpuprofile'));
  const threadId = (name: string): number => Number(name.split('.').at(-3));
  const main = files.find((name) => threadId(name) === 0);
  const worker = files.find((name) => threadId(name) !== 0);
  if (main === undefined) {
    throw new Error(`the relay wrote no .cpuprofile of its main thread into ${profileDir.path}; did it exit cleanly on SIGTERM?`);
  }
  const kept = join(options.keepDir, 'relay-4k-s10-r1.cpuprofile');
  copyFileSync(join(profileDir.path, main), kept);
  let thread: ProfileResult['thread'] = null;
  if (worker !== undefined) {
    const keptThread = join(options.keepDir, 'relay-4k-s10-r1-delivery-thread.cpuprofile');
    copyFileSync(join(profileDir.path, worker), keptThread);
    thread = { profilePath: keptThread, summary: summarizeProfile(keptThread, { top: 10, probes: [] }) };
  }
  await profileDir.remove();
  return { messages: options.messages, profilePath: kept, summary: summarizeProfile(kept, { top: 20, probes: PROFILE_PROBES }), thread };
}
