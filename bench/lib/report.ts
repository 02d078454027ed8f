import type { BigMessagesResult } from '../scenarios/big-messages.js';
import type { EventsResult } from '../scenarios/events.js';
import type { LatencyResult } from '../scenarios/latency.js';
import { loadRatios, type LoadResult, type RecordingCost } from '../scenarios/load.js';
import type { ProfileResult } from '../scenarios/profile.js';
import type { SuppressionFigures } from '../scenarios/suppressions.js';
import type { MachineInfo } from './machine.js';
import { ratio } from './stats.js';

/** Everything one run of the benchmark measured. */
export interface BenchResults {
  date: string;
  command: string;
  quick: boolean;
  /** True for a run of every section without --quick, the only kind bench/README.md shows. */
  complete: boolean;
  machine: MachineInfo;
  relayForm: string;
  /** Commit of the work tree the relay was compiled from, and whether src/ had uncommitted changes. */
  source?: string;
  messagesPerRun: number;
  runs: number;
  load: LoadResult[];
  latency: LatencyResult | null;
  suppressions: SuppressionFigures[] | null;
  events: EventsResult | null;
  bigMessages: BigMessagesResult | null;
  /** The single profile of results written before several loads were profiled. */
  profile: ProfileResult | null;
  /** One profile per load of PROFILE_SHAPES; absent in results of older runs. */
  profiles?: ProfileResult[] | null;
  /** The single recording comparison of results written before several loads were compared. */
  recording?: RecordingCost | null;
  /** The relay with and without writing events, one comparison per load of RECORDING_SCENARIOS. Absent in older results. */
  recordings?: RecordingCost[] | null;
  /** Sections that failed, with their error. */
  failures: Array<{ section: string; error: string }>;
  /** Later runs merged in with --merge, oldest first. */
  reruns?: Array<{ date: string; command: string; what: string; source?: string }>;
}

/**
 * Merges a later run into an earlier one. Load scenarios of the later run replace those of the same
 * name, and new ones are added. Every other section it measured replaces the earlier one. Earlier
 * failures of the sections it reran are dropped.
 */
export function mergeResults(base: BenchResults, later: BenchResults): BenchResults {
  const rerunLoads = new Set(later.load.map((result) => result.scenario.name));
  const rerunSections = new Set<string>([...rerunLoads, ...later.failures.map((failure) => failure.section)]);
  const sections = ['latency', 'suppressions', 'events', 'bigMessages', 'profile', 'profiles', 'recording', 'recordings'] as const;
  const failureNames: Record<(typeof sections)[number], string> = {
    latency: 'latency',
    suppressions: 'suppression',
    events: 'events',
    bigMessages: 'big-messages',
    profile: 'profile',
    profiles: 'profile',
    recording: 'recording',
    recordings: 'recording',
  };
  const merged: BenchResults = { ...base, load: base.load.map((result) => later.load.find((item) => item.scenario.name === result.scenario.name) ?? result) };
  for (const result of later.load) {
    if (!base.load.some((item) => item.scenario.name === result.scenario.name)) {
      merged.load.push(result);
    }
  }
  for (const section of sections) {
    if (later[section] !== null && later[section] !== undefined) {
      rerunSections.add(failureNames[section]);
      Object.assign(merged, { [section]: later[section] });
    }
  }
  if (later.profiles) {
    merged.profile = null;
  }
  if (later.recordings) {
    merged.recording = null;
  }
  merged.failures = [...base.failures.filter((failure) => !rerunSections.has(failure.section)), ...later.failures];
  const rerun = { date: later.date, command: later.command, what: [...rerunSections].join(', ') || 'nothing' };
  merged.reruns = [...(base.reruns ?? []), later.source ? { ...rerun, source: later.source } : rerun];
  return merged;
}

/** Returns the recording comparisons of a result, one per compared load. Older results contain a single one. */
export function recordingsOf(results: BenchResults): RecordingCost[] {
  return results.recordings ?? (results.recording ? [results.recording] : []);
}

