// Runs bouncegate's benchmark and writes bench/results/latest.md and latest.json (see bench/README.md).
// Usage: node --import tsx bench/run.ts [--quick] [--scenario NAME] (--help lists every option).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBenchArgs, scenarioSelected, USAGE, type BenchOptions } from './lib/args.js';
import { Cleanup } from './lib/cleanup.js';
import { readMachineInfo } from './lib/machine.js';
import { freePort } from './lib/net.js';
import { startPostfixRelay, type PostfixRelay } from './lib/postfix.js';
import { describeSource, prepareRelayEntry, REPO_ROOT } from './lib/relay.js';
import { mergeResults, RECORDING_SCENARIOS, renderMarkdown, type BenchResults } from './lib/report.js';
import { runBigMessages } from './scenarios/big-messages.js';
import { runEvents } from './scenarios/events.js';
import { runLatency } from './scenarios/latency.js';
import { loadScenarios, runLoadScenario, runRecordingCost, type RecordingCost } from './scenarios/load.js';
import { PROFILE_SHAPES, runProfile } from './scenarios/profile.js';
import { runSuppressions } from './scenarios/suppressions.js';

const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
const README = join(REPO_ROOT, 'bench', 'README.md');
/** Markers around the results block of bench/README.md, which a full run replaces. */
const README_START = '<!-- bench:results:start -->';
const README_END = '<!-- bench:results:end -->';

/** Sizes per mode: messages per load run, store sizes, lookups and query calls, big-message clients. */
const MODES = {
  full: { messages: 20_000, maxEntries: 10_000_000, lookups: 100_000, appendEvents: 50_000, queryCalls: 200, latencyMessages: 1_000, bigClients: 100, profileMessages: 20_000 },
  quick: { messages: 2_000, maxEntries: 1_000_000, lookups: 20_000, appendEvents: 10_000, queryCalls: 50, latencyMessages: 200, bigClients: 100, profileMessages: 2_000 },
};

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/postfix') || !existsSync('/usr/sbin/smtp-source')) {
    process.stderr.write('bench: needs root and Debian\'s postfix package (postfix, smtp-source, smtp-sink); see bench/README.md\n');
    return 1;
  }

  const cleanup = new Cleanup();
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`bench: ${signal} received, cleaning up\n`);
    void cleanup.runAll().then(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  try {
    let results = await runAll(options, cleanup);
    const previousPath = join(RESULTS_DIR, 'latest.json');
    if (options.merge && existsSync(previousPath)) {
      results = mergeResults(JSON.parse(readFileSync(previousPath, 'utf8')) as BenchResults, results);
    }
    mkdirSync(RESULTS_DIR, { recursive: true });
    const markdown = renderMarkdown(results);
    writeFileSync(join(RESULTS_DIR, 'latest.md'), `${markdown}\n`);
    writeFileSync(previousPath, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`\n${markdown}\n`);
    if (results.complete) {
      updateReadme(markdown);
      process.stdout.write('\nbench: results written to bench/results/latest.md, latest.json and bench/README.md\n');
    } else {
      process.stdout.write('\nbench: results written to bench/results/latest.md and latest.json; bench/README.md keeps the last full run\n');
    }
    return results.failures.length > 0 ? 1 : 0;
  } finally {
    await cleanup.runAll();
  }
}

