import type { Cleanup } from '../lib/cleanup.js';
import type { PostfixRelay } from '../lib/postfix.js';
import { sampleMaximum } from '../lib/proc.js';
import { startRelayProcess, type RelayEntry } from '../lib/relay.js';
import { runSmtpSource, startSmtpSink, type SourceLoad } from '../lib/smtp-tools.js';
import { median, ratio } from '../lib/stats.js';

/** Payload sizes of the load scenarios, in bytes (smtp-source -l). */
export const SMALL_BYTES = 4 * 1024;
export const LARGE_BYTES = 100 * 1024;
/** Interval of the peak-memory sampling of the Postfix instance, in ms. */
const PSS_SAMPLE_MS = 250;
/** Pause after the sink counted the last message, so CPU spent finishing the last deliveries counts. */
const SETTLE_MS = 500;

/** One load scenario: message size, parallel sessions, recipients per message, connection mode. */
export interface LoadScenario {
  name: string;
  bytes: number;
  sessions: number;
  recipients: number;
  reuse: boolean;
}

/** Figures of one path in one run. */
export interface PathFigures {
  /** Messages per second until smtp-source had every 250 reply. */
  acceptedPerSecond: number;
  /** Messages per second until the sink counted every message. */
  deliveredPerSecond: number;
  /** CPU seconds per 1,000 messages of the relaying process or processes, NaN for the direct path. */
  cpuPer1000: number;
  /** Peak memory in MB: VmHWM of the relay, or the highest sampled Pss sum of the Postfix instance. */
  peakMemoryMb: number;
}

/** Medians over the runs of one scenario, per path, and the relay's ratios against the references. */
export interface LoadResult {
  scenario: LoadScenario;
  messages: number;
  runs: number;
  direct: PathFigures;
  postfix: PathFigures;
  relay: PathFigures;
  /** Error text when a run failed. The figures are then those of the runs that finished, or NaN. */
  error: string | null;
}

/** Returns the scenario matrix: the full one, or the reduced one of --quick. */
export function loadScenarios(quick: boolean): LoadScenario[] {
  const scenarios: LoadScenario[] = [];
  const add = (bytes: number, sessions: number, recipients: number, reuse: boolean): void => {
    const size = bytes === SMALL_BYTES ? '4k' : '100k';
    scenarios.push({ name: `load/${size}-s${sessions}-r${recipients}-${reuse ? 'reuse' : 'newconn'}`, bytes, sessions, recipients, reuse });
  };

  if (quick) {
    for (const sessions of [10, 50]) {
      for (const recipients of [1, 10]) {
        add(SMALL_BYTES, sessions, recipients, true);
      }
    }
    add(LARGE_BYTES, 10, 1, true);
    add(SMALL_BYTES, 10, 1, false);
    return scenarios;
  }

  for (const reuse of [true, false]) {
    for (const bytes of [SMALL_BYTES, LARGE_BYTES]) {
      for (const sessions of [1, 10, 50]) {
        for (const recipients of [1, 10]) {
          add(bytes, sessions, recipients, reuse);
        }
      }
    }
  }
  return scenarios;
}

/** Shared state of the load scenarios: the sink port, the Postfix reference and the relay's code. */
export interface LoadContext {
  cleanup: Cleanup;
  sinkPort: number;
  postfix: PostfixRelay;
  entry: RelayEntry;
  quick: boolean;
  messages: number;
  runs: number;
  /** Config keys of the relay that differ from the shipped defaults, for what-if runs. */
  relayOverrides?: Record<string, Record<string, unknown>>;
  log(line: string): void;
}

/**
 * Runs one scenario `runs` times on three paths: smtp-source straight to smtp-sink, through the
 * private Postfix, and through a freshly started relay (a new process and data folder per run). The
 * paths take turns within each run, so a drift of the machine affects all of them alike.
 */
export async function runLoadScenario(context: LoadContext, scenario: LoadScenario): Promise<LoadResult> {
  const { messages } = context;
  const samples: Record<'direct' | 'postfix' | 'relay', PathFigures[]> = { direct: [], postfix: [], relay: [] };
  let error: string | null = null;

  for (let run = 1; run <= context.runs; run++) {
    try {
      samples.direct.push(await runDirect(context, scenario, messages));
      samples.postfix.push(await runPostfix(context, scenario, messages));
      samples.relay.push(await runRelay(context, scenario, messages));
      const last = (path: PathFigures[]): string => (path.at(-1)?.deliveredPerSecond ?? Number.NaN).toFixed(0);
      context.log(`  ${scenario.name} run ${run}: delivered/s direct ${last(samples.direct)}, postfix ${last(samples.postfix)}, relay ${last(samples.relay)}`);
    } catch (failure) {
      error = (failure as Error).message;
      context.log(`  ${scenario.name} run ${run} failed: ${error}`);
      break;
    }
  }

  return {
    scenario,
    messages,
    runs: Math.min(samples.direct.length, samples.postfix.length, samples.relay.length),
    direct: medianFigures(samples.direct),
    postfix: medianFigures(samples.postfix),
    relay: medianFigures(samples.relay),
    error,
  };
}

/** Returns the relay's figures as ratios: rates against Postfix and the direct path, costs against Postfix. */
export function loadRatios(result: LoadResult): { deliveredVsPostfix: number; deliveredVsDirect: number; acceptedVsPostfix: number; cpuVsPostfix: number; memoryVsPostfix: number } {
  return {
    deliveredVsPostfix: ratio(result.relay.deliveredPerSecond, result.postfix.deliveredPerSecond),
    deliveredVsDirect: ratio(result.relay.deliveredPerSecond, result.direct.deliveredPerSecond),
    acceptedVsPostfix: ratio(result.relay.acceptedPerSecond, result.postfix.acceptedPerSecond),
    cpuVsPostfix: ratio(result.relay.cpuPer1000, result.postfix.cpuPer1000),
    memoryVsPostfix: ratio(result.relay.peakMemoryMb, result.postfix.peakMemoryMb),
  };
}