/** Returns the profiles of a result, one per profiled load; older results hold a single one. */
function profilesOf(results: BenchResults): ProfileResult[] {
  return results.profiles ?? (results.profile ? [results.profile] : []);
}

/** One product target, the figure measured for it and whether it is met. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

/** Scenario of the load section whose relay CPU cost the event-recording estimate divides by. */
export const RECORDING_SCENARIO = 'load/4k-s10-r1-reuse';

/**
 * Loads that the relay runs with recording on and off. With ten recipients a message makes ten
 * events, so the second load shows the cost where recording weighs most.
 */
export const RECORDING_SCENARIOS: readonly string[] = [RECORDING_SCENARIO, 'load/4k-s10-r10-reuse'];

/** Evaluates the product's targets against a run's results. `met` is null when a figure was not measured. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];

  for (const result of results.load) {
    const { scenario } = result;
    const small = scenario.bytes === 4 * 1024 && (scenario.sessions === 10 || scenario.sessions === 50);
    const large = scenario.bytes === 100 * 1024;
    if (!small && !large) {
      continue;
    }
    const needed = small ? 2 : 1;
    const value = loadRatios(result).deliveredVsPostfix;
    checks.push({
      target: `${scenario.name}: delivered msg/s ≥ ${needed}× Postfix`,
      measured: `${formatRatio(value)} (${fixed(result.relay.deliveredPerSecond, 0)} vs ${fixed(result.postfix.deliveredPerSecond, 0)} msg/s)`,
      met: Number.isFinite(value) ? value >= needed : null,
    });
  }

  const largestSuppressions = results.suppressions?.at(-1);
  checks.push({
    target: `suppression check p99 < 50 µs at 10 M entries${largestSuppressions && largestSuppressions.entries !== 10_000_000 ? ` (measured at ${count(largestSuppressions.entries)})` : ''}`,
    measured: largestSuppressions
      ? `miss ${fixed(largestSuppressions.miss.p99Micros, 1)} µs, hit ${fixed(largestSuppressions.hit.p99Micros, 1)} µs (${formatRatio(Math.max(largestSuppressions.miss.p99Micros, largestSuppressions.hit.p99Micros) / 50)} of the limit)`
      : 'not measured',
    met: largestSuppressions ? Math.max(largestSuppressions.miss.p99Micros, largestSuppressions.hit.p99Micros) < 50 : null,
  });

  const big = results.bigMessages;
  checks.push({
    target: `${big?.clients ?? 100} concurrent 25 MB submissions: relay peak RSS < 200 MB`,
    measured: big ? `${fixed(big.peakRssMb, 0)} MB (${formatRatio(big.peakRssMb / 200)} of the limit)` : 'not measured',
    met: big ? big.peakRssMb < 200 : null,
  });

  const measuredCosts = recordingsOf(results).map(recordingCostOf);
  const recording = recordingShare(results);
  for (const measuredCost of measuredCosts) {
    checks.push({
      target: `recording every attempt costs < 10 % of relay throughput (${measuredCost.scenario})`,
      measured:
        measuredCost.throughput > 0
          ? `${fixed(measuredCost.throughput * 100, 1)} % fewer delivered msg/s than with events.record off (${measuredCost.basis})`
          : `no loss measurable: the relay delivered as many msg/s as with events.record off, or more (${measuredCost.basis})`,
      met: measuredCost.throughput < 0.1,
    });
  }
  if (measuredCosts.length === 0) {
    checks.push({
      target: 'recording every attempt costs < 10 % of relay throughput',
      measured: recording === null ? 'not measured' : `estimated ${fixed(recording.share * 100, 1)} % of the relay's CPU per message (${recording.basis})`,
      met: recording === null ? null : recording.share < 0.1,
    });
  }

  const largestEvents = results.events?.sizes.at(-1);
  const history = largestEvents?.queries.find((query) => query.query.startsWith('recipient history'));
  const segments = largestEvents?.queries.find((query) => query.query.startsWith('domain segment counts over 7 days'));
  const atSize = largestEvents && largestEvents.events !== 10_000_000 ? ` (measured at ${count(largestEvents.events)})` : '';
  checks.push({
    target: `recipient history over 10 M events < 50 ms${atSize}`,
    measured: history ? `p99 ${fixed(history.p99Ms, 2)} ms (${formatRatio(history.p99Ms / 50)} of the limit)` : 'not measured',
    met: history ? history.p99Ms < 50 : null,
  });
  checks.push({
    target: `domain segment counts over 10 M events < 500 ms${atSize}`,
    measured: segments
      ? `p99 ${fixed(segments.p99Ms, 0)} ms for the admin API's default window of 7 days, ${fixed(segments.meanEvents, 0)} domains (${formatRatio(segments.p99Ms / 500)} of the limit)`
      : 'not measured',
    met: segments ? segments.p99Ms < 500 : null,
  });
  return checks;
}

/**
 * Returns what recording events cost in one A/B comparison of the recording section: the share of
 * delivered messages per second lost, and the share of the relay's CPU per message added.
 */