async function runAll(options: BenchOptions, cleanup: Cleanup): Promise<BenchResults> {
  const mode = options.quick ? MODES.quick : MODES.full;
  const messages = options.messages ?? mode.messages;
  const maxEntries = options.maxEntries ?? mode.maxEntries;
  const selected = (name: string): boolean => scenarioSelected(name, options.scenarios);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const command = ['node --import tsx bench/run.ts', ...process.argv.slice(2)].join(' ');

  const results: BenchResults = {
    date: new Date().toISOString(),
    command,
    quick: options.quick,
    complete: !options.quick && options.scenarios.length === 0,
    machine: await readMachineInfo(),
    relayForm: '',
    messagesPerRun: messages,
    runs: options.runs,
    load: [],
    latency: null,
    suppressions: null,
    events: null,
    bigMessages: null,
    profile: null,
    profiles: null,
    recording: null,
    recordings: null,
    failures: [],
  };
  const section = async (name: string, body: () => Promise<void>): Promise<void> => {
    log(`bench: ${name}`);
    try {
      await body();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`bench: ${name} failed: ${message}`);
      results.failures.push({ section: name, error: message });
    }
  };

  results.source = await describeSource();
  const entry = await prepareRelayEntry(cleanup);
  results.relayForm = entry.description;
  // Every sink of the run listens on this port, one at a time, so Postfix's relayhost stays valid.
  const sinkPort = await freePort();
  const loads = loadScenarios(options.quick).filter((scenario) => selected(scenario.name));
  let postfix: PostfixRelay | null = null;
  if (loads.length > 0 || selected('latency') || selected('recording')) {
    postfix = await startPostfixRelay(cleanup, sinkPort);
  }

  for (const scenario of loads) {
    await section(scenario.name, async () => {
      if (!postfix) {
        throw new Error('Postfix is not running');
      }
      results.load.push(
        await runLoadScenario({ cleanup, sinkPort, postfix, entry, quick: options.quick, messages, runs: options.runs, log }, scenario),
      );
    });
  }

  if (selected('latency')) {
    await section('latency', async () => {
      if (!postfix) {
        throw new Error('Postfix is not running');
      }
      results.latency = await runLatency({ cleanup, sinkPort, postfix, entry, messages: mode.latencyMessages });
    });
  }
  if (selected('recording')) {
    await section('recording', async () => {
      if (!postfix) {
        throw new Error('Postfix is not running');
      }
      const recordings: RecordingCost[] = [];
      for (const name of RECORDING_SCENARIOS) {
        const scenario = loadScenarios(options.quick).find((item) => item.name === name);
        if (!scenario) {
          throw new Error(`${name} is not a load scenario of this mode`);
        }
        recordings.push(await runRecordingCost({ cleanup, sinkPort, postfix, entry, quick: options.quick, messages, runs: options.runs, log }, scenario));
      }
      results.recordings = recordings;
    });
  }
  if (postfix) {
    await postfix.stop();
  }

  if (selected('profile')) {
    await section('profile', async () => {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const profiles = [];
      for (const shape of PROFILE_SHAPES) {
        log(`bench: profile of ${shape.name}`);
        profiles.push(await runProfile(cleanup, { entry, sinkPort, messages: Math.min(messages, mode.profileMessages), keepDir: RESULTS_DIR, shape }));
      }
      results.profiles = profiles;
    });
  }
  if (selected('big-messages')) {
    await section('big-messages', async () => {
      results.bigMessages = await runBigMessages(cleanup, { entry, sinkPort, clients: mode.bigClients });
    });
  }
  if (selected('suppression')) {
    await section('suppression', async () => {
      results.suppressions = await runSuppressions(cleanup, [Math.max(1, Math.floor(maxEntries / 10)), maxEntries], mode.lookups, log);
    });
  }
  if (selected('events')) {
    await section('events', async () => {
      results.events = await runEvents(
        cleanup,
        { sizes: [Math.max(1, Math.floor(maxEntries / 10)), maxEntries], appendEvents: mode.appendEvents, queryCalls: mode.queryCalls },
        log,
      );
    });
  }
  return results;
}

function updateReadme(markdown: string): void {
  const block = `${README_START}\n${markdown}\n${README_END}`;
  const text = existsSync(README) ? readFileSync(README, 'utf8') : '';
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start >= 0 && end > start) {
    writeFileSync(README, `${text.slice(0, start)}${block}${text.slice(end + README_END.length)}`);
    return;
  }
  writeFileSync(README, `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}\n## Latest results\n\n${block}\n`);
}

process.exitCode = await main();