function timeoutFor(messages: number, scenario: LoadScenario): number {
  // Generous: 30 s plus 100 ms per message per recipient, so that only a stuck run times out.
  return 30_000 + messages * scenario.recipients * 100;
}

async function runDirect(context: LoadContext, scenario: LoadScenario, messages: number): Promise<PathFigures> {
  const sink = await startSmtpSink(context.cleanup, context.sinkPort);
  try {
    const load = loadOf(scenario, context.sinkPort, messages);
    const { start, end } = await runSmtpSource(context.cleanup, load, timeoutFor(messages, scenario));
    const delivered = await sink.waitForCount(messages, timeoutFor(messages, scenario));
    return {
      acceptedPerSecond: perSecond(messages, end - start),
      deliveredPerSecond: perSecond(messages, delivered - start),
      cpuPer1000: Number.NaN,
      peakMemoryMb: Number.NaN,
    };
  } finally {
    await sink.stop();
  }
}

async function runPostfix(context: LoadContext, scenario: LoadScenario, messages: number): Promise<PathFigures> {
  const { postfix } = context;
  const sink = await startSmtpSink(context.cleanup, context.sinkPort);
  try {
    const load = loadOf(scenario, postfix.port, messages);
    const memory = sampleMaximum(() => postfix.pssKb(), PSS_SAMPLE_MS);
    const cpuBefore = postfix.cpuSeconds();
    const { start, end } = await runSmtpSource(context.cleanup, load, timeoutFor(messages, scenario)).catch((error: unknown) => {
      memory.stop();
      throw error;
    });
    const delivered = await sink.waitForCount(messages, timeoutFor(messages, scenario)).finally(() => memory.stop());
    await settle();
    const cpu = postfix.cpuSeconds() - cpuBefore;
    const peakKb = memory.stop();
    return {
      acceptedPerSecond: perSecond(messages, end - start),
      deliveredPerSecond: perSecond(messages, delivered - start),
      cpuPer1000: (cpu / messages) * 1000,
      peakMemoryMb: peakKb / 1024,
    };
  } finally {
    await sink.stop();
  }
}

async function runRelay(context: LoadContext, scenario: LoadScenario, messages: number): Promise<PathFigures> {
  const sink = await startSmtpSink(context.cleanup, context.sinkPort);
  const relay = await startRelayProcess(context.cleanup, {
    entry: context.entry,
    smarthostPort: context.sinkPort,
    ...(context.relayOverrides ? { overrides: context.relayOverrides } : {}),
  });
  try {
    const load = loadOf(scenario, relay.port, messages);
    const cpuBefore = relay.cpuSeconds();
    const { start, end } = await runSmtpSource(context.cleanup, load, timeoutFor(messages, scenario));
    const delivered = await sink.waitForCount(messages, timeoutFor(messages, scenario));
    await settle();
    const cpu = relay.cpuSeconds() - cpuBefore;
    return {
      acceptedPerSecond: perSecond(messages, end - start),
      deliveredPerSecond: perSecond(messages, delivered - start),
      cpuPer1000: (cpu / messages) * 1000,
      peakMemoryMb: relay.peakRssKb() / 1024,
    };
  } finally {
    await relay.destroy();
    await sink.stop();
  }
}

/** The relay's figures with and without writing delivery events, under the same load. */
export interface RecordingCost {
  scenario: string;
  messages: number;
  runs: number;
  recording: PathFigures;
  notRecording: PathFigures;
}

/**
 * Measures what recording events costs: runs the relay path of a scenario `runs` times with
 * `events.record` on and off, taking turns, and returns the medians of both.
 */
export async function runRecordingCost(context: LoadContext, scenario: LoadScenario): Promise<RecordingCost> {
  const recording: PathFigures[] = [];
  const notRecording: PathFigures[] = [];
  for (let run = 1; run <= context.runs; run++) {
    recording.push(await runRelay(context, scenario, context.messages));
    notRecording.push(await runRelay({ ...context, relayOverrides: { ...context.relayOverrides, events: { record: false } } }, scenario, context.messages));
    const [on, off] = [recording.at(-1), notRecording.at(-1)];
    context.log(`  recording cost run ${run}: delivered/s with events ${Math.round(on?.deliveredPerSecond ?? 0)}, without ${Math.round(off?.deliveredPerSecond ?? 0)}`);
  }
  return {
    scenario: scenario.name,
    messages: context.messages,
    runs: context.runs,
    recording: medianFigures(recording),
    notRecording: medianFigures(notRecording),
  };
}

function loadOf(scenario: LoadScenario, port: number, messages: number): SourceLoad {
  return { port, messages, sessions: scenario.sessions, recipients: scenario.recipients, bytes: scenario.bytes, reuse: scenario.reuse };
}

function medianFigures(runs: PathFigures[]): PathFigures {
  return {
    acceptedPerSecond: median(runs.map((run) => run.acceptedPerSecond)),
    deliveredPerSecond: median(runs.map((run) => run.deliveredPerSecond)),
    cpuPer1000: median(runs.map((run) => run.cpuPer1000)),
    peakMemoryMb: median(runs.map((run) => run.peakMemoryMb)),
  };
}

function perSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : Number.NaN;
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}