export function recordingCostOf(cost: RecordingCost): { scenario: string; throughput: number; cpu: number; basis: string } {
  const { recording: on, notRecording: off } = cost;
  return {
    scenario: cost.scenario,
    throughput: 1 - on.deliveredPerSecond / off.deliveredPerSecond,
    cpu: 1 - off.cpuPer1000 / on.cpuPer1000,
    basis: `${fixed(on.deliveredPerSecond, 0)} against ${fixed(off.deliveredPerSecond, 0)} msg/s in ${cost.scenario}, medians of ${cost.runs} runs of ${cost.messages} messages each`,
  };
}

/**
 * Estimates the share of the relay's CPU per message spent recording events. The cost is the events
 * per message (one per recipient) times the CPU per event of EventStore.append measured alone, with
 * one event per call. The share divides it by the relay's CPU per message in RECORDING_SCENARIO.
 */
export function recordingShare(results: BenchResults): { share: number; basis: string } | null {
  const load = results.load.find((result) => result.scenario.name === RECORDING_SCENARIO);
  const append = results.events?.append[0];
  if (!load || !append) {
    return null;
  }
  const relayMicrosPerMessage = load.relay.cpuPer1000 * 1000;
  const share = ratio(append.cpuMicrosPerEvent * load.scenario.recipients, relayMicrosPerMessage);
  return {
    share,
    basis: `${fixed(append.cpuMicrosPerEvent, 1)} µs per appended event against ${fixed(relayMicrosPerMessage, 0)} µs of relay CPU per message in ${RECORDING_SCENARIO}`,
  };
}

/** Renders the results page as Markdown. */
export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  const { machine } = results;
  out.push(`Run on ${results.date} with \`${results.command}\`${results.quick ? ' (quick mode: smaller loads and data sets)' : ''}.`);
  for (const rerun of results.reruns ?? []) {
    out.push(`Then ${rerun.what} rerun on ${rerun.date} with \`${rerun.command}\`${rerun.source ? `, measuring ${rerun.source}` : ''}.`);
  }
  out.push('');
  out.push('| machine | |');
  out.push('|---|---|');
  out.push(`| CPUs (nproc) | ${machine.cpus} × ${machine.cpuModel} |`);
  out.push(`| memory | ${fixed(machine.memoryGiB, 1)} GiB |`);
  out.push(`| disk | ${machine.disk} |`);
  out.push(`| kernel | ${machine.kernel} |`);
  out.push(`| Node.js | ${machine.node} |`);
  out.push(`| Postfix | ${machine.postfix} |`);
  out.push(`| packages | ${Object.entries(machine.packages).map(([name, version]) => `${name} ${version}`).join(', ')} |`);
  out.push(`| relay | ${results.relayForm}, shipped config defaults, log level info to /dev/null |`);
  if (results.source) {
    out.push(`| source measured | ${results.source} |`);
  }
  out.push('');

  out.push('### Targets');
  out.push('');
  out.push('| target | measured | met |');
  out.push('|---|---|---|');
  for (const check of checkTargets(results)) {
    out.push(`| ${check.target} | ${check.measured} | ${check.met === null ? 'not measured' : check.met ? 'yes' : '**no**'} |`);
  }
  out.push('');

  if (results.load.length > 0) {
    out.push('### Load: smtp-source → path → smtp-sink');
    out.push('');
    out.push(`Medians of ${results.runs} runs. Rates in messages per second (a message with 10 recipients counts once); "accepted" ends at smtp-source's last 250, "delivered" when smtp-sink counted every message. CPU in seconds per 1,000 messages: the relay process, or Postfix's master and every daemon it started. Memory: the relay's VmHWM, or the highest sum of Pss of the Postfix processes (sampled every 250 ms). Ratios are relay ÷ reference.`);
    out.push('');
    out.push('| scenario | messages | direct delivered | Postfix accepted | Postfix delivered | relay accepted | relay delivered | relay ÷ Postfix | relay ÷ direct | CPU relay | CPU Postfix | CPU ratio | memory relay MB | memory Postfix MB | memory ratio |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const result of results.load) {
      const ratios = loadRatios(result);
      const error = result.error ? ` (failed: ${oneLine(result.error)})` : '';
      out.push(
        `| ${result.scenario.name}${error} | ${result.messages} | ${fixed(result.direct.deliveredPerSecond, 0)} | ${fixed(result.postfix.acceptedPerSecond, 0)} | ${fixed(result.postfix.deliveredPerSecond, 0)} | ${fixed(result.relay.acceptedPerSecond, 0)} | ${fixed(result.relay.deliveredPerSecond, 0)} | ${formatRatio(ratios.deliveredVsPostfix)} | ${formatRatio(ratios.deliveredVsDirect)} | ${fixed(result.relay.cpuPer1000, 2)} | ${fixed(result.postfix.cpuPer1000, 2)} | ${formatRatio(ratios.cpuVsPostfix)} | ${fixed(result.relay.peakMemoryMb, 0)} | ${fixed(result.postfix.peakMemoryMb, 0)} | ${formatRatio(ratios.memoryVsPostfix)} |`,
      );
    }
    out.push('');
  }

  if (results.latency) {
    const { direct, postfix, relay } = results.latency;
    out.push('### Latency at low load');
    out.push('');
    out.push(`One client sends ${direct.messages} messages of 4 KB, one at a time over one connection with a 10 ms pause after each 250, to a sink that records when the final "." arrives. Time from MAIL FROM to arrival, in ms.`);
    out.push('');
    out.push('| path | arrived | p50 ms | p99 ms | p50 added over direct | p99 added over direct | p50 ÷ Postfix |');
    out.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const [name, figures] of [['direct', direct], ['Postfix', postfix], ['relay', relay]] as const) {
      out.push(`| ${name} | ${figures.arrived} | ${fixed(figures.p50Ms, 2)} | ${fixed(figures.p99Ms, 2)} | ${fixed(figures.p50Ms - direct.p50Ms, 2)} | ${fixed(figures.p99Ms - direct.p99Ms, 2)} | ${formatRatio(ratio(figures.p50Ms, postfix.p50Ms))} |`);
    }
    out.push('');
  }

  if (results.suppressions) {
    out.push('### Suppression list (SuppressionStore.findActive)');
    out.push('');
    out.push('Entries are imported with importEntries, 10,000 rows per call, on top of the previous size. The store is then reopened and its Bloom filter built, as at the relay\'s start, before the lookups. Sequential lookups are awaited one at a time, and the concurrent figure keeps 64 in flight.');
    out.push('');
    out.push('| entries | load s | loaded/s | disk MB | filter build s | miss p50 µs | miss p99 µs | hit p50 µs | hit p99 µs | sequential lookups/s (miss) | concurrent lookups/s |');
    out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const figures of results.suppressions) {
      out.push(`| ${count(figures.entries)} | ${fixed(figures.loadSeconds, 1)} | ${fixed(figures.loadPerSecond, 0)} | ${fixed(figures.diskBytes / 1024 ** 2, 0)} | ${fixed(figures.filterSeconds, 1)} | ${fixed(figures.miss.p50Micros, 1)} | ${fixed(figures.miss.p99Micros, 1)} | ${fixed(figures.hit.p50Micros, 1)} | ${fixed(figures.hit.p99Micros, 1)} | ${fixed(figures.miss.perSecond, 0)} | ${fixed(figures.concurrentPerSecond, 0)} |`);
    }
    out.push('');
  }

  if (results.events) {
    out.push('### Event store');
    out.push('');
    out.push('EventStore.append on an empty store. CPU is the whole process (the main thread and LevelDB\'s threads) per event.');
    out.push('');
    out.push('| pattern | events | events/s | CPU µs per event |');
    out.push('|---|---:|---:|---:|');
    for (const figures of results.events.append) {
      out.push(`| ${figures.pattern} | ${figures.events} | ${fixed(figures.eventsPerSecond, 0)} | ${fixed(figures.cpuMicrosPerEvent, 1)} |`);
    }
    for (const cost of recordingsOf(results)) {
      const measuredCost = recordingCostOf(cost);
      const { recording: on, notRecording: off } = cost;
      out.push('');
      out.push(
        `Measured cost of recording while relaying: the relay ran ${cost.scenario} with \`events.record\` on and off, taking turns. ` +
          `It delivered ${fixed(on.deliveredPerSecond, 0)} msg/s with recording and ${fixed(off.deliveredPerSecond, 0)} without (${fixed(measuredCost.throughput * 100, 1)} % fewer with it), ` +
          `and its CPU per message was ${fixed(on.cpuPer1000 * 1000, 0)} µs against ${fixed(off.cpuPer1000 * 1000, 0)} µs (${fixed(measuredCost.cpu * 100, 1)} % of it for recording). ` +
          'A negative share means the difference was smaller than the noise between runs.',
      );
    }
    const recording = recordingShare(results);
    if (recording) {
      out.push('');
      out.push(`Estimate from the append figures above: ${fixed(recording.share * 100, 1)} % of the relay's CPU per message (${recording.basis}). It assumes one write per event with no coalescing, so it overstates the cost inside the relay, where concurrent appends share a write.`);
    }
    const recordingProfile = profilesOf(results)[0]?.summary.inclusive.find((entry) => entry.label.startsWith('recording events'));
    if (recordingProfile) {
      out.push(`In the first profile below, recording events takes ${fixed(recordingProfile.share * 100, 1)} % of the main thread's busy time. LevelDB's write itself runs on a libuv thread, which the profile does not sample.`);
    }
    out.push('');
    out.push('Admin queries. The history has a constant rate (the largest size spans 30 days, so a smaller store is a shorter history), about ten events per recipient at the largest size, one recipient in five at big.example and the rest over 997 domains. Segment counts read the rollups that append writes, daily ones for whole days and hourly ones at the edges of the window; "events per call" is then the number of domains returned.');
    out.push('');
    out.push('| events | load s | loaded/s | disk MB | query | calls | events per call | p50 ms | p99 ms |');
    out.push('|---:|---:|---:|---:|---|---:|---:|---:|---:|');
    for (const size of results.events.sizes) {
      for (const [index, query] of size.queries.entries()) {
        const lead = index === 0 ? `| ${count(size.events)} | ${fixed(size.loadSeconds, 0)} | ${fixed(size.loadPerSecond, 0)} | ${fixed(size.diskBytes / 1024 ** 2, 0)} ` : '| | | | ';
        out.push(`${lead}| ${query.query} | ${query.calls} | ${fixed(query.meanEvents, 0)} | ${fixed(query.p50Ms, 2)} | ${fixed(query.p99Ms, 2)} |`);
      }
    }
    out.push('');
  }

  if (results.bigMessages) {
    const big = results.bigMessages;
    out.push('### Big messages');
    out.push('');
    out.push(`${big.clients} smtp-source sessions submit one ${fixed(big.bytes / 1e6, 0)} MB message each, at once; the relay delivers them to smtp-sink.`);
    out.push('');
    out.push('| idle RSS MB | peak RSS MB (VmHWM) | peak ÷ idle | all accepted after s | all delivered after s |');
    out.push('|---:|---:|---:|---:|---:|');
    out.push(`| ${fixed(big.idleRssMb, 0)} | ${fixed(big.peakRssMb, 0)} | ${formatRatio(ratio(big.peakRssMb, big.idleRssMb))} | ${fixed(big.acceptSeconds, 1)} | ${fixed(big.deliverSeconds, 1)} |`);
    out.push('');
  }

  for (const profile of profilesOf(results)) {
    const { summary } = profile;
    const shape = profile.shape ?? { name: 'load/4k-s10-r1-reuse', bytes: 4096, sessions: 10, recipients: 1, reuse: true };
    const percent = (value: number): string => `${fixed(value * 100, 1)} %`;
    out.push(
      `### Profile of the relay: ${shape.name} (${shape.bytes >= 100 * 1024 ? '100 KB' : '4 KB'}, ${shape.sessions} ${shape.sessions === 1 ? 'session' : 'sessions'}, ${shape.recipients} ${shape.recipients === 1 ? 'recipient' : 'recipients'}, ${shape.reuse ? 'reused connections' : 'a new connection per message'})`,
    );
    out.push('');
    out.push(`\`node --cpu-prof\` over ${profile.messages} messages: ${fixed(summary.busyMs, 0)} ms of the main thread busy out of ${fixed(summary.totalMs, 0)} ms sampled. Shares are of the busy time. Lines of src/ files are those of the compiled JavaScript. Print any profile with \`node --import tsx bench/cpuprofile-top.ts FILE\`.`);
    if (profile.cpu) {
      out.push('');
      out.push(
        `CPU per message, read from /proc in a run of the same load without the profiler: ${fixed(profile.cpu.mainMsPerMessage * 1000, 0)} µs on the main thread and ${fixed(profile.cpu.otherMsPerMessage * 1000, 0)} µs on the other threads together. The other threads are the delivery thread, libuv's pool (LevelDB's writes and syncs), V8's garbage collection helpers and LevelDB's compaction.`,
      );
    }
    out.push('');
    out.push('| where | inclusive share |');
    out.push('|---|---:|');
    for (const entry of summary.inclusive) {
      out.push(`| ${entry.label} | ${percent(entry.share)} |`);
    }
    out.push('');
    out.push('| self share | function | location |');
    out.push('|---:|---|---|');
    for (const entry of summary.topFunctions) {
      out.push(`| ${percent(entry.share)} | \`${entry.name}\` | ${entry.location} |`);
    }
    out.push('');
    out.push('| self share | file or area |');
    out.push('|---:|---|');
    for (const entry of summary.topFiles) {
      out.push(`| ${percent(entry.share)} | ${entry.file} |`);
    }
    out.push('');
    const { thread } = profile;
    if (thread) {
      out.push(`The delivery thread (the SMTP client side of inline bodies) was busy ${fixed(thread.summary.busyMs, 0)} ms out of ${fixed(thread.summary.totalMs, 0)} ms sampled. Its top functions by self time:`);
      out.push('');
      out.push('| self share | function | location |');
      out.push('|---:|---|---|');
      for (const entry of thread.summary.topFunctions) {
        out.push(`| ${percent(entry.share)} | \`${entry.name}\` | ${entry.location} |`);
      }
      out.push('');
    }
  }

  if (results.failures.length > 0) {
    out.push('### Failed sections');
    out.push('');
    for (const failure of results.failures) {
      out.push(`- ${failure.section}: ${oneLine(failure.error)}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** Formats a number with `digits` decimals, or "–" when it is not finite. */
export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** Formats a ratio as "1.23×", or "–" when it is not finite. */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(value < 0.1 ? 3 : 2)}×` : '–';
}

/** Formats a count as "100 k", "10 M" or the plain number. */
export function count(value: number): string {
  if (value >= 1_000_000 && value % 1_000_000 === 0) {
    return `${value / 1_000_000} M`;
  }
  if (value >= 1_000 && value % 1_000 === 0) {
    return `${value / 1_000} k`;
  }
  return String(value);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 300);
}
